"""Hardening found by an outside review (issue 12): each test reproduces one
finding and fails without its fix.

Cookies marked Secure behind https, the Host header checked, no session for
anonymous visitors, a /setup that tells strangers only ok or not ok, standard
headers (Allow, no stray Retry-After, one charset), start-up refusals without
a traceback, the sandbox's picture signatures, and `.env.example` as copied.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from dotenv import dotenv_values
from sqlalchemy import func, select

import config
from app import create_app
from config import ConfigError
from dashboard.storage.models import WebSession
from tests.conftest import SECRET, login

ROOT = Path(__file__).resolve().parent.parent
REMOTE = {"REMOTE_ADDR": "203.0.113.9"}

LIVE = {
    "TIKTOK_CLIENT_KEY": "aw-live-client-key",
    "TIKTOK_CLIENT_SECRET": "live-client-secret",
}


def session_rows(app) -> int:
    with app.extensions["core"].store.session() as db:
        return db.scalar(select(func.count()).select_from(WebSession))


def session_cookies(response) -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]


# --- the session cookie's Secure flag ------------------------------------------------------


def test_an_https_redirect_uri_marks_the_session_cookie_secure_even_over_a_plain_hop(make_app):
    app = make_app(**LIVE, TIKTOK_REDIRECT_URI="https://dash.example.com/callback")
    client = app.test_client()
    # A TLS-terminating proxy forwards plain http, and TRUSTED_PROXIES is 0.
    response = client.get("/auth", base_url="http://dash.example.com",
                          headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 302
    (cookie,) = session_cookies(response)
    assert "; Secure" in cookie


def test_setup_reports_whether_the_session_cookie_is_secure(make_app):
    secure = make_app(**LIVE, TIKTOK_REDIRECT_URI="https://dash.example.com/callback")
    page = secure.test_client().get("/setup", base_url="http://dash.example.com").get_data(as_text=True)
    assert "SESSION_COOKIE_SECURE" in page and "Secure (https only)" in page
    plain = make_app(**LIVE, TIKTOK_REDIRECT_URI="http://localhost:5000/callback")
    page = plain.test_client().get("/setup").get_data(as_text=True)
    assert "not Secure" in page


def test_an_https_redirect_uri_derives_secure_cookies_and_refuses_an_explicit_no(tmp_path):
    live = {**LIVE, "SECRET_KEY": "k" * 40, "TIKTOK_SCOPES": config.DEFAULT_SCOPES,
            "TIKTOK_REDIRECT_URI": "https://dash.example.com/callback"}
    derived = config.finalize({**live, "SESSION_COOKIE_SECURE": None}, str(tmp_path))
    assert derived["SESSION_COOKIE_SECURE"] is True and config.problems(derived) == []
    refused = config.finalize({**live, "SESSION_COOKIE_SECURE": False}, str(tmp_path))
    assert any("SESSION_COOKIE_SECURE" in p for p in config.problems(refused))
    loopback = config.finalize({**live, "TIKTOK_REDIRECT_URI": "http://localhost:5000/callback",
                                "SESSION_COOKIE_SECURE": None}, str(tmp_path))
    assert loopback["SESSION_COOKIE_SECURE"] is False


# --- the Host header ------------------------------------------------------------------------


def test_a_forged_host_header_never_becomes_a_redirect(app):
    client = app.test_client()
    response = client.get("/auth", base_url="http://evil.example")
    assert response.status_code == 400
    assert "evil.example" not in response.headers.get("Location", "")
    assert "evil.example" not in response.get_data(as_text=True)


def test_live_mode_sends_tiktok_only_the_configured_redirect_uri(make_app):
    app = make_app(**LIVE, TIKTOK_REDIRECT_URI="https://dash.example.com/callback")
    client = app.test_client()
    assert client.get("/auth", base_url="http://evil.example").status_code == 400
    response = client.get("/auth", base_url="https://dash.example.com")
    assert response.status_code == 302
    sent = parse_qs(urlsplit(response.headers["Location"]).query)
    assert sent["redirect_uri"] == ["https://dash.example.com/callback"]


def test_trusted_hosts_lets_more_names_in(make_app):
    app = make_app(TRUSTED_HOSTS="dash.example.com, .lan.example")
    client = app.test_client()
    assert client.get("/privacy", base_url="http://box.lan.example").status_code == 200
    assert client.get("/privacy", base_url="http://dash.example.com").status_code == 200
    assert client.get("/privacy", base_url="http://localhost").status_code == 400
    anything = make_app(TRUSTED_HOSTS="*").test_client()
    assert anything.get("/privacy", base_url="http://any.example").status_code == 200


def test_live_mode_without_a_redirect_uri_is_refused_at_start_up(tmp_path):
    settings = {**LIVE, "SECRET_KEY": "k" * 40, "TESTING": False,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    with pytest.raises(ConfigError, match="TIKTOK_REDIRECT_URI must be set"):
        create_app(settings)


# --- anonymous visitors get no session --------------------------------------------------------


def test_anonymous_pages_create_no_session_row_or_cookie(app):
    client = app.test_client()
    for _ in range(10):
        for path in ("/", "/privacy", "/terms", "/setup", "/no-such-page", "/videos"):
            for method in (client.get, client.head):
                response = method(path)
                assert not session_cookies(response), (path, response.headers)
    assert session_rows(app) == 0


def test_a_session_starts_with_the_first_thing_to_keep(app):
    client = app.test_client()
    assert client.post("/language", data={"lang": "zh", "next": "/privacy"}).status_code == 302
    assert session_rows(app) == 1
    assert 'lang="zh-CN"' in client.get("/privacy").get_data(as_text=True)
    other = app.test_client()
    assert session_cookies(other.get("/auth")) and session_rows(app) == 2


# --- /setup for strangers ----------------------------------------------------------------------


def test_setup_tells_a_stranger_only_ok_or_not_ok(make_app):
    app = make_app(TIKTOK_REDIRECT_URI="http://localhost:5000/callback")
    page = app.test_client().get("/setup", environ_base=REMOTE).get_data(as_text=True)
    assert "Setup: OK" in page
    for detail in ("localhost:5000/callback", "sqlite", "user.info.stats", "Sandbox (built-in demo)",
                   "TIKTOK_CLIENT_SECRET", "Unsafe settings"):
        assert detail not in page, detail
    behind_proxy = app.test_client().get("/setup", headers={"X-Forwarded-For": "203.0.113.9"})
    assert "sqlite" not in behind_proxy.get_data(as_text=True)


def test_setup_says_not_ok_to_a_stranger_when_something_needs_fixing(make_app):
    app = make_app(TIKTOK_REDIRECT_URI="http://dash.example.com/callback")
    page = app.test_client().get("/setup", base_url="http://dash.example.com",
                                 environ_base=REMOTE).get_data(as_text=True)
    assert "Setup: not OK" in page and "dash.example.com/callback" not in page


def test_setup_shows_the_details_on_this_machine_or_after_login(app):
    here = app.test_client().get("/setup").get_data(as_text=True)
    backend = app.extensions["core"].store.engine.dialect.name  # sqlite, or postgresql in CI
    assert backend in here and "TIKTOK_CLIENT_SECRET" in here
    remote = app.test_client()
    remote.environ_base.update(REMOTE)
    login(remote)
    assert "TIKTOK_CLIENT_SECRET" in remote.get("/setup").get_data(as_text=True)


# --- headers -------------------------------------------------------------------------------------


def test_405_names_the_allowed_methods(app):
    response = app.test_client().get("/logout")
    assert response.status_code == 405
    assert "POST" in response.headers.get("Allow", "")


def test_a_successful_login_start_carries_no_retry_after(app):
    response = app.test_client().get("/auth")
    assert response.status_code == 302
    assert "Retry-After" not in response.headers


def test_csv_exports_name_their_charset_once(logged_in):
    response = logged_in.get("/export/videos.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


# --- start-up refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "flask", "--app", "app", "run", "--no-reload", "--port", "0"],
    [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "-b", "127.0.0.1:0",
     "-w", "1", "app:create_app()"],
], ids=["flask run", "gunicorn"])
def test_refused_settings_print_the_message_without_a_traceback(tmp_path, command):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "TIKTOK_", "SECRET"))}
    env.update(TIKTOK_CLIENT_KEY="aw-live-client-key", TIKTOK_CLIENT_SECRET="live-client-secret",
               SECRET_KEY="short", DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
               PYTHONPATH=str(ROOT))
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "The dashboard cannot start with these settings" in output and "SECRET_KEY" in output
    assert "Traceback" not in output and "Running on" not in output and "Booting worker" not in output


# --- the sandbox's picture URLs ------------------------------------------------------------------


@pytest.mark.parametrize("signature", ["%C2%BF", "%E4%B8%AD" * 8, "%FF"])
def test_sandbox_refuses_a_non_ascii_picture_signature_with_403(sandbox_server, signature):
    url = f"{sandbox_server.url}/_static/avatar/creator.jpeg?x-expires=9999999999&x-signature={signature}"
    assert requests.get(url, timeout=10).status_code == 403


# --- .env.example as copied ----------------------------------------------------------------------


@pytest.fixture
def env_example(monkeypatch, tmp_path):
    """The environment a copy of .env.example gives, on a clean slate."""
    for key in list(os.environ):
        if key.startswith(("TIKTOK_", "SECRET_KEY", "SESSION_", "TRUSTED_", "DATABASE_URL", "SANDBOX_",
                           "REDIS_URL", "QUEUE_", "MEDIA_PATH", "WORKER_")):
            monkeypatch.delenv(key)
    values = dotenv_values(ROOT / ".env.example")
    for key, value in values.items():
        monkeypatch.setenv(key, value or "")

    def build(**env):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'env.sqlite3'}",
                           "QUEUE_PATH": str(tmp_path / "q.sqlite3"), "MEDIA_PATH": str(tmp_path / "m"),
                           "SANDBOX_DB": str(tmp_path / "s.sqlite3"), "SECRET_KEY": SECRET,
                           "WORKER_IN_PROCESS": False, "SERVER_NAME": "localhost:5000"})

    return build


def test_env_example_as_copied_runs_the_sandbox(env_example):
    app = env_example()
    assert app.config["SANDBOX_MODE"]
    client = app.test_client()
    location = client.get("/auth").headers["Location"]
    assert location.startswith("http://localhost:5000/sandbox/v2/auth/authorize/"), location
    assert "Setup: OK" in client.get("/setup", environ_base=REMOTE).get_data(as_text=True)


def test_env_example_with_live_credentials_runs_against_tiktok(env_example):
    app = env_example(TIKTOK_CLIENT_KEY="aw-live-client-key", TIKTOK_CLIENT_SECRET="live-client-secret",
                      TIKTOK_REDIRECT_URI="https://dash.example.com/callback")
    assert not app.config["SANDBOX_MODE"] and app.config["SESSION_COOKIE_SECURE"]
    response = app.test_client().get("/auth", base_url="https://dash.example.com")
    assert response.headers["Location"].startswith("https://www.tiktok.com/v2/auth/authorize/")
    assert "client_key=aw-live-client-key" in response.headers["Location"]


def test_sandbox_mode_refuses_to_send_its_key_to_tiktok(tmp_path):
    settings = config.finalize({"TIKTOK_SCOPES": config.DEFAULT_SCOPES,
                                "TIKTOK_AUTH_URL": "https://www.tiktok.com/v2/auth/authorize/",
                                "TIKTOK_API_BASE": "https://open.tiktokapis.com"}, str(tmp_path))
    found = config.problems(settings)
    assert any("TIKTOK_AUTH_URL" in p for p in found) and any("TIKTOK_API_BASE" in p for p in found)
