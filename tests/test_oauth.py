"""The OAuth handler against a mocked TikTok (``responses``): what /auth
sends, what /callback accepts and refuses, and the token life cycle.

The app runs in live mode with TikTok's URLs pointed at hosts that do not
exist; any request the test did not mock fails the test.
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import responses
from sqlalchemy import select, update

import dashboard.web.auth as web_auth
import oauth_handler
from dashboard.storage.models import Account, Token, utcnow
from dashboard.web.context import get_core as app_core
from tests.flow_helpers import csrf_token, only_account, token_rows
from tiktok_official_api import TikTokAPIError, TikTokAuthError

AUTH_URL = "https://www.tiktok.test/v2/auth/authorize/"
API = "https://open.tiktokapis.test"
TOKEN_URL = API + "/v2/oauth/token/"
REVOKE_URL = API + "/v2/oauth/revoke/"
USER_URL = API + "/v2/user/info/"
CLIENT_KEY = "unit-client-key"
CLIENT_SECRET = "unit-client-secret"
ALL_SCOPES = "user.info.basic,user.info.profile,user.info.stats,video.list"
LOG_ID = "202611251200000A1B2C3D4E5F60718293"


def token_body(n: int = 1, *, scope: str = ALL_SCOPES, expires_in: int = 86_400) -> dict:
    return {
        "access_token": f"act.unit-access-{n}-" + "a" * 40,
        "expires_in": expires_in,
        "open_id": "open-id-unit-1",
        "refresh_token": f"rft.unit-refresh-{n}-" + "r" * 40,
        "refresh_expires_in": 31_536_000,
        "scope": scope,
        "token_type": "Bearer",
    }


@pytest.fixture
def live_app(make_app):
    return make_app(
        TIKTOK_CLIENT_KEY=CLIENT_KEY,
        TIKTOK_CLIENT_SECRET=CLIENT_SECRET,
        TIKTOK_AUTH_URL=AUTH_URL,
        TIKTOK_API_BASE=API,
        SYNC_ON_CONNECT=False,
    )


@pytest.fixture
def web(live_app):
    return live_app.test_client()


@pytest.fixture
def tiktok():
    """Mocked TikTok; every registered response must be used."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def begin(client) -> dict[str, str]:
    """GET /auth; the authorize query it redirects to."""
    answer = client.get("/auth")
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(AUTH_URL + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


def callback(client, **params):
    return client.get("/callback?" + urlencode(params))


def form_of(call) -> dict[str, str]:
    body = call.request.body
    body = body.decode() if isinstance(body, bytes) else body
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def log_in(client, tiktok, body: dict | None = None):
    tiktok.post(TOKEN_URL, json=body or token_body())
    state = begin(client)["state"]
    answer = callback(client, code="unit-code", state=state, scopes=ALL_SCOPES)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer


# --- /auth -------------------------------------------------------------------------------


def test_auth_redirects_to_tiktok_with_every_parameter(web):
    query = begin(web)
    assert query["client_key"] == CLIENT_KEY
    assert query["scope"] == ALL_SCOPES  # comma-separated, as TikTok wants
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == "http://localhost:5000/callback"
    assert len(query["state"]) >= 32


def test_auth_gives_a_fresh_state_and_verifier_each_time(web):
    first, second = begin(web), begin(web)
    assert first["state"] != second["state"]
    assert first["code_challenge"] != second["code_challenge"]


def test_auth_asks_for_the_configured_scopes(make_app):
    app = make_app(TIKTOK_CLIENT_KEY=CLIENT_KEY, TIKTOK_CLIENT_SECRET=CLIENT_SECRET,
                   TIKTOK_AUTH_URL=AUTH_URL, TIKTOK_API_BASE=API,
                   TIKTOK_SCOPES="user.info.basic,video.list")
    assert begin(app.test_client())["scope"] == "user.info.basic,video.list"


@pytest.mark.parametrize("redirect", [None, "http://127.0.0.1:8080/callback", "http://[::1]:5000/callback"])
def test_loopback_redirect_uses_tiktoks_hex_pkce_and_sends_the_verifier(make_app, tiktok, redirect):
    app = make_app(TIKTOK_CLIENT_KEY=CLIENT_KEY, TIKTOK_CLIENT_SECRET=CLIENT_SECRET,
                   TIKTOK_AUTH_URL=AUTH_URL, TIKTOK_API_BASE=API, SYNC_ON_CONNECT=False,
                   TIKTOK_REDIRECT_URI=redirect)
    client = app.test_client()
    query = begin(client)
    assert re.fullmatch(r"[0-9a-f]{64}", query["code_challenge"])
    assert query["code_challenge_method"] == "S256"

    tiktok.post(TOKEN_URL, json=token_body())
    assert callback(client, code="c", state=query["state"]).status_code == 302
    sent = form_of(tiktok.calls[0])
    verifier = sent["code_verifier"]
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier)
    assert hashlib.sha256(verifier.encode()).hexdigest() == query["code_challenge"]
    assert sent["redirect_uri"] == query["redirect_uri"]


