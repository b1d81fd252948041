"""Security: what protects the people and the tokens of one deployment.

Every test here fails when the protection it names is removed: encryption
and rotation of tokens, where tokens must never appear, session cookies and
lifetimes, CSRF on every POST route, headers on every response, escaping of
TikTok's text and URLs, open redirects, isolation between two people,
rate limits and bad parameters, unsafe start-up settings and disconnecting.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import subprocess
import sys
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import func, select, update

from app import create_app
from config import ConfigError
from dashboard.storage.models import (
    Account,
    Person,
    ProfileSnapshot,
    SyncRun,
    Token,
    Video,
    VideoSnapshot,
    WebSession,
    utcnow,
)
from dashboard.web.sessions import _hash
from sandbox import get_account
from tests.conftest import SECRET, LiveServer, consent, login
from tests.flow_helpers import csrf_token, post, text
from tiktok_official_api import TikTokClient

ROOT = Path(__file__).resolve().parent.parent
EVIL_TEXT = '<script>alert("x")</script><img src=x onerror=alert(1)> & "q" \'a\' <b>bold</b>'
ACCOUNT_TABLES = (Account, Token, Video, VideoSnapshot, ProfileSnapshot, SyncRun)


# --- helpers ---------------------------------------------------------------------------


def sandbox_tokens(tmp_path) -> set[str]:
    """Every access and refresh token the sandbox has ever issued."""
    with sqlite3.connect(tmp_path / "sandbox.sqlite3") as db:
        return {row[0] for row in db.execute("SELECT token FROM tokens")}


def store_of(app):
    return app.extensions["core"].store


def rows(app, model, *where):
    with store_of(app).session() as db:
        return list(db.scalars(select(model).where(*where)))


def count(app, model, *where) -> int:
    with store_of(app).session() as db:
        return db.scalar(select(func.count()).select_from(model).where(*where))


def execute(app, statement) -> None:
    with store_of(app).session() as db:
        db.execute(statement)


def sync(app, account_id: int):
    from dashboard.core.sync import run_sync

    with app.app_context():
        return run_sync(app.extensions["core"], account_id)


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else ""


def client_with_cookie(app, sid: str):
    client = app.test_client()
    client.set_cookie("session", sid, domain="localhost")
    return client


def set_cookie_headers(response) -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]


def login_via(client, start: str, *, account: str = "creator"):
    """Log in from a given /auth URL; returns the callback's response (not followed)."""
    begin = client.get(start)
    assert begin.status_code == 302
    back = urlsplit(consent(begin.headers["Location"], account=account))
    return client.get(back.path + "?" + back.query)


def assert_local(location: str) -> None:
    parts = urlsplit(location)
    assert parts.scheme in ("", "http") and parts.netloc in ("", "localhost:5000"), location
    assert parts.path.startswith("/") and not parts.path.startswith("//"), location
    assert "\\" not in location and "evil" not in location, location


