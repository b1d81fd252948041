"""The web layer: blueprints (each a package, its templates in ``templates/<name>/``),
view models, error pages, words for the core's outcomes, security headers,
sessions and languages. It reads storage and asks the core; it never calls TikTok
except for the code exchange inside ``/callback``."""

from __future__ import annotations

from functools import partial

from . import alerts, compression, errors, i18n, reports, security, settings
from .auth import bp as auth_bp
from .compare import bp as compare_bp
from .exports import bp as exports_bp
from .pages import bp as pages_bp
from .pages import page_cache
from .pages.viewmodels import prerender
from .research import bp as research_bp
from .review import bp as review_bp
from .sessions import DatabaseSessionInterface
from .sharing import bp as sharing_bp
from .studio_import import bp as studio_import_bp
from .webhooks import bp as webhooks_bp


def init_app(app) -> None:
    app.session_interface = DatabaseSessionInterface(lambda a: a.extensions["core"].store)
    security.init_app(app)
    compression.init_app(app)
    i18n.init_app(app)
    for blueprint in (auth_bp, pages_bp, exports_bp, review_bp, webhooks_bp, settings.bp,
                      research_bp, studio_import_bp, sharing_bp, compare_bp):
        app.register_blueprint(blueprint)
    alerts.init_app(app)
    reports.init_app(app)
    errors.init_app(app)
    page_cache.init_app(app)
    if app.config.get("PRERENDER_PAGES", True):
        app.extensions["core"].after_sync.append(partial(prerender, app))