def test_https_redirect_uses_the_web_flow_without_pkce(make_app, tiktok):
    uri = "https://dashboard.example.com/callback"
    app = make_app(TIKTOK_CLIENT_KEY=CLIENT_KEY, TIKTOK_CLIENT_SECRET=CLIENT_SECRET,
                   TIKTOK_AUTH_URL=AUTH_URL, TIKTOK_API_BASE=API, SYNC_ON_CONNECT=False,
                   TIKTOK_REDIRECT_URI=uri, SERVER_NAME="dashboard.example.com")
    client = app.test_client()
    query = begin(client)
    assert query["redirect_uri"] == uri
    assert "code_challenge" not in query and "code_challenge_method" not in query

    tiktok.post(TOKEN_URL, json=token_body())
    assert callback(client, code="c", state=query["state"]).status_code == 302
    sent = form_of(tiktok.calls[0])
    assert "code_verifier" not in sent
    assert sent["redirect_uri"] == uri


# --- /callback: refused before any token request -------------------------------------------


def _expire_pending(client):
    with client.session_transaction() as session:
        pending = dict(session[web_auth.PENDING_KEY])
        pending["at"] = time.time() - oauth_handler.PENDING_MAX_AGE - 60
        session[web_auth.PENDING_KEY] = pending


@pytest.mark.parametrize(
    "case", ["missing", "empty", "mismatched", "not_started", "expired", "other_browser"])
def test_callback_refuses_a_bad_state_without_asking_tiktok(web, live_app, tiktok, case):
    if case != "not_started":
        state = begin(web)["state"]
    params = {"code": "unit-code", "scopes": ALL_SCOPES}
    if case == "empty":
        params["state"] = ""
    elif case == "mismatched":
        params["state"] = state[:-2] + ("AA" if not state.endswith("AA") else "BB")
    elif case == "not_started":
        params["state"] = "x" * 43
    elif case in ("expired", "other_browser"):
        params["state"] = state
        if case == "expired":
            _expire_pending(web)
    client = live_app.test_client() if case == "other_browser" else web

    answer = callback(client, **params)

    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "Please start the login again" in page or "Please try again" in page
    assert "Traceback" not in page
    assert len(tiktok.calls) == 0
    assert token_rows(live_app) == []


def test_callback_state_is_single_use(web, live_app, tiktok):
    tiktok.post(TOKEN_URL, json=token_body())
    state = begin(web)["state"]
    assert callback(web, code="unit-code", state=state).status_code == 302
    replay = callback(web, code="unit-code", state=state)
    assert replay.status_code == 400
    assert len(tiktok.calls) == 1


def test_a_wrong_state_spends_the_pending_login(web, tiktok):
    state = begin(web)["state"]
    assert callback(web, code="c", state="forged").status_code == 400
    assert callback(web, code="c", state=state).status_code == 400
    assert len(tiktok.calls) == 0