class PageAudit(HTMLParser):
    """Collects inline script, inline style, event handlers and every URL attribute."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self.urls: list[str] = []
        self._script = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=>")
            if name == "style":
                self.problems.append(f"<{tag} style=>")
            if name in ("href", "src", "action", "formaction", "poster", "srcset", "data") and value:
                self.urls.append(value)
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            if not dict(attrs).get("src"):
                self.problems.append("<script> without src")
            self._script = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = False

    def handle_data(self, data):
        if self._script and data.strip():
            self.problems.append("inline <script> body")


def audit(html: str) -> PageAudit:
    parser = PageAudit()
    parser.feed(html)
    return parser


def first_video_id(app, account_id: int) -> str:
    return rows(app, Video, Video.account_id == account_id)[0].video_id


@pytest.fixture
def person_a(app):
    client = app.test_client()
    assert login(client, account="creator").status_code == 200
    return client


# --- tokens ----------------------------------------------------------------------------


def test_tokens_are_encrypted_at_rest_and_survive_key_rotation(make_app, tmp_path, sandbox_state):
    key_a, key_b, key_c = (Fernet.generate_key().decode() for _ in range(3))
    app_a = make_app(TOKEN_ENCRYPTION_KEYS=key_a)
    client = app_a.test_client()
    login(client, account="second")
    sid = session_cookie(client)
    issued = sandbox_tokens(tmp_path)
    (stored,) = rows(app_a, Token)
    for token in issued:
        assert token not in stored.access_token and token not in stored.refresh_token
    assert Fernet(key_a).decrypt(stored.access_token.encode()).decode() in issued

    app_ba = make_app(TOKEN_ENCRYPTION_KEYS=f"{key_b},{key_a}")
    assert sync(app_ba, stored.account_id).ok, "the old key must still read"
    result = app_ba.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0 and "1 accounts" in result.output
    (rotated,) = rows(app_ba, Token)
    assert Fernet(key_b).decrypt(rotated.refresh_token.encode()).decode() in issued

    app_b = make_app(TOKEN_ENCRYPTION_KEYS=key_b)
    sandbox_state.expire_access_tokens()  # the refresh writes with the new key too
    assert sync(app_b, stored.account_id).ok, "after rotate-keys the new key alone reads"

    app_c = make_app(TOKEN_ENCRYPTION_KEYS=key_c)
    lost = sync(app_c, stored.account_id)
    assert not lost.ok and lost.code == "reauth_required"
    browser = client_with_cookie(app_c, sid)
    page = post(browser, "/sync", follow_redirects=True)
    assert page.status_code == 200
    assert "log in again" in text(page.get_data(as_text=True))
    assert browser.get("/videos").status_code == 200
    again = login(browser, account="second")
    assert again.status_code == 200 and sync(app_c, stored.account_id).ok


def test_tokens_and_codes_never_reach_a_cookie_page_url_or_log(make_app, tmp_path, sandbox_state, caplog,
                                                               monkeypatch):
    """Log in over real HTTP (werkzeug's request log included), browse everything,
    force a refresh and a failure, then look for any token or code anywhere."""
    monkeypatch.setattr(TikTokClient, "_retry_wait", lambda self, error, attempt: 0)
    caplog.set_level(logging.DEBUG)
    app = make_app(SERVER_NAME=None)
    server = LiveServer(app)
    seen: list[str] = []
    try:
        browser = requests.Session()
        start = browser.get(server.url + "/auth", allow_redirects=False, timeout=10)
        back = consent(start.headers["Location"], account="creator")
        code = parse_qs(urlsplit(back).query)["code"][0]
        answer = browser.get(back, allow_redirects=False, timeout=30)
        seen += [answer.headers.get("Location", ""), answer.text]
        token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(server.url + "/").text)[1]
        sandbox_state.expire_access_tokens()  # the next sync refreshes
        browser.post(server.url + "/sync", data={"csrf_token": token}, timeout=30)
        sandbox_state.queue_fault("user_info", "500", times=4)
        browser.post(server.url + "/sync", data={"csrf_token": token}, timeout=30)
        video_id = first_video_id(app, rows(app, Account)[0].id)
        for path in ("/", "/videos", f"/videos/{video_id}", "/analytics", "/export/",
                     "/export/videos.csv", "/export/videos.json", "/export/history.csv",
                     "/export/history.json", "/setup", "/privacy", "/nowhere", "/videos/123",
                     "/videos?cursor=forged", "/sync"):
            response = browser.get(server.url + path, allow_redirects=False, timeout=30)
            seen += [path, response.text, *response.headers.values()]
        seen += [f"{c.name}={c.value}" for c in browser.cookies]
        browser.post(server.url + "/logout", data={"csrf_token": token}, timeout=10)
        seen += [f"{c.name}={c.value}" for c in browser.cookies]
    finally:
        server.stop()
    issued = sandbox_tokens(tmp_path)
    assert len(issued) >= 4, "login and refresh should have issued two pairs"
    everything = "\n".join(seen) + "\n" + caplog.text
    assert "GET /callback?" in caplog.text, "werkzeug's request log line should be captured"
    for secret in (*issued, code, quote(code, safe="")):
        assert secret not in everything
    assert "code=[REDACTED]" in caplog.text


# --- sessions ----------------------------------------------------------------------------


def test_session_cookie_is_httponly_and_samesite_lax_and_not_secure_over_http(client):
    (cookie,) = set_cookie_headers(client.get("/auth"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_over_https(client):
    (cookie,) = set_cookie_headers(client.get("/auth", base_url="https://localhost:5000"))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_cookie_is_secure_when_the_setting_says_so(make_app):
    client = make_app(SESSION_COOKIE_SECURE=True).test_client()
    (cookie,) = set_cookie_headers(client.get("/auth"))
    assert "Secure" in cookie


def test_the_cookie_holds_only_an_opaque_id_and_the_database_only_its_hash(app, person_a):
    sid = session_cookie(person_a)
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,64}", sid)
    stored = [row.id for row in rows(app, WebSession)]
    assert _hash(sid) in stored and sid not in stored


def test_login_replaces_the_session_id_and_the_old_one_is_dead(app):
    client = app.test_client()
    client.get("/auth")
    before = session_cookie(client)
    assert before
    login(client)
    after = session_cookie(client)
    assert after and after != before
    assert count(app, WebSession, WebSession.id == _hash(before)) == 0
    assert client_with_cookie(app, before).get("/videos").status_code == 401
    assert client_with_cookie(app, after).get("/videos").status_code == 200


def test_logout_deletes_the_server_session(app, person_a):
    sid = session_cookie(person_a)
    assert post(person_a, "/logout").status_code == 302
    assert count(app, WebSession, WebSession.id == _hash(sid)) == 0
    assert client_with_cookie(app, sid).get("/videos").status_code == 401
    assert person_a.get("/videos").status_code == 401


@pytest.mark.parametrize("column, lifetime", [
    ("last_seen_at", timedelta(minutes=30)),   # SESSION_IDLE_MINUTES
    ("created_at", timedelta(hours=2)),        # SESSION_ABSOLUTE_HOURS
])
def test_sessions_end_after_their_idle_and_absolute_lifetimes(make_app, column, lifetime):
    app = make_app(SESSION_IDLE_MINUTES=30, SESSION_ABSOLUTE_HOURS=2)
    client = app.test_client()
    login(client, account="second")
    sid_hash = _hash(session_cookie(client))
    inside = {column: utcnow() - lifetime + timedelta(minutes=2)}
    execute(app, update(WebSession).where(WebSession.id == sid_hash).values(**inside))
    assert client.get("/videos").status_code == 200, "still inside the lifetime"
    outside = {column: utcnow() - lifetime - timedelta(minutes=1)}
    execute(app, update(WebSession).where(WebSession.id == sid_hash).values(**outside))
    assert client.get("/videos").status_code == 401
    assert count(app, WebSession, WebSession.id == sid_hash) == 0


def test_expired_sessions_of_browsers_that_never_return_are_deleted_by_flask_sync(make_app):
    app = make_app(SESSION_IDLE_MINUTES=30, SESSION_ABSOLUTE_HOURS=2)
    gone, kept = app.test_client(), app.test_client()
    login(gone, account="second")
    kept.get("/auth")
    gone_hash, kept_hash = _hash(session_cookie(gone)), _hash(session_cookie(kept))
    execute(app, update(WebSession).where(WebSession.id == gone_hash)
            .values(last_seen_at=utcnow() - timedelta(minutes=31)))
    result = app.test_cli_runner().invoke(args=["sync"])
    assert result.exit_code == 0, result.output
    assert count(app, WebSession, WebSession.id == gone_hash) == 0
    assert count(app, WebSession, WebSession.id == kept_hash) == 1


# --- CSRF and GET ----------------------------------------------------------------------


def rule_url(rule) -> str:
    return re.sub(r"<[^>]+>", "1", rule.rule)


#: POST routes that check a signature instead of a CSRF token (tests/test_tiktok_webhook.py).
SIGNED_INSTEAD_OF_CSRF = {"/webhooks/tiktok"}
#: POST routes that cannot carry a CSRF token, each with the proof it takes instead:
#: RFC 8058's one-click unsubscribe is posted by the mail provider (the secret in the URL).
CSRF_EXEMPT = {"/settings/unsubscribe/<token>/one-click"}


def post_rules(app):
    return [r for r in app.url_map.iter_rules()
            if "POST" in r.methods and r.rule not in SIGNED_INSTEAD_OF_CSRF]


def test_only_tiktoks_webhook_goes_without_csrf_and_it_refuses_unsigned_posts(app, person_a):
    assert {r.rule for r in app.url_map.iter_rules() if "POST" in r.methods} - {
        r.rule for r in post_rules(app)} == SIGNED_INSTEAD_OF_CSRF
    assert person_a.post("/webhooks/tiktok", data={"csrf_token": csrf_token(person_a)}).status_code == 401


def test_every_post_route_refuses_a_missing_or_forged_csrf_token(app, person_a):
    rules = post_rules(app)
    assert {"/logout", "/sync", "/language", "/timezone", "/account/switch",
            "/account/delete"} <= {r.rule for r in rules}
    good = csrf_token(person_a)
    form = {"lang": "en", "tz": "UTC", "account_id": "1", "next": "/"}
    for rule in rules:
        if rule.rule in CSRF_EXEMPT:
            continue
        url = rule_url(rule)
        for token in (None, "", "forged-" + good[7:], good[:-2]):
            data = dict(form) if token is None else {**form, "csrf_token": token}
            response = person_a.post(url, data=data)
            assert response.status_code == 400, (url, token, response.status_code)
            assert "Form expired" in response.get_data(as_text=True)
    # Nothing happened: still logged in, still connected, no sync ran.
    assert person_a.get("/videos").status_code == 200
    assert count(app, Account) == 1 and count(app, SyncRun) == 1


def test_a_csrf_token_from_another_session_is_refused(app, person_a):
    other = app.test_client()
    login(other, account="second")
    response = person_a.post("/sync", data={"csrf_token": csrf_token(other)})
    assert response.status_code == 400


def test_no_route_changes_state_on_get(app, person_a):
    for rule in post_rules(app):
        assert "GET" not in rule.methods, f"{rule.rule} accepts GET and POST"
        assert person_a.get(rule_url(rule)).status_code == 405, rule.rule
    account = rows(app, Account)[0]
    before = {m.__tablename__: count(app, m) for m in ACCOUNT_TABLES}
    video_id = first_video_id(app, account.id)
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or "<" in rule.rule and \
                rule.endpoint != "dashboard.video":
            continue
        url = f"/videos/{video_id}" if rule.endpoint == "dashboard.video" else rule.rule
        if rule.rule in ("/auth", "/callback"):
            continue  # they start and finish a login: state by design, limited and one-time
        assert person_a.get(url).status_code < 500, url
    for fmt in ("csv", "json"):
        assert person_a.get(f"/export/videos.{fmt}").status_code == 200
        assert person_a.get(f"/export/history.{fmt}").status_code == 200
    assert {m.__tablename__: count(app, m) for m in ACCOUNT_TABLES} == before
    assert person_a.get("/videos").status_code == 200


# --- headers ------------------------------------------------------------------------------

ALLOWED_REMOTE = {"https://*.tiktokcdn.com", "https://*.tiktokcdn-us.com", "https://*.tiktokcdn-eu.com",
                  "https://*.ibyteimg.com", "https://www.tiktok.com"}


def csp_problems(csp: str | None) -> list[str]:
    if not csp:
        return ["no Content-Security-Policy"]
    directives = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    problems = []
    for name, values in directives.items():
        for value in values:
            if value in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"):
                problems.append(f"{name} {value}")
            elif not value.startswith("'") and value not in ALLOWED_REMOTE:
                problems.append(f"{name} allows {value}")
    for needed in ("default-src", "script-src", "style-src", "object-src", "base-uri"):
        if needed not in directives:
            problems.append(f"no {needed}")
    if directives.get("script-src") != ["'self'"]:
        problems.append("script-src is not just 'self'")
    return problems


def header_problems(response, *, https: bool) -> list[str]:
    headers = response.headers
    found = csp_problems(headers.get("Content-Security-Policy"))
    if headers.get("X-Content-Type-Options") != "nosniff":
        found.append("no nosniff")
    if headers.get("Referrer-Policy") not in ("same-origin", "no-referrer",
                                              "strict-origin-when-cross-origin"):
        found.append("no Referrer-Policy")
    if headers.get("X-Frame-Options") != "DENY" and "frame-ancestors 'none'" not in \
            headers.get("Content-Security-Policy", ""):
        found.append("framable")
    if https != ("Strict-Transport-Security" in headers):
        found.append("HSTS " + ("missing on https" if https else "sent over http"))
    return found


def test_every_kind_of_response_carries_the_security_headers(make_app, person_a, app):
    video_id = first_video_id(app, rows(app, Account)[0].id)
    anonymous = make_app(AUTH_RATE_LIMIT="1 per minute").test_client()
    anonymous.get("/auth")
    cases = {
        "page": lambda c, b: person_a.get("/", base_url=b),
        "detail": lambda c, b: person_a.get(f"/videos/{video_id}", base_url=b),
        "analytics": lambda c, b: person_a.get("/analytics", base_url=b),
        "landing": lambda c, b: c.get("/", base_url=b),
        "404": lambda c, b: c.get("/nowhere", base_url=b),
        "401": lambda c, b: c.get("/videos", base_url=b),
        "405": lambda c, b: c.get("/sync", base_url=b),
        "400 csrf": lambda c, b: c.post("/sync", base_url=b),
        "400 args": lambda c, b: person_a.get("/videos?sort=nope", base_url=b),
        "429": lambda c, b: anonymous.get("/auth", base_url=b),
        "static": lambda c, b: c.get("/static/app.css", base_url=b),
        "redirect": lambda c, b: c.get("/favicon.ico", base_url=b),
        "login redirect": lambda c, b: c.get("/auth", base_url=b),
        "export csv": lambda c, b: person_a.get("/export/videos.csv", base_url=b),
        "export json": lambda c, b: person_a.get("/export/history.json", base_url=b),
        "privacy": lambda c, b: c.get("/privacy", base_url=b),
    }
    failures = {}
    for https in (False, True):
        base = ("https" if https else "http") + "://localhost:5000"
        for name, make in cases.items():
            response = make(app.test_client(), base)
            response.get_data()  # a streamed export finishes its request here
            problems = header_problems(response, https=https)
            if problems:
                failures[f"{name} ({base})"] = (response.status_code, problems)
    assert failures == {}


def test_templates_have_no_inline_script_style_or_event_handlers():
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
    style_attr = re.compile(r"\sstyle\s*=|<style\b", re.I)
    handler = re.compile(r"\son[a-z]+\s*=", re.I)
    # E-mails and the PDF never reach a browser: e-mail clients need inline styles, and
    # the PDF carries its own stylesheet.
    offline = (ROOT / "templates" / "mail", ROOT / "templates" / "reports" / "report.html",
               ROOT / "templates" / "reports" / "compare.html")
    templates = sorted(p for p in (ROOT / "templates").rglob("*.html")
                       if not any(p == o or o in p.parents for o in offline))
    assert templates
    found = []
    for path in templates:
        source = path.read_text()
        for name, pattern in (("inline script", inline_script), ("style", style_attr),
                              ("event handler", handler)):
            if pattern.search(source):
                found.append(f"{path.relative_to(ROOT)}: {name}")
    assert found == []


def test_rendered_pages_have_no_inline_script_style_or_event_handlers(app, person_a):
    video_id = first_video_id(app, rows(app, Account)[0].id)
    pages = ["/", "/videos", "/videos?sort=view_count&order=asc", f"/videos/{video_id}", "/analytics",
             "/export/", "/privacy", "/terms", "/setup", "/nowhere"]
    found = {}
    for path in pages:
        result = audit(person_a.get(path).get_data(as_text=True))
        if result.problems:
            found[path] = sorted(set(result.problems))
    for path in ("/", "/videos", "/privacy"):
        result = audit(app.test_client().get(path).get_data(as_text=True))
        if result.problems:
            found["anonymous " + path] = sorted(set(result.problems))
    assert found == {}


# --- untrusted TikTok text and URLs ------------------------------------------------------------


def test_a_video_title_with_html_from_tiktok_is_escaped(app, person_a):
    video = get_account("creator").special("html")
    day = utcnow().fromtimestamp(video.create_time).strftime("%Y-%m-%d")
    for path in (f"/videos/{video.id}", f"/videos?from={day}&to={day}"):
        page = person_a.get(path).get_data(as_text=True)
        assert "&lt;script&gt;alert(" in page, path
        assert "<script>alert(" not in page and "<b>bold</b>" not in page, path


def test_untrusted_text_is_escaped_on_every_page_and_in_exports(make_app):
    app = make_app()
    client = app.test_client()
    login(client, follow=False)
    account = rows(app, Account)[0]
    execute(app, update(Video).values(title=EVIL_TEXT, video_description=EVIL_TEXT))
    execute(app, update(Account).values(display_name=EVIL_TEXT, bio_description=EVIL_TEXT,
                                        username=EVIL_TEXT))
    video_id = first_video_id(app, account.id)
    for path in ("/", "/videos", f"/videos/{video_id}", "/analytics"):
        page = client.get(path).get_data(as_text=True)
        assert "&lt;script&gt;" in page, path
        assert "<script>alert" not in page and "onerror=alert" not in page.replace(
            "&lt;img src=x onerror=alert(1)&gt;", ""), path
        assert "<b>bold</b>" not in page, path
    videos = client.get("/export/videos.json")
    assert videos.mimetype == "application/json"
    assert {v["title"] for v in videos.get_json()} == {EVIL_TEXT}
    history = client.get("/export/history.json").get_json()
    assert history["account"]["display_name"] == EVIL_TEXT
    assert client.get("/export/videos.json").headers["X-Content-Type-Options"] == "nosniff"


BAD_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "http://www.tiktok.com/@x/video/1",
    "http://p16-sign.tiktokcdn-us.com/x.jpeg",
    "https://evil.example.com/x.jpeg",
    "https://www.tiktok.com.evil.example.com/x",
    "https://www.tiktok.com@evil.example.com/x",
    "https://p16.tiktokcdn.com.evil.example.com/x.jpeg",
    "//evil.example.com/x",
    "https://eviltiktokcdn.com/x.jpeg",
]


def test_only_https_tiktok_urls_become_links_or_images(make_app):
    app = make_app()
    client = app.test_client()
    login(client, follow=False)
    account = rows(app, Account)[0]
    video_id = first_video_id(app, account.id)
    good = "https://www.tiktok.com/@linmei.eats/video/" + video_id
    for bad in BAD_URLS:
        execute(app, update(Video).values(share_url=bad, cover_image_url=bad, embed_link=bad,
                                          cover_fetched_at=utcnow()))
        execute(app, update(Account).values(avatar_url=bad, profile_deep_link=bad))
        execute(app, update(Video).where(Video.video_id == video_id).values(share_url=good))
        urls = []
        for path in ("/", "/videos", f"/videos/{video_id}", "/analytics"):
            response = client.get(path)
            assert response.status_code == 200, path
            urls += audit(response.get_data(as_text=True)).urls
        assert good in urls, "a genuine TikTok link must still be shown"
        for url in urls:
            lowered = url.lower()
            assert "evil" not in lowered, (bad, url)
            assert not lowered.startswith(("javascript:", "data:", "http:", "//")), (bad, url)


# --- open redirects ------------------------------------------------------------------------------

OPEN_REDIRECTS = ["//evil.com", "https://evil.com", "/\\evil.com", "\\\\evil.com", "javascript:alert(1)",
                  "///evil.com", "http:evil.com", " //evil.com", "/\t/evil.com", "%2F%2Fevil.com"]


def test_login_never_returns_to_another_site(make_app):
    app = make_app(SYNC_ON_CONNECT=False)
    for target in OPEN_REDIRECTS:
        response = login_via(app.test_client(), "/auth?next=" + quote(target, safe=""), account="second")
        assert response.status_code == 302, target
        assert_local(response.headers["Location"])


def test_login_returns_to_a_page_of_this_site(make_app):
    client = make_app(SYNC_ON_CONNECT=False).test_client()
    response = login_via(client, "/auth?next=" + quote("/videos?sort=view_count", safe=""), account="second")
    assert response.headers["Location"] == "/videos?sort=view_count"


@pytest.mark.parametrize("path, form", [
    ("/language", {"lang": "en"}),
    ("/timezone", {"tz": "Asia/Shanghai"}),
    ("/sync", {}),
])
def test_forms_never_return_to_another_site(make_app, path, form):
    client = make_app().test_client()
    login(client, account="second")
    for target in OPEN_REDIRECTS:
        response = post(client, path, {**form, "next": target})
        assert response.status_code in (302, 303), (path, target)
        assert_local(response.headers["Location"])
    assert post(client, path, {**form, "next": "/analytics"}).headers["Location"] == "/analytics"


# --- isolation --------------------------------------------------------------------------------------


def test_one_person_cannot_reach_another_persons_account(app, person_a):
    person_b = app.test_client()
    assert login(person_b, account="second").status_code == 200
    a_id = rows(app, Account, Account.username == "linmei.eats")[0].id
    b_id = rows(app, Account, Account.username == "samrivera.travels")[0].id
    a_videos = {v.video_id for v in rows(app, Video, Video.account_id == a_id)}
    a_before = {m.__tablename__: count(app, m, m.account_id == a_id if m is not Account else m.id == a_id)
                for m in ACCOUNT_TABLES}

    for video_id in sorted(a_videos)[:5]:
        assert person_b.get(f"/videos/{video_id}").status_code == 404
    exported = person_b.get("/export/videos.json").get_json()
    assert exported and not {v["video_id"] for v in exported} & a_videos
    history = person_b.get("/export/history.json").get_json()
    assert history["account"]["username"] == "samrivera.travels"
    csv = person_b.get("/export/history.csv").get_data(as_text=True)
    assert not any(video_id in csv for video_id in a_videos)
    assert post(person_b, "/account/switch", {"account_id": str(a_id)}).status_code == 404
    assert "Lin Mei" not in person_b.get("/").get_data(as_text=True)
    assert post(person_b, "/sync").status_code == 303
    assert post(person_b, "/account/delete").status_code == 302

    assert count(app, Account, Account.id == b_id) == 0
    assert {m.__tablename__: count(app, m, m.account_id == a_id if m is not Account else m.id == a_id)
            for m in ACCOUNT_TABLES} == a_before
    page = person_a.get("/")
    assert page.status_code == 200 and "Lin Mei" in page.get_data(as_text=True)


def test_a_logged_out_visitor_reaches_no_account(app, person_a):
    stranger = app.test_client()
    stranger.get("/auth")  # a session of its own (a login started, never finished), so CSRF passes
    video_id = first_video_id(app, rows(app, Account)[0].id)
    for path in ("/videos", f"/videos/{video_id}", "/analytics", "/export/", "/export/videos.csv",
                 "/export/history.json"):
        assert stranger.get(path).status_code == 401, path
    for path in ("/sync", "/account/delete"):
        assert post(stranger, path).status_code == 401, path
    assert post(stranger, "/account/switch", {"account_id": "1"}).status_code == 404
    assert count(app, SyncRun) == 1 and count(app, Account) == 1


# --- abuse ---------------------------------------------------------------------------------------------


def test_login_endpoints_are_rate_limited_per_client_with_retry_after(make_app):
    app = make_app(AUTH_RATE_LIMIT="3 per minute")
    client = app.test_client()
    first = client.get("/auth")
    assert first.headers["X-RateLimit-Remaining"] == "2"
    assert [client.get("/auth").status_code for _ in range(2)] == [302, 302]
    limited = client.get("/auth")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert [client.get("/callback?state=x&code=y").status_code for _ in range(3)] == [400, 400, 400]
    limited = client.get("/callback?state=x&code=y")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert client.get("/").status_code == 200
    unlimited = client.get("/privacy")  # a view with no limit: nothing counted, nothing said
    assert unlimited.status_code == 200 and "X-RateLimit-Limit" not in unlimited.headers
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert other.get("/auth").status_code == 302, "the limit is per client"


BAD_PARAMETERS = [
    "/videos?sort=" + "v" * 300,
    "/videos?sort=nope",
    "/videos?order=sideways",
    "/videos?min_view_count=²",
    "/videos?min_view_count=-1",
    "/videos?cursor=forged",
    "/videos?cursor=" + "A" * 5000,
    "/videos?from=2024-02-30",
    "/videos?from=yesterday",
    "/videos?from=2024-05-02&to=2024-05-01",
    "/export/videos.csv?from=" + "9" * 300,
    "/export/history.json?to=31-12-2024",
    "/analytics?x=" + "y" * 300,
    "/privacy?x=" + "y" * 5000,
    "/videos?" + "&".join(f"k{i}=v" for i in range(50)),
    "/callback?state=s&code=" + "c" * 5000,
]


def test_oversized_or_malformed_parameters_get_400(person_a):
    for path in BAD_PARAMETERS:
        response = person_a.get(path)
        assert response.status_code == 400, path[:80]
        page = response.get_data(as_text=True)
        # A filter field's mistake re-shows the form with the message beside it.
        assert "Bad request" in page or "malformed" in page or 'class="field-error"' in page, path[:80]
    assert person_a.get("/videos").status_code == 200


def test_malformed_form_values_get_400(person_a):
    for path, form in (("/language", {"lang": "xx"}), ("/timezone", {"tz": "Mars/Olympus"}),
                       ("/timezone", {"tz": "../../etc/passwd"}), ("/account/switch", {"account_id": "a"}),
                       ("/account/switch", {"account_id": "9" * 30}),
                       ("/account/switch", {"account_id": str(2**31)}),
                       ("/account/switch", {"account_id": "-1"}),
                       ("/language", {"lang": "e" * 10_000})):
        assert post(person_a, path, form).status_code == 400, (path, form)


# --- start-up -----------------------------------------------------------------------------------------

LIVE = {
    "TIKTOK_CLIENT_KEY": "aw-live-client-key",
    "TIKTOK_CLIENT_SECRET": "live-client-secret",
    "SECRET_KEY": "k" * 48,
    "TESTING": False,
}


@pytest.mark.parametrize("overrides, named", [
    ({"SECRET_KEY": None}, "SECRET_KEY"),
    ({"SECRET_KEY": "too-short"}, "SECRET_KEY"),
    ({"SECRET_KEY": "change-me"}, "SECRET_KEY"),
    ({"TOKEN_ENCRYPTION_KEYS": "not-a-fernet-key"}, "TOKEN_ENCRYPTION_KEYS"),
    ({"TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode() + ",short"}, "TOKEN_ENCRYPTION_KEYS"),
    ({"TIKTOK_CLIENT_SECRET": None}, "TIKTOK_CLIENT_SECRET"),
])
def test_start_up_refuses_unsafe_live_settings_naming_what_to_fix(tmp_path, overrides, named):
    settings = {**LIVE, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", **overrides}
    with pytest.raises(ConfigError, match=named) as refused:
        create_app(settings)
    assert "Set them in the environment" in str(refused.value)
    assert not (tmp_path / "x.sqlite3").exists(), "nothing may start before the check"


def test_start_up_refuses_debug_mode_on_a_public_interface(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_HOST", "0.0.0.0")
    settings = {**LIVE, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", "DEBUG": True}
    with pytest.raises(ConfigError, match="Debug mode"):
        create_app(settings)


def test_sandbox_mode_starts_without_any_secret(tmp_path):
    app = create_app({"TIKTOK_CLIENT_KEY": None, "SECRET_KEY": None, "TESTING": False,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                      "SANDBOX_DB": str(tmp_path / "s.sqlite3"), "WORKER_IN_PROCESS": False})
    assert app.config["SANDBOX_MODE"] and len(app.config["SECRET_KEY"]) >= 32


def test_flask_run_with_debug_on_every_interface_prints_what_to_fix(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "TIKTOK_", "SECRET"))}
    env.update(TIKTOK_CLIENT_KEY="aw-live-client-key", TIKTOK_CLIENT_SECRET="live-client-secret",
               SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
               PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "flask", "--app", "app", "run", "--debug", "--no-reload",
               "--host", "0.0.0.0", "--port", "0"]
    with subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as process:
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            pytest.fail("the debug server started on every interface:\n" + output[-2000:])
    assert process.returncode != 0
    assert "Debug mode is on" in output and "Running on" not in output


# --- disconnecting --------------------------------------------------------------------------------------


def test_disconnect_revokes_at_tiktok_and_deletes_every_row_of_the_account(app, person_a, tmp_path,
                                                                           sandbox_state):
    (account,) = rows(app, Account)
    assert post(person_a, "/sync").status_code == 303
    for model in ACCOUNT_TABLES[1:]:
        assert count(app, model, model.account_id == account.id) > 0, model.__tablename__
    issued = sandbox_tokens(tmp_path)
    assert any(sandbox_state.access_grant(t) for t in issued)

    response = post(person_a, "/account/delete", follow_redirects=True)
    assert response.status_code == 200
    assert "disconnected" in response.get_data(as_text=True)
    for token in issued:
        assert sandbox_state.access_grant(token) is None
        assert sandbox_state.refresh_grant(token) is None
    assert sandbox_state.calls["revoke"] == 1
    for model in ACCOUNT_TABLES:
        assert count(app, model) == 0, model.__tablename__
    assert count(app, Person) == 0
    assert person_a.get("/videos").status_code == 401


def test_disconnect_deletes_the_data_even_when_tiktok_refuses_the_revoke(app, person_a, sandbox_state):
    sandbox_state.queue_fault("revoke", "500")
    assert post(person_a, "/account/delete").status_code == 302
    for model in ACCOUNT_TABLES:
        assert count(app, model) == 0, model.__tablename__
