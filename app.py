"""The TikTok analytics dashboard: ``create_app()`` wires every part.

``flask run`` finds the factory here; production runs
``gunicorn "app:create_app()"`` beside ``flask worker``. Nothing happens at
import. The layers, one way (checked by import-linter in the test suite):
entry points (this file, ``dashboard.commands``) → web (``dashboard.web``) →
core (``dashboard.core``, ``oauth_handler``) → storage (``dashboard.storage``)
and the TikTok client (``tiktok_official_api``).
"""

from __future__ import annotations

import logging
import os

import click
from flask import Flask
from jinja2 import StrictUndefined
from werkzeug.middleware.proxy_fix import ProxyFix

import config as settings
from dashboard import commands, sandbox_runtime, web
from dashboard.core.budget import TikTokBudget
from dashboard.core.context import Core, CoreSettings
from dashboard.core.jobs import Jobs, build_queue, start_in_process
from dashboard.core.mail import Mailer
from dashboard.core.media import MediaFiles
from dashboard.core.research import Research, ResearchSettings
from dashboard.core.research_jobs import ResearchJobs
from dashboard.logging_filters import install_redaction
from dashboard.storage import TokenCipher, open_store
from oauth_handler import Provider
from tiktok_research_api import ResearchClient


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.jinja_env.undefined = StrictUndefined
    configure(app, test_config)
    build_core(app)
    build_research(app)
    web.init_app(app)
    commands.init_app(app)
    if app.config["SANDBOX_MODE"]:
        sandbox_runtime.mount(app)
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    start_worker_if_configured(app)
    return app


def configure(app: Flask, test_config: dict | None) -> None:
    """Settings from the environment, then the test dict; refuse unsafe ones."""
    app.config.update(checked_settings(app, test_config))
    install_redaction(app.config)
    logging.getLogger(__name__).info(
        "starting in %s mode", "sandbox" if app.config["SANDBOX_MODE"] else "live"
    )


def checked_settings(app: Flask, test_config: dict | None) -> dict:
    """Every setting, finalized and validated (:class:`config.ConfigError` names
    each one to fix)."""
    config = settings.load_config()
    config["DEBUG"] = app.debug or os.environ.get("FLASK_DEBUG", "") in {"1", "true"}
    if test_config:
        config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    settings.finalize(config, app.instance_path)
    settings.validate(config)
    return config


def check_settings() -> None:
    """Validate the settings without building the app: gunicorn's master calls
    it (``gunicorn.conf.py``) so a refusal is one message, not a worker's traceback."""
    checked_settings(Flask(__name__, instance_relative_config=True), None)


def build_core(app: Flask) -> None:
    """Storage, the provider, the shared TikTok budget and the job queue."""
    cfg = app.config
    store = open_store(cfg["DATABASE_URL"], TokenCipher.from_config(cfg),
                       migrate=cfg.get("AUTO_MIGRATE", True), lock_dir=app.instance_path)
    budget = TikTokBudget(cfg["TIKTOK_RATE_LIMIT"], storage_uri=cfg.get("REDIS_URL") or "memory://")
    provider = Provider(
        client_key=cfg["TIKTOK_CLIENT_KEY_EFFECTIVE"], client_secret=cfg["TIKTOK_CLIENT_SECRET"],
        scopes=cfg["TIKTOK_SCOPES"], api_base=lambda: api_base(app),
        timeout=(5, cfg["TIKTOK_TIMEOUT"]), throttle=budget)
    core = Core(store, provider, MediaFiles(cfg["MEDIA_PATH"]), budget, CoreSettings(
        sync_lease_seconds=cfg["SYNC_LEASE_SECONDS"], sync_interval_minutes=cfg["SYNC_INTERVAL_MINUTES"],
        store_pictures=cfg["STORE_PICTURES"], session_idle_minutes=cfg["SESSION_IDLE_MINUTES"],
        session_absolute_hours=cfg["SESSION_ABSOLUTE_HOURS"],
        webhooks_allow_private=cfg["WEBHOOKS_ALLOW_PRIVATE_HOSTS"],
        webhook_timeout=cfg["WEBHOOK_TIMEOUT"], public_base_url=cfg["PUBLIC_BASE_URL"]))
    app.extensions["core"] = core
    app.extensions["jobs"] = Jobs(lambda: build_queue(
        redis_url=cfg.get("REDIS_URL"), queue_path=cfg["QUEUE_PATH"],
        immediate=cfg.get("QUEUE_IMMEDIATE", False)), core,
        Mailer(cfg.get("SMTP_URL"), cfg.get("MAIL_FROM")))


def build_research(app: Flask) -> None:
    """The Research API explorer: its client (built on first use), quotas and worker tasks."""
    cfg, core = app.config, app.extensions["core"]
    key, secret = cfg["RESEARCH_CLIENT_KEY_EFFECTIVE"], cfg["RESEARCH_CLIENT_SECRET_EFFECTIVE"]
    settings = ResearchSettings(
        client_key=key, client_secret=secret, daily_requests=cfg["RESEARCH_DAILY_REQUESTS"],
        daily_records=cfg["RESEARCH_DAILY_RECORDS"], daily_follow_calls=cfg["RESEARCH_DAILY_FOLLOW_CALLS"])
    research = Research(core.store, lambda: ResearchClient(
        client_key=key, client_secret=secret, base_url=api_base(app),
        timeout=(5, cfg["TIKTOK_TIMEOUT"]), throttle=core.budget), settings)
    app.extensions["research"] = research
    app.extensions["research_jobs"] = ResearchJobs(app.extensions["jobs"], research)


def api_base(app: Flask) -> str:
    """TikTok's API base; in sandbox mode the sandbox's loopback server, started on first use."""
    if app.config["SANDBOX_MODE"] and not app.config.get("TIKTOK_API_BASE"):
        return sandbox_runtime.sandbox_api_base(app)
    return app.config["TIKTOK_API_BASE"]


def start_worker_if_configured(app: Flask) -> None:
    """With ``WORKER_IN_PROCESS`` (the default without ``REDIS_URL``), the server
    runs the queue's consumer too, so ``flask run`` alone shows everything.
    Other commands (``flask sync``, ``flask worker``, ...) and tests do not."""
    if not app.config["WORKER_IN_PROCESS"] or app.config.get("TESTING"):
        return
    context = click.get_current_context(silent=True)
    if context is not None and context.info_name != "run":
        return
    if context is not None and os.environ.get("WERKZEUG_RUN_MAIN") != "true" and (
            context.params.get("reload") or app.debug):
        return  # the reloader's watcher process: its child serves, and consumes
    jobs = app.extensions["jobs"]
    app.extensions["consumer"] = start_in_process(jobs.huey, app.config["WORKER_THREADS"])