def test_state_is_checked_before_the_providers_error(web, tiktok):
    begin(web)
    answer = callback(web, error="access_denied", state="forged")
    assert answer.status_code == 400
    assert "declined" not in answer.get_data(as_text=True)


def test_user_pressing_deny_gets_a_clear_page_and_nothing_is_stored(web, live_app, tiktok):
    state = begin(web)["state"]
    answer = callback(web, error="access_denied",
                      error_description="The user denied the request", state=state)
    assert answer.status_code == 403
    assert "You declined to connect your TikTok account" in answer.get_data(as_text=True)
    assert len(tiktok.calls) == 0
    with live_app.extensions["core"].store.session() as db:
        assert db.scalars(select(Account)).all() == []


def test_other_provider_errors_are_shown_escaped(web, tiktok):
    state = begin(web)["state"]
    answer = callback(web, error="invalid_scope", error_description="<b>bad</b> scope", state=state)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "invalid_scope" in page and "&lt;b&gt;bad&lt;/b&gt; scope" in page
    assert "<b>bad</b>" not in page
    assert len(tiktok.calls) == 0


def test_callback_without_a_code_is_refused(web, live_app, tiktok):
    state = begin(web)["state"]
    answer = callback(web, state=state)
    assert answer.status_code == 400
    assert "did not send an authorization code" in answer.get_data(as_text=True)
    assert len(tiktok.calls) == 0


@pytest.mark.parametrize("name", ["code", "state", "scopes", "error_description"])
def test_oversized_callback_parameters_are_refused(web, tiktok, name):
    state = begin(web)["state"]
    params = {"code": "unit-code", "state": state}
    params[name] = "x" * (web_auth.MAX_PARAM_LENGTH + 1)
    assert callback(web, **params).status_code == 400
    assert len(tiktok.calls) == 0


# --- /callback: the code exchange -----------------------------------------------------------


def test_code_with_star_and_bang_is_exchanged_form_encoded_exactly_once(web, live_app, tiktok):
    code = "Xk3_Zq-9.abc*0!4321"
    tiktok.post(TOKEN_URL, json=token_body())
    state = begin(web)["state"]
    # TikTok percent-encodes the code in the redirect: %2A and %21
    answer = web.get(f"/callback?code={code.replace('*', '%2A').replace('!', '%21')}&state={state}")
    assert answer.status_code == 302

    assert len(tiktok.calls) == 1
    request = tiktok.calls[0].request
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    assert "code=Xk3_Zq-9.abc%2A0%214321" in body  # once, not %252A
    sent = form_of(tiktok.calls[0])
    assert sent["code"] == code
    assert sent["grant_type"] == "authorization_code"
    assert sent["client_key"] == CLIENT_KEY and sent["client_secret"] == CLIENT_SECRET


def test_oauth_error_in_an_http_200_body_is_an_error_page_with_the_log_id(web, live_app, tiktok):
    tiktok.post(TOKEN_URL, status=200, json={
        "error": "invalid_grant", "error_description": "Authorization code is expired.", "log_id": LOG_ID})
    state = begin(web)["state"]
    answer = callback(web, code="old-code", state=state)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert LOG_ID in page and "invalid_grant" in page
    assert "Traceback" not in page
    assert token_rows(live_app) == []
    with live_app.extensions["core"].store.session() as db:
        assert db.scalars(select(Account)).all() == []


@pytest.mark.parametrize("reply", [
    {"body": "<html>502 Bad Gateway</html>", "status": 200, "content_type": "text/html"},
    {"json": {"access_token": "act.x"}, "status": 200},  # fields missing
    {"body": "", "status": 503},
])
def test_broken_token_response_is_an_error_page_not_a_crash(web, live_app, tiktok, reply):
    tiktok.post(TOKEN_URL, **reply)
    state = begin(web)["state"]
    answer = callback(web, code="c", state=state)
    assert answer.status_code == 502
    page = answer.get_data(as_text=True)
    assert "Could not finish the login" in page and "Traceback" not in page
    assert token_rows(live_app) == []


