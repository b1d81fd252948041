"""How the sandbox answers: TikTok's envelopes, log ids, and the request pipeline.

Every endpoint view is wrapped by :func:`endpoint`, which counts the call,
applies the configured delay, injects scripted or random faults, enforces the
per-endpoint rate limit, and stamps a ``log_id``.
"""

from __future__ import annotations

import functools
import json
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, render_template, request

from .state import DATA_ENDPOINTS, Fault, SandboxState

API, OAUTH, HTML = "api", "oauth", "html"

#: RFC 6749 statuses, used when ``settings.oauth_error_status`` is None.
_OAUTH_STATUS = {"invalid_client": 401}

_API_MESSAGES = {
    "access_token_invalid": "Access token is invalid, please refresh token and retry.",
    "scope_not_authorized": "The user did not authorize the scope required for completing this request.",
    "scope_permission_missed": "Access token is invalid, some fields need additional scopes.",
    "rate_limit_exceeded": "The API rate limit was exceeded. Please try again later.",
    "internal_error": "Something went wrong. Please try again later.",
}
_API_STATUS = {
    "access_token_invalid": 401,
    "scope_not_authorized": 401,
    "scope_permission_missed": 400,
    "invalid_params": 400,
    "rate_limit_exceeded": 429,
    "internal_error": 500,
}


class Sandbox:
    """What the views need: the state and the accounts they may serve."""

    def __init__(self, state: SandboxState, accounts: dict):
        self.state = state
        self.accounts = accounts


def sandbox() -> Sandbox:
    return current_app.extensions["tiktok_sandbox"]


def new_log_id(t: float) -> str:
    """34 characters like TikTok's: a UTC timestamp then 20 hex digits."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(t)) + secrets.token_hex(10).upper()


def log_id() -> str:
    if "log_id" not in g:
        g.log_id = new_log_id(sandbox().state.clock.now())
    return g.log_id


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")
    response.headers.update(headers or {})
    return response


def api_ok(data: dict) -> Response:
    """``{"data": ..., "error": {"code": "ok", ...}}`` with HTTP 200."""
    return json_response({"data": data, "error": {"code": "ok", "message": "", "log_id": log_id()}})


def api_error(
    code: str, message: str | None = None, *, status: int | None = None, headers: dict | None = None
) -> Response:
    body = {
        "data": {},
        "error": {"code": code, "message": message or _API_MESSAGES.get(code, code), "log_id": log_id()},
    }
    return json_response(body, status or _API_STATUS.get(code, 400), headers)


def oauth_error(error: str, description: str, *, status: int | None = None) -> Response:
    """``{"error", "error_description", "log_id"}``; HTTP 200 unless configured."""
    if status is None:
        configured = sandbox().state.settings.oauth_error_status
        status = configured if configured is not None else _OAUTH_STATUS.get(error, 400)
    body = {"error": error, "error_description": description, "log_id": log_id()}
    return json_response(body, status, {"Cache-Control": "no-store", "Pragma": "no-cache"})


def html_page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(render_template(template, **context), status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(field: str, status: int = 400, detail: str = "") -> Response:
    """TikTok's "Something went wrong" page naming the parameter to correct."""
    return html_page("sandbox/error.html", status, field=field, detail=detail, log_id=log_id())


# --------------------------------------------------------------------------- faults


def _fault_response(fault: Fault, style: str) -> Response | None:
    """The response a fault produces, or None when the request should go on."""
    state = sandbox().state
    kind = fault.kind
    if kind in ("slow", "timeout"):
        default = state.settings.slow_seconds if kind == "slow" else state.settings.timeout_seconds
        state.sleep(fault.seconds if fault.seconds is not None else default)
        return None
    if kind in ("truncated", "hide_video", "expire_search"):
        g.fault = kind
        return None
    if kind == "reset":
        request.get_data()  # drain the body so the server does not read it as a next request
        request.environ["sandbox.reset"] = True
        return Response(status=500)
    if kind == "malformed":
        return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", 200, mimetype="text/html")
    if kind.startswith("429"):
        retry = fault.seconds if fault.seconds is not None else state.settings.retry_after
        headers = {} if kind == "429-no-retry-after" else {"Retry-After": str(int(retry))}
        return _status_response(style, 429, headers)
    if kind == "expire_token":
        if style == OAUTH:
            return oauth_error("invalid_grant", "The refresh token or authorization code is expired.")
        if style == API:
            return api_error("access_token_invalid")
        return error_page("client_key")
    return _status_response(style, int(kind))


def _status_response(style: str, status: int, headers: dict | None = None) -> Response:
    if style == API:
        code = "rate_limit_exceeded" if status == 429 else "internal_error"
        return api_error(code, status=status, headers=headers)
    if style == OAUTH:
        error = {500: "server_error", 503: "temporarily_unavailable", 429: "temporarily_unavailable"}[status]
        response = oauth_error(error, f"Injected sandbox fault (HTTP {status}).", status=status)
        response.headers.update(headers or {})
        return response
    response = error_page("", status, f"HTTP {status}")
    response.headers.update(headers or {})
    return response


def _truncate(response: Response) -> Response:
    body = response.get_data()
    response.set_data(body[: max(1, len(body) // 2)])
    return response


# --------------------------------------------------------------------------- pipeline


def endpoint(name: str, style: str) -> Callable:
    """Wrap a view with call counting, delay, faults and rate limiting."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            state = sandbox().state
            state.count_call(name)
            g.fault = None
            state.sleep(state.fault_delay())
            fault = state.next_fault(name)
            if fault is not None:
                early = _fault_response(fault, style)
                if early is not None:
                    return early
            if name in DATA_ENDPOINTS:
                retry = state.hit_rate_limit(name)
                if retry is not None:
                    return api_error("rate_limit_exceeded", headers={"Retry-After": str(retry)})
            response = current_app.make_response(view(*args, **kwargs))
            return _truncate(response) if g.fault == "truncated" else response

        return wrapper

    return decorate


class ConnectionDropper:
    """WSGI middleware that turns a ``reset`` fault into a dropped connection.

    It shuts the client socket (werkzeug's or gunicorn's) and raises
    ``ConnectionResetError``, which werkzeug's server treats as a dropped
    connection and the Flask test client surfaces to the test.
    """

    def __init__(self, wsgi_app: Callable):
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable):
        captured: list = []

        def defer(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured[:] = [status, headers, exc_info]
            return lambda data: None

        body = self.wsgi_app(environ, defer)
        if environ.get("sandbox.reset"):
            if hasattr(body, "close"):
                body.close()
            sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            raise ConnectionResetError("sandbox fault: connection reset")
        start_response(*captured)
        return body


def install(app: Flask) -> None:
    """Stamp every response with TikTok's log-id header."""

    @app.after_request
    def stamp(response: Response) -> Response:
        response.headers.setdefault("X-Tt-Logid", log_id())
        return response
