"""Sandbox mode: the built-in TikTok stand-in, served twice from one state.

The browser meets the sandbox's consent page under ``/sandbox`` on the
dashboard's own host (mounted with ``DispatcherMiddleware``). The dashboard's
API client meets it over real HTTP on a loopback port of its own, started on
first use in a daemon thread, so the client takes exactly the path it takes
to TikTok. Both read one :class:`sandbox.SandboxState` backed by an SQLite
file, so every worker process sees the same codes and tokens.
"""

from __future__ import annotations

import threading

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import WSGIRequestHandler, make_server

from config import SANDBOX_PREFIX
from sandbox import SandboxState, create_sandbox_app

_lock = threading.Lock()


class _QuietHandler(WSGIRequestHandler):
    """The loopback API server's requests are the app's own; not worth a log line each."""

    def log_request(self, *args, **kwargs):
        pass


def sandbox_state(app):
    """The app's sandbox state, made on first use."""
    with _lock:
        state = app.extensions.get("sandbox_state")
        if state is None:
            state = SandboxState(app.config["SANDBOX_DB"])
            app.extensions["sandbox_state"] = state
        return state


def sandbox_wsgi(app):
    with _lock:
        wsgi = app.extensions.get("sandbox_wsgi")
    if wsgi is None:
        wsgi = create_sandbox_app(sandbox_state(app))
        with _lock:
            wsgi = app.extensions.setdefault("sandbox_wsgi", wsgi)
    return wsgi


def sandbox_api_base(app) -> str:
    """URL of the loopback sandbox server, started once per process."""
    with _lock:
        base = app.extensions.get("sandbox_api_base")
    if base:
        return base
    wsgi = sandbox_wsgi(app)
    with _lock:
        base = app.extensions.get("sandbox_api_base")
        if base:
            return base
        server = make_server("127.0.0.1", 0, wsgi, threaded=True, request_handler=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, name="sandbox-api", daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        app.extensions["sandbox_server"] = server
        app.extensions["sandbox_api_base"] = base
        return base


def mount(app) -> None:
    """Serve the sandbox (consent page, pictures) under ``/sandbox``."""
    inner = app.wsgi_app

    class _LazySandbox:
        def __call__(self, environ, start_response):
            return sandbox_wsgi(app)(environ, start_response)

    app.wsgi_app = DispatcherMiddleware(inner, {SANDBOX_PREFIX: _LazySandbox()})