def test_token_exchange_is_never_retried(web, tiktok):
    tiktok.post(TOKEN_URL, status=500, json={"error": "server_error", "error_description": "x"})
    state = begin(web)["state"]
    assert callback(web, code="c", state=state).status_code == 502
    assert len(tiktok.calls) == 1


def test_granted_scopes_come_from_the_token_response(web, live_app, tiktok):
    log_in(web, tiktok, token_body(scope="user.info.basic,video.list"))
    assert only_account(live_app).granted_scopes == "user.info.basic,video.list"


def test_login_stores_tokens_encrypted_and_the_cookie_is_an_opaque_id(web, live_app, tiktok):
    body = token_body()
    log_in(web, tiktok, body)
    rows = token_rows(live_app)
    assert len(rows) == 1
    assert body["access_token"] not in rows[0].access_token
    assert body["refresh_token"] not in rows[0].refresh_token
    with live_app.app_context():
        record = live_app.extensions["core"].store.tokens.load(rows[0].account_id)
    assert record.access_token == body["access_token"]
    assert record.refresh_token == body["refresh_token"]
    cookie = web.get_cookie("session").value
    assert body["access_token"] not in cookie and "open-id" not in cookie
    assert re.fullmatch(r"[A-Za-z0-9_\-]{43}", cookie)


def test_login_replaces_the_session_id(web, tiktok):
    begin(web)
    before = web.get_cookie("session").value
    log_in(web, tiktok)
    assert web.get_cookie("session").value != before


# --- tokens: refresh ---------------------------------------------------------------------------


def _age_token(app, *, access_left: timedelta, refresh_left: timedelta | None = None):
    values = {"expires_at": utcnow() + access_left}
    if refresh_left is not None:
        values["refresh_expires_at"] = utcnow() + refresh_left
    with app.extensions["core"].store.session() as db:
        db.execute(update(Token).values(**values))


def test_token_near_expiry_is_refreshed_and_the_rotated_refresh_token_saved(web, live_app, tiktok):
    log_in(web, tiktok, token_body(1))
    account_id = only_account(live_app).id
    _age_token(live_app, access_left=timedelta(minutes=2))
    tiktok.post(TOKEN_URL, json=token_body(2, expires_in=7200))

    with live_app.app_context():
        token = app_core().tokens.active(account_id)
        stored = live_app.extensions["core"].store.tokens.load(account_id)

    sent = form_of(tiktok.calls[1])
    assert sent == {"client_key": CLIENT_KEY, "client_secret": CLIENT_SECRET,
                    "grant_type": "refresh_token", "refresh_token": token_body(1)["refresh_token"]}
    assert token.access_token == stored.access_token == token_body(2)["access_token"]
    assert stored.refresh_token == token_body(2)["refresh_token"]
    assert timedelta(minutes=119) < stored.expires_at - utcnow() <= timedelta(hours=2)


def test_token_far_from_expiry_is_used_as_is(web, live_app, tiktok):
    log_in(web, tiktok)
    with live_app.app_context():
        token = app_core().tokens.active(only_account(live_app).id)
    assert token.access_token == token_body(1)["access_token"]
    assert len(tiktok.calls) == 1


def test_refresh_refused_in_an_http_200_body_deletes_the_token_and_asks_for_login(web, live_app, tiktok):
    log_in(web, tiktok)
    account_id = only_account(live_app).id
    _age_token(live_app, access_left=timedelta(seconds=-1))
    tiktok.post(TOKEN_URL, status=200, json={
        "error": "invalid_grant", "error_description": "Refresh token is invalid or expired.",
        "log_id": LOG_ID})
    with live_app.app_context(), pytest.raises(oauth_handler.ReauthRequired):
        app_core().tokens.active(account_id)
    assert token_rows(live_app) == []


