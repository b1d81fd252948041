"""The app-review kit: privacy policy, terms, the scopes and why, a setup check.

TikTok's review asks for visible privacy and terms pages, an explanation of
every scope and a working redirect URI; ``/setup`` checks the settings a
reviewer's demo depends on, without ever showing a secret.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import text

from config import is_loopback_host, is_loopback_uri, problems

from ..context import get_store

bp = Blueprint("review", __name__)


def scope_reasons() -> dict:
    return {
        "user.info.basic": _("Your display name and avatar, to show whose dashboard this is."),
        "user.info.profile": _(
            "Your @username, bio, profile link and verified badge, for the profile card."),
        "user.info.stats": _("Follower, following, like and video counts, to chart their growth over time."),
        "video.list": _(
            "Your public videos and their view, like, comment and share counts, "
            "for the video table and analytics."),
    }


@bp.get("/privacy")
def privacy():
    return render_template("review/privacy.html")


@bp.get("/terms")
def terms():
    return render_template("review/terms.html")


def setup_checks() -> list[dict]:
    cfg = current_app.config
    redirect = cfg.get("TIKTOK_REDIRECT_URI") or url_for("auth.callback", _external=True)
    checks = [
        {"name": _("Mode"), "ok": True,
         "detail": _("Sandbox (built-in demo)") if cfg["SANDBOX_MODE"] else _("Live TikTok")},
        {"name": "TIKTOK_CLIENT_KEY", "ok": bool(cfg.get("TIKTOK_CLIENT_KEY")) or cfg["SANDBOX_MODE"],
         "detail": _("set") if cfg.get("TIKTOK_CLIENT_KEY") else _("not set (sandbox mode)")},
        {"name": "TIKTOK_CLIENT_SECRET", "ok": bool(cfg.get("TIKTOK_CLIENT_SECRET")),
         "detail": _("set") if cfg.get("TIKTOK_CLIENT_SECRET") else _("missing")},
        {"name": "TIKTOK_REDIRECT_URI", "ok": redirect.startswith("https://") or is_loopback_uri(redirect),
         "detail": redirect + " — " + (_("desktop app (loopback, PKCE)") if is_loopback_uri(redirect)
                                       else _("web app (https)"))},
        {"name": "TIKTOK_SCOPES", "ok": True, "detail": cfg["TIKTOK_SCOPES"]},
        _cookie_check(cfg, redirect),
        {"name": "TRUSTED_HOSTS", "ok": True,
         "detail": ", ".join(cfg["TRUSTED_HOSTS"]) if cfg.get("TRUSTED_HOSTS") else _("any host")},
    ]
    found = problems(cfg)
    checks.append({"name": _("Unsafe settings"), "ok": not found,
                   "detail": "; ".join(found) if found else _("none")})
    try:
        with get_store().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks.append({"name": _("Database"), "ok": True,
                       "detail": get_store().engine.dialect.name})
    except Exception:  # any failure to reach the database is what this check reports
        checks.append({"name": _("Database"), "ok": False, "detail": _("cannot connect")})
    return checks


def _cookie_check(cfg, redirect: str) -> dict:
    """Whether the session cookie is ``Secure``: it must be when the site is https."""
    secure = bool(cfg.get("SESSION_COOKIE_SECURE"))
    return {"name": "SESSION_COOKIE_SECURE", "ok": secure or not redirect.startswith("https://"),
            "detail": _("Secure (https only)") if secure
            else _("not Secure (the cookie also travels over plain http)")}


def may_see_details() -> bool:
    """The settings are for whoever runs the dashboard: a logged-in person, or a
    browser on the server itself. A request relayed by a proxy on this machine
    comes from loopback too, so without ``TRUSTED_PROXIES`` one carrying
    ``X-Forwarded-For`` counts as a stranger."""
    if session.get("person_id"):
        return True
    if not current_app.config.get("TRUSTED_PROXIES") and (
            "X-Forwarded-For" in request.headers or "Forwarded" in request.headers):
        return False
    return is_loopback_host(request.remote_addr or "")


@bp.get("/setup")
def setup():
    checks = setup_checks()
    if not may_see_details():
        return render_template("review/setup.html", checks=None, ok=all(c["ok"] for c in checks))
    return render_template("review/setup.html", checks=checks, ok=all(c["ok"] for c in checks),
                           reasons=scope_reasons(), scopes=current_app.config["TIKTOK_SCOPES"].split(","))
