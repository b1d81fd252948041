"""The web layer: blueprints (each a package, its templates in ``templates/<name>/``),
view models, error pages, words for the core's outcomes, security headers,
sessions and languages. It reads storage and asks the core; it never calls TikTok
except for the code exchange inside ``/callback``."""

from __future__ import annotations

from . import errors, i18n, security
from .auth import bp as auth_bp
from .exports import bp as exports_bp
from .pages import bp as pages_bp
from .research import bp as research_bp
from .review import bp as review_bp
from .sessions import DatabaseSessionInterface


def init_app(app) -> None:
    app.session_interface = DatabaseSessionInterface(lambda a: a.extensions["core"].store)
    security.init_app(app)
    i18n.init_app(app)
    for blueprint in (auth_bp, pages_bp, exports_bp, review_bp, research_bp):
        app.register_blueprint(blueprint)
    errors.init_app(app)