def test_refresh_failing_for_a_passing_reason_keeps_the_token(web, live_app, tiktok):
    log_in(web, tiktok)
    account_id = only_account(live_app).id
    _age_token(live_app, access_left=timedelta(seconds=-1))
    tiktok.post(TOKEN_URL, status=503, json={"error": "temporarily_unavailable", "error_description": "x"})
    with live_app.app_context(), pytest.raises(TikTokAPIError) as caught:
        app_core().tokens.active(account_id)
    assert not isinstance(caught.value, oauth_handler.ReauthRequired)
    assert len(token_rows(live_app)) == 1
    # and the lease is released: the next attempt refreshes again
    tiktok.post(TOKEN_URL, json=token_body(2))
    with live_app.app_context():
        assert app_core().tokens.active(account_id).access_token == token_body(2)["access_token"]


def test_expired_refresh_token_asks_for_login_without_calling_tiktok(web, live_app, tiktok):
    log_in(web, tiktok)
    account_id = only_account(live_app).id
    _age_token(live_app, access_left=timedelta(seconds=-1), refresh_left=timedelta(seconds=-1))
    with live_app.app_context(), pytest.raises(oauth_handler.ReauthRequired):
        app_core().tokens.active(account_id)
    assert len(tiktok.calls) == 1  # the login only


def _user_ok():
    return {"data": {"user": {"open_id": "open-id-unit-1", "display_name": "Unit"}},
            "error": {"code": "ok", "message": "", "log_id": LOG_ID}}


def _token_invalid():
    return {"data": {}, "error": {"code": "access_token_invalid",
                                  "message": "Access token is invalid", "log_id": LOG_ID}}


def test_api_call_refused_with_access_token_invalid_refreshes_once_and_retries(web, live_app, tiktok):
    log_in(web, tiktok, token_body(1))
    account_id = only_account(live_app).id
    tiktok.get(USER_URL, status=401, json=_token_invalid())
    tiktok.post(TOKEN_URL, json=token_body(2))
    tiktok.get(USER_URL, json=_user_ok())

    with live_app.app_context():
        user = app_core().tokens.call(account_id, lambda c: c.get_user_info(["open_id", "display_name"]))

    assert user["display_name"] == "Unit"
    bearers = [c.request.headers.get("Authorization") for c in tiktok.calls
               if c.request.url.startswith(USER_URL)]
    assert bearers == [f"Bearer {token_body(1)['access_token']}", f"Bearer {token_body(2)['access_token']}"]


def test_api_call_refused_again_after_refresh_gives_up(web, live_app, tiktok):
    log_in(web, tiktok, token_body(1))
    account_id = only_account(live_app).id
    tiktok.get(USER_URL, status=401, json=_token_invalid())
    tiktok.post(TOKEN_URL, json=token_body(2))
    tiktok.get(USER_URL, status=401, json=_token_invalid())
    with live_app.app_context(), pytest.raises(TikTokAuthError):
        app_core().tokens.call(account_id, lambda c: c.get_user_info(["open_id"]))
    assert sum(1 for c in tiktok.calls if c.request.url == TOKEN_URL) == 2  # login + one refresh


# --- logout -------------------------------------------------------------------------------------


def test_logout_ends_this_session_only_and_keeps_the_token_for_scheduled_syncs(web, live_app, tiktok):
    log_in(web, tiktok)
    calls_before = len(tiktok.calls)
    answer = web.post("/logout", data={"csrf_token": csrf_token(web)})
    assert answer.status_code == 302
    assert len(tiktok.calls) == calls_before, "logging out calls nothing at TikTok"
    assert len(token_rows(live_app)) == 1
    page = web.get("/").get_data(as_text=True)
    assert "Log in with TikTok" in page and "You are logged out" in page
    assert web.get("/videos").status_code == 401


def test_logout_needs_the_csrf_token(web, live_app, tiktok):
    log_in(web, tiktok)
    for data in ({}, {"csrf_token": "forged"}):
        assert web.post("/logout", data=data).status_code == 400
    assert len(token_rows(live_app)) == 1
    assert web.get("/videos").status_code == 200


def test_logout_is_post_only(web, live_app, tiktok):
    log_in(web, tiktok)
    assert web.get("/logout").status_code == 405
    assert len(token_rows(live_app)) == 1
