"""The sandbox's data and its Login Kit: deterministic accounts, the consent
page, the code flow (web and desktop), refresh rotation and revoke; its call
counts and call log."""

from __future__ import annotations

import math
import re
import time
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import SANDBOX_CLIENT_KEY, SANDBOX_CLIENT_SECRET, SandboxState, create_sandbox_app
from sandbox import data as d
from sandbox.testing import (
    ALL_SCOPES,
    DESKTOP_REDIRECT,
    WEB_REDIRECT,
    authorize_query,
    bearer,
    callback_params,
    consent,
    exchange,
    form_fields,
    login,
    max_calls_in_window,
    pkce_pair,
    refresh,
)

T0 = d.ANCHOR + d.DAY  # the tests' frozen "now": one day after the anchor
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def sb_state():
    state = SandboxState(clock=T0)
    yield state
    state.close()


@pytest.fixture
def sb(sb_state):
    return create_sandbox_app(sb_state).test_client()


def oauth_body(response) -> dict:
    assert response.status_code == 200, "OAuth errors come back with HTTP 200 by default"
    return response.json


# --------------------------------------------------------------------------- data


def test_creator_has_about_150_videos_over_18_months():
    creator = d.get_account("creator")
    times = [v.create_time for v in creator.videos]
    assert len(times) == 150
    assert times == sorted(times, reverse=True) and len(set(times)) == len(times)
    span_months = (max(times) - min(times)) / (30.44 * d.DAY)
    assert 17 <= span_months <= 19.5
    assert max(times) < d.ANCHOR
    assert creator.verified and "林美" in creator.display_name
    assert CJK.search(creator.bio) and re.search(r"[A-Za-z]{4}", creator.bio)


def test_accounts_differ_for_isolation_and_bulk_has_ten_thousand_videos():
    second, bulk = d.get_account("second"), d.get_account("bulk")
    assert 25 <= second.n_videos <= 35 and not second.verified
    assert bulk.n_videos == 10_000
    assert not set(second.by_id) & set(d.get_account("creator").by_id)


def test_bulk_account_generates_ten_thousand_distinct_videos():
    fresh = d.make_account("bulk")  # new object: nothing cached yet
    assert len(fresh.videos) == 10_000
    assert len({v.id for v in fresh.videos}) == 10_000


def test_huge_account_has_a_hundred_thousand_videos_each_posted_at_its_own_valid_time():
    huge = d.get_account("huge")
    times = [v.create_time for v in huge.videos]
    assert len(times) == 100_000
    assert times == sorted(times, reverse=True) and len(set(times)) == len(times)
    tiktok_launched = 1_472_688_000  # 2016-09-01: no video is older than TikTok
    assert tiktok_launched < min(times) and max(times) < d.ANCHOR


def test_video_ids_are_unique_19_digit_strings():
    for account in d.ACCOUNTS.values():
        ids = [v.id for v in account.videos]
        assert all(isinstance(i, str) and len(i) == 19 and i.isdigit() for i in ids)
        assert len(set(ids)) == len(ids)


def test_each_account_has_exactly_one_title_with_html_special_characters():
    for account in d.ACCOUNTS.values():
        titles = [v.title for v in account.videos if v.title == d.HTML_TITLE]
        assert len(titles) == 1
    assert '<script>alert("x")</script>' in d.HTML_TITLE and "&" in d.HTML_TITLE and "'" in d.HTML_TITLE


def test_titles_mix_chinese_and_english_with_hashtags():
    videos = d.get_account("creator").videos
    chinese = [v for v in videos if CJK.search(v.title)]
    assert 30 <= len(chinese) <= 100
    assert any("#美食" in v.description for v in videos) and any("#fitness" in v.description for v in videos)
    assert all("#" in v.title for v in videos if v.title != d.HTML_TITLE)
    assert all(len(v.title) <= 150 and len(v.description) <= 150 for v in videos)
    assert all(5 <= v.duration <= 180 and v.width > 0 and v.height > 0 for v in videos)


def test_view_counts_have_a_believable_spread():
    views = [d.view_count(v, T0) for v in d.get_account("creator").videos]
    assert views.count(0) == 1
    assert sum(1 for v in views if 1_000 <= v <= 50_000) / len(views) > 0.6
    assert 2 <= sum(1 for v in views if v >= 1_000_000) <= 5


