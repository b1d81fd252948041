"""The sandbox's own Flask app: a local, strict stand-in for TikTok's v2 API.

Mount it anywhere (``DispatcherMiddleware`` under ``/sandbox``, or its own
port): every URL it builds goes through ``url_for`` and so honours SCRIPT_NAME.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from werkzeug.routing import RequestRedirect

from . import api, media, oauth, research, wire
from .data import ACCOUNTS, Account
from .state import SandboxState
from .wire import ConnectionDropper, Sandbox

_HTML_CSP = "default-src 'none'; style-src 'self'; img-src {img}; base-uri 'none'; frame-ancestors 'none'"


def create_sandbox_app(
    state: SandboxState | None = None,
    *,
    control: bool = False,
    accounts: Mapping[str, Account] | None = None,
) -> Flask:
    """Build the sandbox app around ``state`` (a fresh in-memory one by default).

    ``control=True`` adds ``/_control`` for driving the sandbox from another
    process; ``accounts`` replaces the built-in accounts (e.g. smaller ones).
    """
    app = Flask(
        __name__, template_folder="templates", static_folder="static", static_url_path="/_static/assets"
    )
    app.extensions["tiktok_sandbox"] = Sandbox(state or SandboxState(), dict(accounts or ACCOUNTS))
    wire.install(app)
    oauth.register(app)
    api.register(app)
    research.register(app)
    media.register(app)
    _refuse_slash_redirects(app)
    _secure_pages(app)
    if control:
        app.add_url_rule("/_control", "control", _control, methods=["GET", "POST"])
    app.wsgi_app = ConnectionDropper(app.wsgi_app)
    return app


def sandbox_state(app: Flask) -> SandboxState:
    """The state behind a sandbox app."""
    return app.extensions["tiktok_sandbox"].state


def _refuse_slash_redirects(app: Flask) -> None:
    """TikTok's paths end in ``/``; a path without it is a 404, not a redirect."""

    @app.before_request
    def no_redirect() -> None:
        if isinstance(request.routing_exception, RequestRedirect):
            abort(404)


def _secure_pages(app: Flask) -> None:
    """A strict CSP for the HTML pages: no inline script or style at all."""

    @app.after_request
    def headers(response: Response) -> Response:
        if response.mimetype == "text/html":
            media_base = wire.sandbox().state.settings.media_base_url or ""
            external = media_base if media_base.startswith(("http://", "https://")) else ""
            img = f"'self' {external}".strip()
            response.headers.setdefault("Content-Security-Policy", _HTML_CSP.format(img=img))
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


# --------------------------------------------------------------------------- /_control


def _control() -> Response | tuple[Response, int]:
    state = wire.sandbox().state
    if request.method == "POST":
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(error="expected a JSON object"), 400
        try:
            apply_control(state, body)
        except (ValueError, TypeError, KeyError) as exc:
            return jsonify(error=str(exc)), 400
    return jsonify(state.snapshot())


def apply_control(state: SandboxState, body: Mapping[str, Any]) -> None:
    """Apply a ``/_control`` command (see the README table in ``sandbox/__init__``)."""
    if body.get("reset"):
        state.reset()
    if "clock" in body:
        _control_clock(state, body["clock"])
    if "settings" in body:
        state.configure(**body["settings"])
    if "lifetimes" in body:
        lifetimes = body["lifetimes"]
        state.configure(
            **{
                "access_token_ttl": lifetimes.get(
                    "access", lifetimes.get("access_token_ttl", state.settings.access_token_ttl)
                ),
                "refresh_token_ttl": lifetimes.get(
                    "refresh", lifetimes.get("refresh_token_ttl", state.settings.refresh_token_ttl)
                ),
            }
        )
    if "faults" in body:
        _control_faults(state, body["faults"])
    for key in ("extra_clients",):
        for client_key, secret in body.get(key, {}).items():
            state.extra_clients[client_key] = secret
    actions = {
        "expire_access_tokens": state.expire_access_tokens,
        "revoke_refresh_tokens": state.revoke_refresh_tokens,
        "expire_refresh_tokens": state.expire_refresh_tokens,
        "reset_calls": state.reset_calls,
        "reset_rate_limits": state.reset_rate_limits,
    }
    for key, action in actions.items():
        if body.get(key):
            action()


def _control_clock(state: SandboxState, clock: Any) -> None:
    if isinstance(clock, int | float) and not isinstance(clock, bool):
        state.clock.set(clock)
    elif "set" in clock:
        state.clock.set(float(clock["set"]))
    elif "advance" in clock:
        state.clock.advance(float(clock["advance"]))
    elif clock.get("freeze"):
        state.clock.freeze()
    elif clock.get("reset"):
        state.clock.reset()
    else:
        raise ValueError("clock: expected a number or one of set/advance/freeze/reset")


def _control_faults(state: SandboxState, faults: Mapping[str, Any]) -> None:
    if faults.get("clear"):
        state.clear_faults()
    random_keys = {"fail_rate", "seed", "kinds", "endpoints", "delay"}
    settings = {**faults.get("set", {}), **{k: v for k, v in faults.items() if k in random_keys}}
    if settings:
        state.set_faults(**settings)
    for item in faults.get("queue", []):
        state.queue_fault(
            item["endpoint"], item["kind"], seconds=item.get("seconds"), times=item.get("times", 1)
        )
