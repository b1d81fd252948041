"""Bad input: no query, form or TikTok answer produces a 500 or an unhandled error.

Property-based (hypothesis) over every route of ``app.url_map`` with random
query and form values, logged in and logged out; and over whole syncs whose
TikTok answers are well-formed envelopes holding arbitrary values, after
which every page must still render. The client's own parsing of arbitrary
bytes and JSON is covered in ``test_api_client.py``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from werkzeug.exceptions import HTTPException

from dashboard.storage.models import utcnow
from tests.conftest import SECRET, login
from tests.flow_helpers import csrf_token
from tiktok_official_api import TikTokClient

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

#: Parameter names the pages read, plus a few they do not.
PARAM_NAMES = ("sort", "order", "cursor", "from", "to", "next", "code", "state", "error",
               "error_description", "scopes", "reauth", "min_view_count", "min_like_count",
               "min_comment_count", "min_share_count", "lang", "tz", "account_id", "page", "x")

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
values = st.one_of(
    text,
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=150, max_size=600),
    st.integers(-(2**70), 2**70).map(str),
    st.dates(datetime(1, 1, 1).date(), datetime(9999, 12, 31).date()).map(str),
    st.sampled_from(["²", "９", "\x00", "-1", "1e309", "NaN", "", "0", "//evil.com", "/\\evil.com",
                     "javascript:alert(1)", "../..", "%00", "create_time", "view_count", "title", "asc",
                     "desc", "UTC", "Asia/Shanghai", "zh", "en", "2024-02-29", "2024-13-01"]),
    st.integers(-5, 10**6).map(URLSafeSerializer(SECRET, salt="videos-cursor").dumps),
    st.text(st.characters(whitelist_categories=("Nd", "No", "Nl")), min_size=1, max_size=3),
)
queries = st.builds(lambda known, other: {**other, **known},
                    st.dictionaries(st.sampled_from(PARAM_NAMES), values, max_size=6),
                    st.dictionaries(text, values, max_size=2))


def get_rules(app):
    return sorted((r for r in app.url_map.iter_rules() if "GET" in r.methods and r.endpoint != "static"),
                  key=lambda r: r.rule)


def post_rules(app, *, skip=()):
    return sorted((r for r in app.url_map.iter_rules() if "POST" in r.methods and r.rule not in skip),
                  key=lambda r: r.rule)


def fill(rule, data) -> str:
    """The rule's path with each variable drawn at random."""
    def value(match):
        return quote(data.draw(st.one_of(st.integers(0, 10**25).map(str), text.filter(bool)),
                               label=match.group(1)), safe="")

    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", value, rule.rule)


def assert_no_server_error(response, what):
    response.get_data()  # a streamed export runs to its end here
    # 502/504 are TikTok's failures reported as such; a 500 is ours.
    assert response.status_code < 500 or response.status_code in (502, 504), what
    assert response.status_code != 500, what


@pytest.fixture
def fuzz_app(make_app, sandbox_state):
    sandbox_state.rate_limit_per_minute = None
    return make_app(AUTH_RATE_LIMIT="100000 per minute")


@pytest.fixture
def owner(fuzz_app):
    client = fuzz_app.test_client()
    assert login(client, account="second").status_code == 200
    return client


# --- every route ---------------------------------------------------------------------------


@FUZZ
@given(data=st.data(), query=queries)
def test_no_query_crashes_a_page_for_its_owner(fuzz_app, owner, data, query):
    rule = data.draw(st.sampled_from(get_rules(fuzz_app)), label="rule")
    if rule.rule == "/callback":
        owner.get("/auth")  # a pending login, so the callback gets past its state check
    path = fill(rule, data)
    assert_no_server_error(owner.get(path, query_string=query), (path, query))


@FUZZ
@given(data=st.data(), query=queries)
def test_no_query_crashes_a_page_for_a_stranger(fuzz_app, data, query):
    rule = data.draw(st.sampled_from(get_rules(fuzz_app)), label="rule")
    path = fill(rule, data)
    assert_no_server_error(fuzz_app.test_client().get(path, query_string=query), (path, query))


FORM_NAMES = ("lang", "tz", "account_id", "next")
#: Numbers past the database's integers, and a few right at their edges.
BIG_NUMBERS = st.sampled_from(["1" + "0" * 30, str(2**63), str(-(2**63) - 1), "1" * 4000, str(2**63 - 1),
                               str(2**31), "-0", "0x10"])
form_values = st.one_of(values, BIG_NUMBERS)
forms = st.builds(lambda known, extra: {**extra, **known},
                  st.fixed_dictionaries({k: form_values for k in FORM_NAMES}), queries)


def _routed(app, path: str) -> bool:
    try:
        app.url_map.bind("localhost:5000").match(path.split("?")[0], method="POST")
    except HTTPException:
        return False
    return True