def test_same_clock_gives_same_numbers_even_from_a_fresh_account():
    again = d.make_account("creator")
    original = d.get_account("creator")
    assert [v.id for v in again.videos] == [v.id for v in original.videos]
    assert [d.counts(v, T0) for v in again.videos] == [d.counts(v, T0) for v in original.videos]
    assert d.profile_stats(again, T0) == d.profile_stats(original, T0)


@settings(max_examples=30, deadline=None)
@given(start=st.integers(-400 * d.DAY, 60 * d.DAY), step=st.integers(1, 90 * d.DAY))
def test_counts_never_decrease_except_the_dipping_video(start, step):
    creator = d.get_account("creator")
    t1, t2 = d.ANCHOR + start, d.ANCHOR + start + step
    for video in creator.videos:
        before, after = d.counts(video, t1), d.counts(video, t2)
        assert after["view_count"] >= before["view_count"]
        assert after["comment_count"] >= before["comment_count"]
        assert after["share_count"] >= before["share_count"]
        if video.dip_at is None:
            assert after["like_count"] >= before["like_count"]


def test_the_dipping_video_loses_likes_at_its_dip_time():
    dip = d.get_account("creator").special("dip")
    assert d.like_count(dip, dip.dip_at) < d.like_count(dip, dip.dip_at - 1)
    assert d.view_count(dip, dip.dip_at) >= d.view_count(dip, dip.dip_at - 1)


def test_a_deleted_video_disappears_at_a_fixed_time():
    creator = d.get_account("creator")
    gone = next(v for v in creator.videos if v.deleted_at and v.deleted_at > d.ANCHOR)
    before = d.visible_videos(creator, gone.deleted_at - 1)
    after = d.visible_videos(creator, gone.deleted_at)
    assert gone in before and gone not in after
    assert len(after) == len(before) - 1


def test_videos_appear_only_once_posted():
    creator = d.get_account("creator")
    newest = creator.videos[0]
    assert newest not in d.visible_videos(creator, newest.create_time - 1)
    assert newest in d.visible_videos(creator, newest.create_time)
    assert d.view_count(newest, newest.create_time - 10) == 0


def test_profile_counts_follow_the_visible_videos():
    creator = d.get_account("creator")
    stats = d.profile_stats(creator, T0)
    visible = d.visible_videos(creator, T0)
    assert stats["video_count"] == len(visible)
    assert stats["likes_count"] == sum(d.like_count(v, T0) for v in visible)
    later = d.profile_stats(creator, T0 + 30 * d.DAY)
    assert later["follower_count"] >= stats["follower_count"]


def test_make_account_overrides_size_and_seed():
    small = d.make_account("creator", n_videos=12, seed=7)
    assert len(small.videos) == 12 and small.display_name == "Lin Mei 林美"
    assert [v.id for v in small.videos] != [v.id for v in d.make_account("creator", 12, 8).videos]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 70), max_count=st.integers(1, 20))
def test_pages_hold_every_visible_video_once_newest_first(n, max_count):
    account = d.make_account("pager", n_videos=n, seed=n)
    seen, cursor, pages = [], None, 0
    while True:
        videos, has_more = d.page(account, T0, before_ms=cursor, max_count=max_count)
        pages += 1
        seen += videos
        if not has_more:
            break
        cursor = videos[-1].create_time * 1000
    visible = d.visible_videos(account, T0)
    assert seen == visible
    assert pages == max(1, math.ceil(len(visible) / max_count))


# --------------------------------------------------------------------------- consent page


def test_consent_page_is_bilingual_simple_html_under_a_strict_csp(sb):
    page = sb.get("/v2/auth/authorize/", query_string=authorize_query())
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert "<script" not in html and "style=" not in html and "<style" not in html
    assert re.search(r"<button[^>]*>Authorize</button>", html) and re.search(
        r"<button[^>]*>Deny</button>", html
    )
    assert html.count("Authorize") == 1 and html.count("Deny") == 1, "button texts must be unambiguous"
    assert "Lin Mei 林美" in html and "Sam Rivera" in html and "Bulk Benchmark" in html
    assert "请求访问" in html and "would like to access" in html
    for scope in ALL_SCOPES:
        assert f'value="{scope}"' in html
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', html).group(1)
    assert sb.get(stylesheet).status_code == 200


