"""The TikTok analytics dashboard: ``create_app()`` wires every part.

``flask run`` finds the factory here; production runs
``gunicorn "app:create_app()"``. Nothing happens at import.
"""

from __future__ import annotations

import logging
import os

from flask import Flask
from jinja2 import StrictUndefined
from werkzeug.middleware.proxy_fix import ProxyFix

import config as settings
import dashboard.errors
import dashboard.i18n
import dashboard.security
import dashboard.store
from dashboard.logging_filters import install_redaction
from dashboard.sessions import DatabaseSessionInterface


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.jinja_env.undefined = StrictUndefined
    configure(app, test_config)
    dashboard.store.init_app(app)
    app.session_interface = DatabaseSessionInterface(lambda a: a.extensions["store"])
    dashboard.security.init_app(app)
    dashboard.i18n.init_app(app)
    register_blueprints(app)
    dashboard.errors.init_app(app)
    register_cli(app)
    if app.config["SANDBOX_MODE"]:
        from dashboard import sandbox_runtime

        sandbox_runtime.mount(app)
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    from dashboard.scheduler import start_if_configured

    start_if_configured(app)
    return app


def configure(app: Flask, test_config: dict | None) -> None:
    """Settings from the environment, then the test dict; refuse unsafe ones."""
    config = settings.load_config()
    config["DEBUG"] = app.debug or os.environ.get("FLASK_DEBUG", "") in {"1", "true"}
    if test_config:
        config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    settings.finalize(config, app.instance_path)
    settings.validate(config)
    app.config.update(config)
    install_redaction(app.config)
    logging.getLogger(__name__).info(
        "starting in %s mode", "sandbox" if app.config["SANDBOX_MODE"] else "live"
    )


def register_blueprints(app: Flask) -> None:
    import oauth_handler
    from dashboard import exports, review, views

    app.register_blueprint(oauth_handler.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(review.bp)


def register_cli(app: Flask) -> None:
    from dashboard import cli

    cli.init_app(app)