@FUZZ
@given(data=st.data(), form=forms)
def test_no_form_crashes_a_post_route(fuzz_app, owner, data, form):
    # TikTok's webhook checks a signature, not a CSRF token: tests/test_tiktok_webhook.py.
    rule = data.draw(st.sampled_from(post_rules(fuzz_app, skip=("/logout", "/account/delete",
                                                                "/webhooks/tiktok"))),
                     label="rule")
    path = fill(rule, data)
    token = data.draw(st.sampled_from(["valid", "valid", "missing", "forged"]), label="csrf")
    if token == "valid":
        form = {**form, "csrf_token": csrf_token(owner, "/privacy")}
    elif token == "forged":
        form = {**form, "csrf_token": "forged"}
    response = owner.post(path, data=form)
    assert_no_server_error(response, (path, form))
    if token != "valid":  # refused before anything runs; a path no route takes is a 404 first
        assert response.status_code == (400 if _routed(fuzz_app, path) else 404)
    assert owner.get("/videos").status_code == 200, "still logged in, still connected"


# --- whole syncs over arbitrary TikTok values ------------------------------------------------------

API = "https://api.fuzz.invalid"
anything = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
numbers = st.one_of(st.integers(-(2**70), 2**70), st.floats(), st.none(), st.booleans(), text)
USER_KEYS = ("open_id", "union_id", "avatar_url", "avatar_url_100", "avatar_large_url", "display_name",
             "bio_description", "profile_deep_link", "is_verified", "username", "follower_count",
             "following_count", "likes_count", "video_count")
VIDEO_KEYS = ("title", "video_description", "duration", "cover_image_url", "share_url", "embed_link",
              "width", "height", "like_count", "comment_count", "share_count", "view_count", "create_time")
users = st.fixed_dictionaries({}, optional={k: st.one_of(anything, numbers) for k in USER_KEYS})
video_ids = st.one_of(st.integers(0, 10**19).map(str), st.integers(0, 10**19),
                      st.integers(0, 10**19).map(str), st.integers(10**32, 10**40), text.filter(bool))
videos = st.builds(
    lambda vid, rest: {"id": vid, **rest},
    video_ids,
    st.fixed_dictionaries({}, optional={k: st.one_of(anything, numbers) for k in VIDEO_KEYS}),
)
PAGES = ("/", "/videos", "/videos?sort=title&order=asc", "/analytics", "/export/videos.csv",
         "/export/videos.json", "/export/history.csv", "/export/history.json")


def envelope(data):
    return {"data": data, "error": {"code": "ok", "message": "", "log_id": "20260101000000ABC"}}


@pytest.fixture
def api_app(make_app, monkeypatch):
    """An app whose TikTok is ``responses``, with one connected account and a browser."""
    monkeypatch.setattr(TikTokClient, "_retry_wait", lambda self, error, attempt: 0)
    app = make_app(TIKTOK_API_BASE=API)
    store = app.extensions["core"].store
    person_id, account_id = store.accounts.connect(None, "fuzz-open-id", "user.info.basic,user.info.profile,"
                                                  "user.info.stats,video.list")
    store.tokens.save(account_id, {"access_token": "act.fuzz", "refresh_token": "rft.fuzz",
                                  "expires_in": 86400, "refresh_expires_in": 86400 * 365,
                                  "scope": "user.info.basic,user.info.profile,user.info.stats,video.list"})
    client = app.test_client()
    with client.session_transaction() as session:
        session["person_id"], session["account_id"] = person_id, account_id
    return app, account_id, client


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(user=users, page=st.lists(videos, max_size=8), minutes=st.integers(0, 10**6))
def test_a_sync_of_arbitrary_tiktok_values_never_crashes_and_every_page_still_renders(
        api_app, user, page, minutes):
    from dashboard.core.sync import run_sync

    app, account_id, client = api_app
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{API}/v2/user/info/", json=envelope({"user": user}))
        api.post(f"{API}/v2/video/list/", json=envelope({"videos": page, "cursor": 1, "has_more": False}))
        api.post(f"{API}/v2/video/query/", json=envelope({"videos": page, "cursor": 0, "has_more": False}))
        with app.app_context():
            when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
            result = run_sync(app.extensions["core"], account_id, now=when)
        assert result.ok or result.code, result
        for path in PAGES:
            assert_no_server_error(client.get(path), (path, user, page))
        for video in app.extensions["core"].store.history.iter_videos(account_id):
            assert_no_server_error(client.get(f"/videos/{quote(video.video_id, safe='')}"), video.video_id)
    assert app.extensions["core"].store.accounts.get(account_id).sync_locked_until is None
    assert utcnow()  # the database is still usable