def test_authorize_redirects_back_with_code_granted_scopes_and_state(sb):
    query = authorize_query()
    back = callback_params(consent(sb, query, account="second"))
    assert back["state"] == query["state"]
    assert back["scopes"] == ",".join(ALL_SCOPES)
    assert "*" in back["code"] and "!" in back["code"]


def test_unticked_scopes_are_not_granted_but_basic_always_is(sb):
    query = authorize_query()
    back = callback_params(consent(sb, query, untick=("user.info.stats", "video.list", "user.info.basic")))
    assert back["scopes"] == "user.info.basic,user.info.profile"
    assert oauth_body(exchange(sb, back["code"]))["scope"] == "user.info.basic,user.info.profile"


def test_deny_redirects_with_access_denied_and_state(sb):
    query = authorize_query()
    back = callback_params(consent(sb, query, action="deny"))
    assert back["error"] == "access_denied" and back["error_description"]
    assert back["state"] == query["state"] and "code" not in back


@pytest.mark.parametrize(
    "scope",
    ["user.info.basic,video.upload", "user.info.basic video.list", "user.profile.basic", ""],
    ids=["unknown", "space-separated", "blog-name", "empty"],
)
def test_bad_scopes_redirect_with_invalid_scope(sb, scope):
    query = {**authorize_query(), "scope": scope}
    back = callback_params(sb.get("/v2/auth/authorize/", query_string=query))
    assert back["error"] == "invalid_scope" and back["error_type"] == "scope"
    assert back["state"] == query["state"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"client_key": None, "client_id": SANDBOX_CLIENT_KEY}, "client_key"),
        ({"client_key": "someone-else"}, "client_key"),
        ({"redirect_uri": "http://dashboard.example.com/callback"}, "redirect_uri"),
        ({"redirect_uri": "http://localhost/callback"}, "redirect_uri"),
        ({"redirect_uri": "https://localhost/callback"}, "redirect_uri"),
        ({"redirect_uri": "https://dashboard.example.com/callback?next=/"}, "redirect_uri"),
        ({"redirect_uri": "https://dashboard.example.com/callback#x"}, "redirect_uri"),
        ({"redirect_uri": "/callback"}, "redirect_uri"),
        ({"state": None}, "state"),
    ],
    ids=[
        "client_id",
        "unknown-key",
        "http-web",
        "loopback-no-port",
        "https-loopback-no-port",
        "query",
        "fragment",
        "relative",
        "no-state",
    ],
)
def test_bad_client_key_redirect_uri_or_state_shows_an_error_page(sb, change, field):
    query = {k: v for k, v in {**authorize_query(), **change}.items() if v is not None}
    page = sb.get("/v2/auth/authorize/", query_string=query)
    assert page.status_code == 400 and "Location" not in page.headers
    html = page.get_data(as_text=True)
    assert "Something went wrong" in html and f"<code>{field}</code>" in html


def test_unsupported_response_type_redirects_with_error(sb):
    back = callback_params(sb.get("/v2/auth/authorize/", query_string=authorize_query(response_type="token")))
    assert back["error"] == "unsupported_response_type"


def test_consent_form_needs_its_own_single_use_nonce(sb):
    query = authorize_query()
    fields = form_fields(sb.get("/v2/auth/authorize/", query_string=query).get_data(as_text=True))
    fields.update(account=["creator"], action=["authorize"])
    tampered = {**fields, "scope": ["user.info.basic"]}
    assert sb.post("/v2/auth/authorize/", data=tampered).status_code == 400
    assert sb.post("/v2/auth/authorize/", data=fields).status_code == 302
    assert sb.post("/v2/auth/authorize/", data=fields).status_code == 400, "nonce reused"
    assert sb.post("/v2/auth/authorize/", data={**fields, "nonce": ["forged"]}).status_code == 400


