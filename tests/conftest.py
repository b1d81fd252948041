"""Shared fixtures: the app on a temporary database, a sandbox on loopback,
and a helper that logs in through the real OAuth flow.

The database is SQLite in a temporary folder, or, when ``TEST_DATABASE_URL``
is set (``.ci/run`` sets it for its PostgreSQL pass), that server, emptied
after each test.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests
from sqlalchemy import create_engine, make_url, text
from werkzeug.serving import make_server

from app import create_app
from config import normalize_database_url
from dashboard.storage.models import Base
from sandbox import SandboxState, create_sandbox_app

SECRET = "test-secret-key-" + "x" * 40


class FormParser(HTMLParser):
    """Collects the first form's action and its named inputs."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.fields: dict[str, list[str]] = {}
        self.checkboxes: list[str] = []
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attrs.get("action", "")
            self._in_form = True
        elif tag == "input" and self._in_form and attrs.get("name"):
            kind = attrs.get("type", "text")
            if kind in {"checkbox", "radio"} and "checked" not in attrs:
                return
            self.fields.setdefault(attrs["name"], []).append(attrs.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False


class LiveServer:
    """A WSGI app served on 127.0.0.1 in a thread, for real HTTP."""

    def __init__(self, wsgi_app):
        self.server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # A short poll interval: shutdown() waits up to one interval, and the
        # default half second made every test's teardown half a second long.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sandbox_state(tmp_path):
    state = SandboxState(tmp_path / "sandbox.sqlite3")
    yield state
    state.close()


@pytest.fixture
def sandbox_server(sandbox_state):
    server = LiveServer(create_sandbox_app(sandbox_state))
    yield server
    server.stop()


def _database_url(tmp_path) -> str:
    """SQLite in the test's folder, or the PostgreSQL of ``TEST_DATABASE_URL``: a
    database of its own per pytest-xdist worker, made on first use."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'dashboard.sqlite3'}"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return _worker_database(url, worker) if worker else url


@functools.cache
def _worker_database(url: str, worker: str) -> str:
    base = make_url(normalize_database_url(url))
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if not connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _empty_database(app) -> None:
    engine = app.extensions["core"].store.engine
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


def api_calls(state) -> dict[str, int]:
    """The sandbox's API calls by endpoint, without picture downloads (not API calls)."""
    return {k: v for k, v in state.calls.items() if k != "media"}


#: Sandbox picture URLs live this long in the dashboard's tests: the tests move
#: the sandbox's clock to fixed dates, which would make every URL look expired
#: to the worker. The tests of expiry set a short lifetime themselves.
TEST_MEDIA_URL_TTL = 20 * 365 * 86400


@pytest.fixture
def make_app(tmp_path, sandbox_server, sandbox_state):
    """Build apps against the loopback sandbox; extra settings on top."""
    made = []
    sandbox_state.settings.update(media_url_ttl=TEST_MEDIA_URL_TTL)

    def build(**overrides):
        settings = {
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "DATABASE_URL": _database_url(tmp_path),
            "TIKTOK_CLIENT_KEY": None,
            "TIKTOK_AUTH_URL": sandbox_server.url + "/v2/auth/authorize/",
            "TIKTOK_API_BASE": sandbox_server.url,
            "SANDBOX_DB": str(tmp_path / "sandbox.sqlite3"),
            "AUTH_RATE_LIMIT": "1000 per minute",
            "SERVER_NAME": "localhost:5000",
            # Jobs run as they are queued (Huey's immediate mode); the
            # worker tests run a real consumer instead.
            "QUEUE_IMMEDIATE": True,
            # Tests press "Sync now" many times a minute; its throttle has tests of its own.
            "SYNC_NOW_INTERVAL_SECONDS": 0,
            # Downloading every cover after every sync would triple the suite's
            # time; the tests of pictures turn it on.
            "STORE_PICTURES": False,
            # Rendering both languages after every sync would slow every test
            # that syncs; the tests of pre-rendered pages turn it on.
            "PRERENDER_PAGES": False,
            "QUEUE_PATH": str(tmp_path / "queue.sqlite3"),
            "MEDIA_PATH": str(tmp_path / "media"),
        }
        settings.update(overrides)
        application = create_app(settings)
        made.append(application)
        return application

    yield build
    if made:
        _empty_database(made[0])


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def consent(authorize_url: str, *, account: str = "creator", approve: bool = True,
            untick: tuple[str, ...] = ()) -> str:
    """Play the user on the sandbox consent page; returns the redirect back."""
    page = requests.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text[:500]
    form = FormParser()
    form.feed(page.text)
    data = {k: v for k, v in form.fields.items() if k not in {"account"}}
    data["account"] = [account]
    if untick:
        data["scopes"] = [s for s in data.get("scopes", []) if s not in untick]
    data["action"] = ["authorize" if approve else "deny"]
    action = requests.compat.urljoin(authorize_url, form.action or "")
    answer = requests.post(action, data=data, allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text[:500]
    return answer.headers["Location"]


def login(client, *, account: str = "creator", untick: tuple[str, ...] = (), follow=True):
    """Log in through /auth, the sandbox consent page and /callback."""
    start = client.get("/auth")
    assert start.status_code == 302
    back = consent(start.headers["Location"], account=account, untick=untick)
    parts = urlsplit(back)
    assert parse_qs(parts.query).get("code"), back
    return client.get(parts.path + "?" + parts.query, follow_redirects=follow)


@pytest.fixture
def logged_in(client):
    response = login(client)
    assert response.status_code == 200
    return client


# --- Redis -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _redis_or_skip():
    """The redis package, after checking redis-server is here; skip (or fail under CI)."""
    missing = None if shutil.which("redis-server") else "redis-server is not on PATH"
    if missing and os.environ.get("CI") == "true":
        pytest.fail(f"{missing}: the Redis budget tests must run under CI")
    if missing:
        pytest.skip(missing)
    return redis


def _wait_for_ping(redis, url: str, server: subprocess.Popen, log: Path) -> None:
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        if server.poll() is not None:
            pytest.fail(f"redis-server exited: {log.read_text()[-2000:]}")
        try:
            client.ping()
            client.close()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A throwaway redis-server on a free loopback port (skipped without one, except in CI)."""
    redis = _redis_or_skip()
    workdir = tmp_path_factory.mktemp("redis")
    log = workdir / "redis.log"
    port = _free_port()
    command = [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--dir", str(workdir), "--logfile", str(log),
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_for_ping(redis, url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- a webhook receiver on loopback -----------------------------------------------------------


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers with the
    next of ``answers`` (a status, or ``("hang", seconds)``), then 200."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self
        self.requests: list[dict] = []
        self.answers: list = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                answer = receiver.answers.pop(0) if receiver.answers else 200
                if isinstance(answer, tuple):
                    time.sleep(answer[1])
                    answer = 200
                try:
                    self.send_response(answer)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()
