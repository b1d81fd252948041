"""A bare Flask app with one route: the yardstick ``bench/load.py`` runs under
the same gunicorn settings as the dashboard, so the dashboard's throughput can
be given as a share of what Flask and gunicorn alone manage on this machine."""

from flask import Flask

PAGE = "<!doctype html><html lang=en><title>bare</title><p>A bare Flask route.</p></html>"


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def index():
        return PAGE

    return app