def test_consent_rejects_an_unknown_account(sb):
    query = authorize_query()
    page = consent(sb, query, account="nobody")
    assert page.status_code == 400


# --------------------------------------------------------------------------- code exchange


def test_web_code_flow_needs_no_pkce(sb):
    tokens = login(sb)
    assert tokens["access_token"].startswith("act.") and tokens["refresh_token"].startswith("rft.")
    assert tokens["expires_in"] == 86_400 and tokens["refresh_expires_in"] == 31_536_000
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == ",".join(ALL_SCOPES)
    assert tokens["open_id"] == d.open_id("creator", SANDBOX_CLIENT_KEY)
    assert set(tokens) == {
        "access_token",
        "expires_in",
        "open_id",
        "refresh_expires_in",
        "refresh_token",
        "scope",
        "token_type",
    }


def test_desktop_code_flow_verifies_a_hex_pkce_challenge(sb):
    verifier, challenge = pkce_pair()
    query = authorize_query(
        redirect_uri=DESKTOP_REDIRECT, code_challenge=challenge, code_challenge_method="S256"
    )
    code = callback_params(consent(sb, query))["code"]
    wrong = oauth_body(exchange(sb, code, redirect_uri=DESKTOP_REDIRECT, code_verifier=pkce_pair()[0]))
    assert wrong == {
        **wrong,
        "error": "invalid_request",
        "error_description": "Code verifier or code challenge is invalid.",
    }
    missing = oauth_body(exchange(sb, code, redirect_uri=DESKTOP_REDIRECT))
    assert missing["error"] == "invalid_request"
    tokens = oauth_body(exchange(sb, code, redirect_uri=DESKTOP_REDIRECT, code_verifier=verifier))
    assert tokens["access_token"].startswith("act.")


@pytest.mark.parametrize(
    "redirect_uri", ["http://127.0.0.1:5000/callback", "http://localhost:8080/cb", "https://[::1]:8443/cb"]
)
def test_loopback_redirects_with_a_port_are_desktop_and_require_pkce(sb, redirect_uri):
    back = callback_params(
        sb.get("/v2/auth/authorize/", query_string=authorize_query(redirect_uri=redirect_uri))
    )
    assert back["error"] == "invalid_request" and "code_challenge" in back["error_description"]


def test_desktop_rejects_a_base64url_challenge(sb):
    import base64
    import hashlib

    verifier = pkce_pair()[0]
    b64 = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = authorize_query(redirect_uri=DESKTOP_REDIRECT, code_challenge=b64, code_challenge_method="S256")
    back = callback_params(sb.get("/v2/auth/authorize/", query_string=query))
    assert back["error"] == "invalid_request" and "hex" in back["error_description"]
    plain = authorize_query(
        redirect_uri=DESKTOP_REDIRECT, code_challenge=pkce_pair()[1], code_challenge_method="plain"
    )
    assert callback_params(sb.get("/v2/auth/authorize/", query_string=plain))["error"] == "invalid_request"


def test_a_code_is_single_use(sb):
    code = callback_params(consent(sb, authorize_query()))["code"]
    assert "access_token" in oauth_body(exchange(sb, code))
    again = oauth_body(exchange(sb, code))
    assert again["error"] == "invalid_grant" and len(again["log_id"]) >= 28


def test_a_code_is_bound_to_its_redirect_uri_and_client(sb, sb_state):
    sb_state.extra_clients["other-app"] = "other-secret"
    code = callback_params(consent(sb, authorize_query()))["code"]
    moved = oauth_body(exchange(sb, code, redirect_uri="https://dashboard.example.com/elsewhere/"))
    assert moved["error"] == "invalid_grant" and "Redirect_uri" in moved["error_description"]
    other = oauth_body(exchange(sb, code, client_key="other-app", client_secret="other-secret"))
    assert other["error"] == "invalid_grant"
    assert "access_token" in oauth_body(exchange(sb, code)), "failed attempts do not burn the code"


def test_a_code_expires_after_ten_minutes(sb, sb_state):
    code = callback_params(consent(sb, authorize_query()))["code"]
    sb_state.clock.advance(601)
    assert oauth_body(exchange(sb, code))["error"] == "invalid_grant"


def test_an_extra_client_can_log_in(sb, sb_state):
    sb_state.extra_clients["other-app"] = "other-secret"
    query = authorize_query(client_key="other-app")
    code = callback_params(consent(sb, query))["code"]
    tokens = oauth_body(exchange(sb, code, client_key="other-app", client_secret="other-secret"))
    assert tokens["open_id"] != d.open_id("creator", SANDBOX_CLIENT_KEY)


def test_the_token_endpoint_refuses_a_json_body(sb):
    code = callback_params(consent(sb, authorize_query()))["code"]
    body = {
        "client_key": SANDBOX_CLIENT_KEY,
        "client_secret": SANDBOX_CLIENT_SECRET,
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": WEB_REDIRECT,
    }
    assert oauth_body(sb.post("/v2/oauth/token/", json=body))["error"] == "invalid_request"


@pytest.mark.parametrize(
    "change, error",
    [
        ({"client_secret": "wrong"}, "invalid_client"),
        ({"client_key": "unknown"}, "invalid_client"),
        ({"client_secret": None}, "invalid_request"),
        ({"client_key": None, "client_id": SANDBOX_CLIENT_KEY}, "invalid_request"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": None}, "invalid_request"),
        ({"code": "not-a-code"}, "invalid_grant"),
        ({"redirect_uri": None}, "invalid_request"),
    ],
    ids=[
        "bad-secret",
        "bad-key",
        "no-secret",
        "client_id",
        "grant-type",
        "no-grant-type",
        "bad-code",
        "no-redirect",
    ],
)
def test_token_endpoint_errors_have_the_oauth_shape(sb, change, error):
    change = dict(change)
    code = callback_params(consent(sb, authorize_query()))["code"]
    body = oauth_body(exchange(sb, change.pop("code", code), **change))
    assert body["error"] == error
    assert set(body) == {"error", "error_description", "log_id"}


def test_oauth_error_status_is_configurable(sb, sb_state):
    sb_state.settings.oauth_error_status = None
    assert exchange(sb, "nope").status_code == 400
    assert exchange(sb, "nope", client_secret="wrong").status_code == 401
    sb_state.settings.oauth_error_status = 400
    assert exchange(sb, "nope", client_secret="wrong").status_code == 400


def test_lifetimes_come_from_settings(sb, sb_state):
    sb_state.configure(access_token_ttl=7200, refresh_token_ttl=15_552_000)
    tokens = login(sb)
    assert (tokens["expires_in"], tokens["refresh_expires_in"]) == (7200, 15_552_000)


# --------------------------------------------------------------------------- refresh and revoke


def test_refresh_rotates_the_refresh_token(sb, sb_state):
    first = login(sb)
    sb_state.clock.advance(3600)
    second = oauth_body(refresh(sb, first["refresh_token"]))
    assert (
        second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    )
    assert second["open_id"] == first["open_id"] and second["scope"] == first["scope"]
    assert second["refresh_expires_in"] == first["refresh_expires_in"] - 3600, (
        "lifetime counts from first issue"
    )
    assert oauth_body(refresh(sb, first["refresh_token"]))["error"] == "invalid_grant"
    for token in (first["access_token"], second["access_token"]):
        assert sb.get("/v2/user/info/?fields=open_id", headers=bearer(token)).status_code == 200
    assert "access_token" in oauth_body(refresh(sb, second["refresh_token"]))


def test_refresh_with_another_clients_credentials_fails(sb, sb_state):
    sb_state.extra_clients["other-app"] = "other-secret"
    tokens = login(sb)
    answer = sb.post(
        "/v2/oauth/token/",
        data={
            "client_key": "other-app",
            "client_secret": "other-secret",
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert oauth_body(answer)["error"] == "invalid_grant"


def test_access_tokens_expire_with_the_clock(sb, sb_state):
    tokens = login(sb)
    sb_state.clock.advance(86_399)
    assert sb.get("/v2/user/info/?fields=open_id", headers=bearer(tokens["access_token"])).status_code == 200
    sb_state.clock.advance(1)
    answer = sb.get("/v2/user/info/?fields=open_id", headers=bearer(tokens["access_token"]))
    assert answer.status_code == 401 and answer.json["error"]["code"] == "access_token_invalid"
    assert "access_token" in oauth_body(refresh(sb, tokens["refresh_token"]))


def test_expire_access_tokens_and_revoke_refresh_tokens_helpers(sb, sb_state):
    tokens = login(sb)
    assert sb_state.expire_access_tokens() == 1
    assert sb.get("/v2/user/info/?fields=open_id", headers=bearer(tokens["access_token"])).status_code == 401
    assert sb_state.revoke_refresh_tokens() == 1
    assert oauth_body(refresh(sb, tokens["refresh_token"]))["error"] == "invalid_grant"


def test_revoke_ends_the_access_and_refresh_tokens(sb):
    tokens = login(sb)
    form = {"client_key": SANDBOX_CLIENT_KEY, "client_secret": SANDBOX_CLIENT_SECRET}
    wrong_kind = oauth_body(sb.post("/v2/oauth/revoke/", data={**form, "token": tokens["refresh_token"]}))
    assert wrong_kind["error"] == "invalid_request"
    answer = sb.post("/v2/oauth/revoke/", data={**form, "token": tokens["access_token"]})
    assert answer.status_code == 200 and answer.get_data() == b""
    assert sb.get("/v2/user/info/?fields=open_id", headers=bearer(tokens["access_token"])).status_code == 401
    assert oauth_body(refresh(sb, tokens["refresh_token"]))["error"] == "invalid_grant"
    assert sb.post("/v2/oauth/revoke/", data={**form, "token": tokens["access_token"]}).status_code == 200
    bad = sb.post("/v2/oauth/revoke/", data={**form, "client_secret": "x", "token": tokens["access_token"]})
    assert oauth_body(bad)["error"] == "invalid_client"


def test_clock_is_real_time_unless_set(sb_state):
    sb_state.clock.reset()
    assert abs(sb_state.clock.now() - time.time()) < 5 and not sb_state.clock.frozen
    sb_state.clock.advance(100)
    assert abs(sb_state.clock.now() - time.time() - 100) < 5
    sb_state.clock.set(T0)
    sb_state.clock.advance(10)
    assert sb_state.clock.now() == T0 + 10 and sb_state.clock.frozen


def test_a_file_state_is_shared_between_processes(tmp_path):
    one, two = SandboxState(tmp_path / "s.sqlite3"), SandboxState(tmp_path / "s.sqlite3")
    one.clock.set(T0)
    assert two.clock.now() == T0
    client_one = create_sandbox_app(one).test_client()
    client_two = create_sandbox_app(two).test_client()
    tokens = login(client_one)
    assert (
        client_two.get("/v2/user/info/?fields=open_id", headers=bearer(tokens["access_token"])).status_code
        == 200
    )
    two.settings.access_token_ttl = 60
    assert one.settings.access_token_ttl == 60
    one.queue_fault("user_info", "500")
    assert (
        client_two.get("/v2/user/info/?fields=open_id", headers=bearer(tokens["access_token"])).status_code
        == 500
    )
    assert one.calls["user_info"] == 2
    assert len(one.call_times("user_info")) == 2, "the call log is shared too"
    one.close()
    two.close()


def test_authorize_urls_respect_the_mount_point(sb_state):
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    mounted = DispatcherMiddleware(
        lambda e, s: Response("dashboard")(e, s), {"/sandbox": create_sandbox_app(sb_state)}
    )
    client = Client(mounted)
    page = client.get("/sandbox/v2/auth/authorize/", query_string=authorize_query())
    html = page.get_data(as_text=True)
    assert 'action="/sandbox/v2/auth/authorize/"' in html
    assert 'href="/sandbox/_static/assets/sandbox.css"' in html
    avatar = re.search(r'<img src="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert avatar.startswith("http://localhost/sandbox/_static/avatar/creator.jpeg?")
    assert client.get(urlsplit(avatar).path + "?" + urlsplit(avatar).query).status_code == 200


# --------------------------------------------------------------------------- call counts and call log


class WallClock:
    """A settable stand-in for ``state.wall``."""

    def __init__(self, t: float = 1_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def user_info_status(client, token: str) -> int:
    return client.get("/v2/user/info/?fields=open_id", headers=bearer(token)).status_code


def test_every_call_is_logged_at_its_wall_clock_time(sb, sb_state):
    before = time.time()
    tokens = login(sb)
    user_info_status(sb, tokens["access_token"])
    after = time.time()
    times = sb_state.call_times()
    assert len(times) == sum(sb_state.calls.values()) == 4, "authorize twice, token, user_info"
    assert times == sorted(times) and all(before <= t <= after for t in times)
    assert sb_state.clock.now() == T0, "the sandbox clock is frozen elsewhere; the log ignores it"
    assert len(sb_state.call_times("authorize")) == 2 and sb_state.call_times("video_list") == []


def test_call_times_are_kept_per_endpoint_and_sorted(sb, sb_state):
    wall = sb_state.wall = WallClock()
    token = login(sb)["access_token"]
    for t in (1_075.0, 1_010.0, 1_075.0):
        wall.t = t
        user_info_status(sb, token)
    assert sb_state.call_times("user_info") == [1_010.0, 1_075.0, 1_075.0]
    assert sb_state.call_times("token") == [1_000.0]
    assert sb_state.call_times() == [1_000.0] * 3 + [1_010.0, 1_075.0, 1_075.0]


def test_reset_calls_and_reset_clear_the_call_log(sb, sb_state):
    token = login(sb)["access_token"]
    sb_state.reset_calls()
    assert sb_state.call_times() == [] and not sb_state.calls
    user_info_status(sb, token)
    assert len(sb_state.call_times("user_info")) == 1
    sb_state.reset()
    assert sb_state.call_times() == [] and not sb_state.calls


def test_refused_calls_count_against_the_budget(sb, sb_state):
    wall = sb_state.wall = WallClock()
    sb_state.rate_limit_per_minute = 3
    token = login(sb)["access_token"]
    sb_state.queue_fault("user_info", "500")
    statuses = [user_info_status(sb, token) for _ in range(5)]
    assert statuses == [500, 200, 200, 200, 429]
    wall.t += 60
    assert user_info_status(sb, token) == 200
    times = sb_state.call_times("user_info")
    assert len(times) == 6 and max_calls_in_window(times) == 5
    assert max_calls_in_window(times, 120) == 6


def test_the_control_snapshot_summarises_the_call_log(sb_state):
    client = create_sandbox_app(sb_state, control=True).test_client()
    wall = sb_state.wall = WallClock()
    token = login(client)["access_token"]
    for t in (1_010.0, 1_075.0, 1_080.0):
        wall.t = t
        user_info_status(client, token)
    snapshot = client.get("/_control").json
    assert snapshot["call_log"]["user_info"] == {"count": 3, "max_per_minute": 2}
    assert snapshot["call_log"]["authorize"] == {"count": 2, "max_per_minute": 2}
    assert client.post("/_control", json={"reset_calls": True}).json["call_log"] == {}


@pytest.mark.parametrize(
    "times, window, expected",
    [
        ([], 60, 0),
        ([5.0], 60, 1),
        ([0.0, 59.9], 60, 2),
        ([0.0, 60.0], 60, 1),
        ([0.0, 30.0, 60.0, 90.0], 60, 2),
        ([90.0, 0.0, 30.0, 60.0, 61.0], 60, 3),
        ([1.0, 1.0, 1.0], 0.5, 3),
        ([0.0, 1.0, 2.0, 3.0], 2, 2),
    ],
    ids=["empty", "one", "inside", "edge-is-exclusive", "sliding", "unsorted", "same-instant", "short"],
)
def test_max_calls_in_window(times, window, expected):
    assert max_calls_in_window(times, window) == expected


@pytest.mark.parametrize("window", [0, -1])
def test_max_calls_in_window_needs_a_positive_window(window):
    with pytest.raises(ValueError):
        max_calls_in_window([1.0], window)


@settings(max_examples=50, deadline=None)
@given(times=st.lists(st.floats(0, 1_000), max_size=40), window=st.floats(0.5, 200))
def test_max_calls_in_window_matches_a_brute_force_count(times, window):
    brute = max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)
    assert max_calls_in_window(times, window) == brute
