"""Tests for tiktok_official_api: requests sent, responses interpreted, retries.

No network: every HTTP exchange goes through a ``responses.RequestsMock``
(unfired mocks fail the test) or, for property tests, a stub session.
Sleeps are recorded by a fake instead of waited for.
"""

import json
import logging
import pickle
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

import tiktok_official_api as api
from tiktok_official_api import (
    DEFAULT_TIMEOUT,
    SCOPE_FIELDS,
    USER_FIELDS,
    VIDEO_FIELDS,
    TikTokAPIError,
    TikTokAuthError,
    TikTokClient,
    TikTokConnectionError,
    TikTokOAuthError,
    TikTokRateLimitError,
    TikTokResponseError,
    TikTokScopeError,
    VideoPage,
    error_from_response,
    user_fields_for_scopes,
)

BASE = "https://open.tiktokapis.com"
USER_URL = BASE + "/v2/user/info/"
LIST_URL = BASE + "/v2/video/list/"
QUERY_URL = BASE + "/v2/video/query/"
TOKEN_URL = BASE + "/v2/oauth/token/"
REVOKE_URL = BASE + "/v2/oauth/revoke/"

ACCESS_TOKEN = "act.SECRET-access-token-0001"
REFRESH_TOKEN = "rft.SECRET-refresh-token-0002"
NEW_REFRESH_TOKEN = "rft.SECRET-rotated-token-0003"
CLIENT_KEY = "ck-FAKE-client-key"
CLIENT_SECRET = "cs-SECRET-client-secret-0004"
AUTH_CODE = "FAKEcode-BELY*0!6410"
REDIRECT_URI = "https://dash.example.invalid/callback/"
LOG_ID = "20261125120000FAKE0000000000000001"

TOKEN_RESPONSE = {
    "access_token": ACCESS_TOKEN,
    "expires_in": 86400,
    "open_id": "-000FAKEopenid-1111-2222",
    "refresh_expires_in": 31536000,
    "refresh_token": NEW_REFRESH_TOKEN,
    "scope": "user.info.basic,video.list",
    "token_type": "Bearer",
}


# --------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(sleeps):
    return TikTokClient(ACCESS_TOKEN, sleep=sleeps.append)


def ok(data):
    return {"data": data, "error": {"code": "ok", "message": "", "log_id": LOG_ID}}


def api_error(code, message="Something went wrong"):
    return {"data": {}, "error": {"code": code, "message": message, "log_id": LOG_ID}}


def video(video_id, **extra):
    return {
        "id": video_id,
        "create_time": 1764000000,
        "title": f"Video {video_id}",
        **extra,
    }


def page(ids, cursor, has_more):
    return ok(
        {"videos": [video(i) for i in ids], "cursor": cursor, "has_more": has_more}
    )


def query_of(call):
    return parse_qs(urlsplit(call.request.url).query)


def json_body(call):
    return json.loads(call.request.body)


def form_body(call):
    body = call.request.body
    body = body.decode() if isinstance(body, bytes) else body
    return parse_qs(body, keep_blank_values=True)


def make_response(status, content, headers=None):
    response = requests.Response()
    response.status_code = status
    response._content = content
    response.headers = CaseInsensitiveDict(headers or {})
    return response


def exchange(client):
    return client.exchange_code(
        client_key=CLIENT_KEY,
        client_secret=CLIENT_SECRET,
        code=AUTH_CODE,
        redirect_uri=REDIRECT_URI,
    )


def refresh(client):
    return client.refresh_access_token(
        client_key=CLIENT_KEY, client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN
    )


# --------------------------------------------------------------------------
# Scopes and fields
# --------------------------------------------------------------------------


def test_scope_fields_partition_exactly_the_documented_user_fields():
    listed = [field for fields in SCOPE_FIELDS.values() for field in fields]
    assert sorted(listed) == sorted(USER_FIELDS)
    assert len(listed) == len(set(listed)) == 14


def test_video_fields_are_the_dashboard_set():
    assert VIDEO_FIELDS[0] == "id"
    assert {"cover_image_url", "view_count", "width", "height"} <= set(VIDEO_FIELDS)
    assert len(VIDEO_FIELDS) == 14


def test_user_fields_for_scopes_returns_allowed_fields_in_user_fields_order():
    fields = user_fields_for_scopes(
        ["user.info.stats", "user.info.basic", "video.list"]
    )
    assert fields == [
        "open_id",
        "union_id",
        "avatar_url",
        "avatar_url_100",
        "avatar_large_url",
        "display_name",
        "follower_count",
        "following_count",
        "likes_count",
        "video_count",
    ]


def test_user_fields_for_scopes_accepts_the_token_scope_string():
    assert user_fields_for_scopes("user.info.basic, user.info.profile") == list(
        USER_FIELDS[:10]
    )
    assert user_fields_for_scopes("video.list") == []
    assert user_fields_for_scopes("") == []


# --------------------------------------------------------------------------
# Requests sent
# --------------------------------------------------------------------------


def test_get_user_info_sends_bearer_header_fields_query_and_timeout(rsps, client):
    rsps.get(USER_URL, json=ok({"user": {"open_id": "o1", "display_name": "Fixture"}}))

    user = client.get_user_info(["open_id", "display_name"])

    assert user == {"open_id": "o1", "display_name": "Fixture"}
    call = rsps.calls[0]
    assert query_of(call) == {"fields": ["open_id,display_name"]}
    assert call.request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert call.request.body is None
    assert call.request.req_kwargs["timeout"] == DEFAULT_TIMEOUT == (5, 20)


def test_custom_timeout_is_passed_on_every_call(rsps):
    client = TikTokClient(ACCESS_TOKEN, timeout=(1, 2))
    rsps.get(USER_URL, json=ok({"user": {}}))
    rsps.post(LIST_URL, json=page([], 0, False))
    rsps.post(TOKEN_URL, json=TOKEN_RESPONSE)

    client.get_user_info(["open_id"])
    client.list_videos()
    refresh(client)

    assert [c.request.req_kwargs["timeout"] for c in rsps.calls] == [(1, 2)] * 3


def test_base_url_path_prefix_and_trailing_slash_are_joined(rsps):
    client = TikTokClient(ACCESS_TOKEN, base_url="http://127.0.0.1:5001/sandbox/")
    rsps.get(
        "http://127.0.0.1:5001/sandbox/v2/user/info/",
        json=ok({"user": {"open_id": "x"}}),
    )

    assert client.get_user_info(["open_id"]) == {"open_id": "x"}


def test_get_user_info_rejects_empty_fields_without_a_request(rsps, client):
    with pytest.raises(ValueError):
        client.get_user_info([])


def test_list_videos_sends_fields_in_query_and_cursor_in_json_body(rsps, client):
    rsps.post(LIST_URL, json=page(["7400000000000000001"], 1763900000000, True))

    result = client.list_videos(
        cursor=1764000000000, max_count=5, fields=("id", "title")
    )

    call = rsps.calls[0]
    assert query_of(call) == {"fields": ["id,title"]}
    assert json_body(call) == {"max_count": 5, "cursor": 1764000000000}
    assert call.request.headers["Content-Type"] == "application/json"
    assert call.request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert result == VideoPage(
        videos=[video("7400000000000000001")], cursor=1763900000000, has_more=True
    )


def test_list_videos_omits_cursor_and_asks_for_all_video_fields_by_default(
    rsps, client
):
    rsps.post(LIST_URL, json=page([], 0, False))

    client.list_videos()

    call = rsps.calls[0]
    assert json_body(call) == {"max_count": 20}
    assert query_of(call) == {"fields": [",".join(VIDEO_FIELDS)]}


@pytest.mark.parametrize("max_count", [0, 21, -1, True, 2.5, "5", None])
def test_list_videos_rejects_max_count_outside_1_to_20(rsps, client, max_count):
    with pytest.raises(ValueError):
        client.list_videos(max_count=max_count)


@pytest.mark.parametrize("cursor", ["123", 1.5, True])
def test_list_videos_rejects_non_int_cursor(rsps, client, cursor):
    with pytest.raises(ValueError):
        client.list_videos(cursor=cursor)


def test_list_videos_converts_int_ids_to_strings(rsps, client):
    body = ok(
        {
            "videos": [{"id": 7400000000000000001, "title": "t"}],
            "cursor": 5,
            "has_more": False,
        }
    )
    rsps.post(LIST_URL, json=body)

    result = client.list_videos()

    assert result.videos == [{"id": "7400000000000000001", "title": "t"}]


def test_list_videos_accepts_missing_cursor_on_the_last_page(rsps, client):
    rsps.post(LIST_URL, json=ok({"videos": [], "has_more": False}))

    assert client.list_videos() == VideoPage(videos=[], cursor=None, has_more=False)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"error": {"code": "ok", "log_id": LOG_ID}}, id="missing-data"),
        pytest.param({"data": None, "error": {"code": "ok"}}, id="null-data"),
        pytest.param({"data": [], "error": {"code": "ok"}}, id="data-list"),
        pytest.param(
            ok({"videos": {}, "cursor": 1, "has_more": False}), id="videos-dict"
        ),
        pytest.param(
            ok({"videos": ["x"], "cursor": 1, "has_more": False}), id="video-str"
        ),
        pytest.param(
            ok({"videos": [{"title": "t"}], "cursor": 1, "has_more": False}), id="no-id"
        ),
        pytest.param(
            ok({"videos": [{"id": True}], "cursor": 1, "has_more": False}), id="bool-id"
        ),
        pytest.param(
            ok({"videos": [{"id": ""}], "cursor": 1, "has_more": False}), id="empty-id"
        ),
        pytest.param(
            ok({"videos": [], "cursor": 1, "has_more": "true"}), id="has-more-str"
        ),
        pytest.param(ok({"videos": [], "cursor": 1}), id="no-has-more"),
        pytest.param(
            ok({"videos": [], "cursor": "1", "has_more": True}), id="cursor-str"
        ),
        pytest.param(ok({"videos": [], "has_more": True}), id="more-without-cursor"),
    ],
)
def test_list_videos_rejects_undocumented_shapes(rsps, client, sleeps, body):
    rsps.post(LIST_URL, json=body)

    with pytest.raises(TikTokResponseError) as info:
        client.list_videos()

    assert info.value.code == "malformed_response"
    assert sleeps == []


def test_get_user_info_rejects_missing_user_object(rsps, client):
    rsps.get(USER_URL, json=ok({}))

    with pytest.raises(TikTokResponseError) as info:
        client.get_user_info(["open_id"])

    assert info.value.log_id == LOG_ID


def test_client_without_access_token_refuses_data_calls_without_a_request(rsps):
    with pytest.raises(TikTokAuthError) as info:
        TikTokClient().get_user_info(["open_id"])
    assert info.value.code == "access_token_missing"


def test_client_repr_hides_the_access_token():
    assert ACCESS_TOKEN not in repr(TikTokClient(ACCESS_TOKEN))


# --------------------------------------------------------------------------
# Pagination
# --------------------------------------------------------------------------


def test_iter_videos_walks_three_pages_past_a_short_middle_page(rsps, client):
    rsps.post(LIST_URL, json=page(["v1", "v2", "v3"], 300, True))
    rsps.post(LIST_URL, json=page(["v4"], 200, True))
    rsps.post(LIST_URL, json=page(["v5", "v6"], 100, False))

    ids = [v["id"] for v in client.iter_videos(max_count=3)]

    assert ids == ["v1", "v2", "v3", "v4", "v5", "v6"]
    bodies = [json_body(c) for c in rsps.calls]
    assert bodies == [
        {"max_count": 3},
        {"max_count": 3, "cursor": 300},
        {"max_count": 3, "cursor": 200},
    ]


def test_iter_videos_continues_after_an_empty_page_with_has_more(rsps, client):
    rsps.post(LIST_URL, json=page(["v1"], 300, True))
    rsps.post(LIST_URL, json=page([], 200, True))
    rsps.post(LIST_URL, json=page(["v2"], 100, False))

    assert [v["id"] for v in client.iter_videos()] == ["v1", "v2"]


def test_iter_videos_is_lazy(rsps, client):
    rsps.post(LIST_URL, json=page(["v1"], 300, True))

    first = next(client.iter_videos())

    assert first["id"] == "v1"
    assert len(rsps.calls) == 1


def test_iter_videos_raises_when_server_repeats_the_same_cursor(rsps, client):
    rsps.post(LIST_URL, json=page(["v1"], 300, True))
    rsps.post(LIST_URL, json=page(["v2"], 300, True))

    seen = []
    with pytest.raises(TikTokResponseError):
        for item in client.iter_videos():
            seen.append(item["id"])

    assert seen == ["v1", "v2"]
    assert len(rsps.calls) == 2


def test_iter_videos_raises_when_server_cycles_between_cursors(rsps, client):
    rsps.post(LIST_URL, json=page(["v1"], 300, True))
    rsps.post(LIST_URL, json=page(["v2"], 200, True))
    rsps.post(LIST_URL, json=page(["v3"], 300, True))

    with pytest.raises(TikTokResponseError):
        list(client.iter_videos())

    assert len(rsps.calls) == 3


# --------------------------------------------------------------------------
# query_videos
# --------------------------------------------------------------------------


def test_query_videos_sends_string_ids_in_filters_and_fields_in_query(rsps, client):
    rsps.post(
        QUERY_URL,
        json=ok(
            {"videos": [video(7400000000000000001)], "cursor": 0, "has_more": False}
        ),
    )

    videos = client.query_videos(
        ["7400000000000000002", 7400000000000000001], fields=["id", "cover_image_url"]
    )

    call = rsps.calls[0]
    assert json_body(call) == {
        "filters": {"video_ids": ["7400000000000000002", "7400000000000000001"]}
    }
    assert query_of(call) == {"fields": ["id,cover_image_url"]}
    assert call.request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert videos[0]["id"] == "7400000000000000001"


def test_query_videos_rejects_a_bare_string_as_the_id_list(rsps, client):
    with pytest.raises(TypeError):
        client.query_videos("7400000000000000001")


def test_query_videos_accepts_exactly_twenty_ids(rsps, client):
    rsps.post(QUERY_URL, json=ok({"videos": []}))

    assert client.query_videos([str(i) for i in range(20)]) == []
    assert len(json_body(rsps.calls[0])["filters"]["video_ids"]) == 20


@pytest.mark.parametrize(
    "ids",
    [
        pytest.param([], id="empty"),
        pytest.param([str(i) for i in range(21)], id="twenty-one"),
        pytest.param([None], id="none-id"),
        pytest.param([""], id="empty-id"),
        pytest.param([1.5], id="float-id"),
    ],
)
def test_query_videos_rejects_bad_id_lists_without_a_request(rsps, client, ids):
    with pytest.raises(ValueError):
        client.query_videos(ids)


def test_query_videos_is_retried_as_a_read(rsps, client, sleeps):
    rsps.post(QUERY_URL, status=503, body="unavailable")
    rsps.post(QUERY_URL, json=ok({"videos": [video("1")]}))

    assert client.query_videos(["1"]) == [video("1")]
    assert sleeps == [0.5]


# --------------------------------------------------------------------------
# Error mapping
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "error_class"),
    [
        (401, "access_token_invalid", TikTokAuthError),
        (401, "scope_not_authorized", TikTokScopeError),
        (400, "scope_permission_missed", TikTokScopeError),
        (400, "invalid_params", TikTokAPIError),
        (429, "rate_limit_exceeded", TikTokRateLimitError),
        (500, "internal_error", TikTokAPIError),
        (200, "access_token_invalid", TikTokAuthError),
        (200, "invalid_params", TikTokAPIError),
    ],
)
def test_documented_error_codes_map_to_exception_classes(
    rsps, status, code, error_class
):
    client = TikTokClient(ACCESS_TOKEN, max_retries=0)
    rsps.get(USER_URL, status=status, json=api_error(code, "Detailed message"))

    with pytest.raises(TikTokAPIError) as info:
        client.get_user_info(["open_id"])

    error = info.value
    assert type(error) is error_class
    assert (error.code, error.log_id, error.http_status) == (code, LOG_ID, status)
    assert error.message == "Detailed message"


def test_non_ok_code_with_http_200_is_a_failure(rsps, client):
    rsps.post(LIST_URL, json=api_error("scope_permission_missed"))

    with pytest.raises(TikTokScopeError) as info:
        client.list_videos()

    assert info.value.http_status == 200


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="empty"),
        pytest.param(None, id="null"),
        pytest.param(..., id="absent"),
    ],
)
def test_error_bodies_with_any_data_payload_are_mapped(rsps, client, data):
    body = {
        "error": {"code": "scope_permission_missed", "message": "m", "log_id": LOG_ID}
    }
    if data is not ...:
        body["data"] = data
    rsps.get(USER_URL, status=400, json=body)

    with pytest.raises(TikTokScopeError):
        client.get_user_info(["follower_count"])


def test_error_str_includes_message_code_and_log_id():
    error = TikTokAPIError(
        "Boom", code="internal_error", log_id=LOG_ID, http_status=500
    )

    assert str(error) == f"Boom (code=internal_error, log_id={LOG_ID})"
    assert str(TikTokAPIError("Plain")) == "Plain"


def test_errors_survive_pickling_with_their_fields():
    error = TikTokRateLimitError(
        "slow",
        code="rate_limit_exceeded",
        log_id=LOG_ID,
        http_status=429,
        retry_after=2.0,
    )

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is TikTokRateLimitError
    assert (copy.code, copy.log_id, copy.http_status, copy.retry_after) == (
        "rate_limit_exceeded",
        LOG_ID,
        429,
        2.0,
    )


@pytest.mark.parametrize(
    ("status", "error_class", "code"),
    [
        (500, TikTokAPIError, "http_500"),
        (502, TikTokAPIError, "http_502"),
        (404, TikTokAPIError, "http_404"),
        (401, TikTokAuthError, "http_401"),
        (429, TikTokRateLimitError, "rate_limit_exceeded"),
    ],
)
def test_http_error_status_without_json_body_is_an_error(status, error_class, code):
    response = make_response(status, b"<html>Bad Gateway</html>")

    error = error_from_response(response)

    assert type(error) is error_class
    assert (error.code, error.http_status) == (code, status)


def test_http_error_status_with_ok_code_is_still_an_error():
    response = make_response(503, json.dumps(ok({})).encode())

    error = error_from_response(response)

    assert (error.code, error.log_id) == ("http_503", LOG_ID)


def test_success_bodies_carry_no_error():
    assert error_from_response(make_response(200, json.dumps(ok({})).encode())) is None
    assert (
        error_from_response(make_response(200, json.dumps(TOKEN_RESPONSE).encode()))
        is None
    )
    assert error_from_response(make_response(200, b"")) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("1.5", 1.5),
        ("-5", 0.0),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("nan", None),
    ],
)
def test_retry_after_header_is_read_as_seconds(header, expected):
    response = make_response(429, b"", {"Retry-After": header})

    assert error_from_response(response).retry_after == expected


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"<html>oops</html>", id="not-json"),
        pytest.param(b'{"data": {"videos": [', id="truncated"),
        pytest.param(b"[1, 2, 3]", id="list"),
        pytest.param(b'"ok"', id="string"),
        pytest.param(b"\xff\xfe\x00garbage", id="bad-bytes"),
        pytest.param(
            b'{"data": {}, "error": {"message": "no code"}}', id="error-without-code"
        ),
        pytest.param(b'{"data": {}, "error": 5}', id="error-number"),
    ],
)
def test_malformed_success_body_raises_response_error_without_retry(
    rsps, client, sleeps, content
):
    rsps.get(USER_URL, body=content, status=200)

    with pytest.raises(TikTokResponseError) as info:
        client.get_user_info(["open_id"])

    assert info.value.code == "malformed_response"
    assert len(rsps.calls) == 1
    assert sleeps == []


# --------------------------------------------------------------------------
# Retries
# --------------------------------------------------------------------------


def test_rate_limit_without_retry_after_backs_off_exponentially_then_raises(
    rsps, client, sleeps
):
    for _ in range(4):
        rsps.get(USER_URL, status=429, json=api_error("rate_limit_exceeded"))

    with pytest.raises(TikTokRateLimitError) as info:
        client.get_user_info(["open_id"])

    assert sleeps == [0.5, 1.0, 2.0]
    assert len(rsps.calls) == 4
    assert info.value.retry_after is None
    assert info.value.log_id == LOG_ID


def test_rate_limit_honours_retry_after_then_succeeds(rsps, client, sleeps):
    rsps.get(
        USER_URL,
        status=429,
        json=api_error("rate_limit_exceeded"),
        headers={"Retry-After": "2"},
    )
    rsps.get(USER_URL, json=ok({"user": {"open_id": "o1"}}))

    assert client.get_user_info(["open_id"]) == {"open_id": "o1"}
    assert sleeps == [2.0]


def test_retry_after_is_capped_at_max_retry_wait_and_reported(rsps, sleeps):
    client = TikTokClient(
        ACCESS_TOKEN, max_retries=1, max_retry_wait=10.0, sleep=sleeps.append
    )
    for _ in range(2):
        rsps.post(LIST_URL, status=429, body="", headers={"Retry-After": "120"})

    with pytest.raises(TikTokRateLimitError) as info:
        client.list_videos()

    assert sleeps == [10.0]
    assert info.value.retry_after == 120.0


def test_backoff_is_capped_at_max_retry_wait(rsps, sleeps):
    client = TikTokClient(
        ACCESS_TOKEN, max_retries=3, backoff=4, max_retry_wait=10.0, sleep=sleeps.append
    )
    for _ in range(4):
        rsps.get(USER_URL, status=500, json=api_error("internal_error"))

    with pytest.raises(TikTokAPIError):
        client.get_user_info(["open_id"])

    assert sleeps == [4, 8, 10.0]


def test_internal_error_is_retried_then_succeeds(rsps, client, sleeps):
    rsps.post(LIST_URL, status=500, json=api_error("internal_error"))
    rsps.post(LIST_URL, json=page(["v1"], 1, False))

    assert [v["id"] for v in client.list_videos().videos] == ["v1"]
    assert sleeps == [0.5]


def test_server_error_with_html_body_is_retried_then_mapped_to_http_status(
    rsps, client, sleeps
):
    for _ in range(4):
        rsps.get(USER_URL, status=502, body="<html>Bad Gateway</html>")

    with pytest.raises(TikTokAPIError) as info:
        client.get_user_info(["open_id"])

    assert (info.value.code, info.value.http_status) == ("http_502", 502)
    assert len(rsps.calls) == 4
    assert sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    ("exception", "code"),
    [
        (requests.exceptions.ConnectionError("reset by peer"), "connection_error"),
        (requests.exceptions.ReadTimeout("read timed out"), "timeout"),
        (requests.exceptions.ConnectTimeout("connect timed out"), "timeout"),
        (
            requests.exceptions.ChunkedEncodingError("truncated chunk"),
            "connection_error",
        ),
    ],
)
def test_connection_failures_are_retried_then_mapped(rsps, sleeps, exception, code):
    client = TikTokClient(ACCESS_TOKEN, max_retries=2, sleep=sleeps.append)
    for _ in range(3):
        rsps.get(USER_URL, body=exception)

    with pytest.raises(TikTokConnectionError) as info:
        client.get_user_info(["open_id"])

    assert info.value.code == code
    assert len(rsps.calls) == 3
    assert sleeps == [0.5, 1.0]


def test_connection_error_then_success_returns_data(rsps, client, sleeps):
    rsps.get(USER_URL, body=requests.exceptions.ConnectionError("reset"))
    rsps.get(USER_URL, json=ok({"user": {"open_id": "o1"}}))

    assert client.get_user_info(["open_id"]) == {"open_id": "o1"}
    assert sleeps == [0.5]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, "access_token_invalid"),
        (400, "scope_permission_missed"),
        (400, "invalid_params"),
    ],
)
def test_client_errors_are_not_retried(rsps, client, sleeps, status, code):
    rsps.get(USER_URL, status=status, json=api_error(code))

    with pytest.raises(TikTokAPIError):
        client.get_user_info(["open_id"])

    assert len(rsps.calls) == 1
    assert sleeps == []


def test_max_retries_zero_makes_a_single_attempt(rsps, sleeps):
    client = TikTokClient(ACCESS_TOKEN, max_retries=0, sleep=sleeps.append)
    rsps.get(USER_URL, status=503, body="")

    with pytest.raises(TikTokAPIError):
        client.get_user_info(["open_id"])

    assert sleeps == []


# --------------------------------------------------------------------------
# Throttle: the shared call budget
# --------------------------------------------------------------------------


class RecordingThrottle:
    """Records ``acquire``/``back_off`` calls, with how many requests were sent by then."""

    def __init__(self, rsps, events):
        self.rsps = rsps
        self.events = events

    def acquire(self, endpoint):
        self.events.append(("acquire", endpoint, len(self.rsps.calls)))

    def back_off(self, seconds):
        self.events.append(("back_off", seconds, len(self.rsps.calls)))


class BudgetSpent(Exception):
    """What a throttle raises when it gives up waiting."""


@pytest.fixture
def events():
    return []


@pytest.fixture
def throttled(rsps, events):
    """A client whose sleeps and throttle calls land in one ``events`` list."""

    def build(**options):
        return TikTokClient(
            ACCESS_TOKEN,
            sleep=lambda seconds: events.append(("sleep", seconds)),
            throttle=RecordingThrottle(rsps, events),
            **options,
        )

    return build


def test_throttle_is_acquired_before_each_display_api_call_with_its_path(
    rsps, throttled, events
):
    rsps.get(USER_URL, json=ok({"user": {"open_id": "o1"}}))
    rsps.post(LIST_URL, json=page(["v1"], 1, False))
    rsps.post(QUERY_URL, json=ok({"videos": [video("v1")]}))
    client = throttled()

    client.get_user_info(["open_id"])
    client.list_videos()
    client.query_videos(["v1"])

    assert events == [
        ("acquire", "/v2/user/info/", 0),
        ("acquire", "/v2/video/list/", 1),
        ("acquire", "/v2/video/query/", 2),
    ]


def test_throttle_is_acquired_once_per_attempt_of_a_retried_call(
    rsps, throttled, events
):
    rsps.post(LIST_URL, status=500, json=api_error("internal_error"))
    rsps.post(LIST_URL, body=requests.exceptions.ConnectionError("reset"))
    rsps.post(LIST_URL, json=page([], 0, False))

    throttled().list_videos()

    assert events == [
        ("acquire", "/v2/video/list/", 0),
        ("sleep", 0.5),
        ("acquire", "/v2/video/list/", 1),
        ("sleep", 1.0),
        ("acquire", "/v2/video/list/", 2),
    ]


def test_rate_limit_backs_off_the_throttle_with_retry_after_before_retrying(
    rsps, throttled, events
):
    rsps.get(
        USER_URL,
        status=429,
        json=api_error("rate_limit_exceeded"),
        headers={"Retry-After": "7"},
    )
    rsps.get(USER_URL, json=ok({"user": {"open_id": "o1"}}))

    throttled().get_user_info(["open_id"])

    assert events == [
        ("acquire", "/v2/user/info/", 0),
        ("back_off", 7.0, 1),
        ("sleep", 7.0),
        ("acquire", "/v2/user/info/", 1),
    ]


def test_rate_limit_without_retry_after_backs_off_with_the_clients_own_wait(
    rsps, throttled, events
):
    rsps.post(QUERY_URL, status=429, body="")
    rsps.post(QUERY_URL, status=200, json=api_error("rate_limit_exceeded"))
    rsps.post(QUERY_URL, json=ok({"videos": []}))

    throttled().query_videos(["v1"])

    assert [e[:2] for e in events if e[0] == "back_off"] == [
        ("back_off", 0.5),
        ("back_off", 1.0),
    ]


def test_throttle_hears_the_full_retry_after_even_beyond_max_retry_wait(
    rsps, throttled, events
):
    rsps.post(LIST_URL, status=429, body="", headers={"Retry-After": "120"})
    rsps.post(LIST_URL, json=page([], 0, False))

    throttled(max_retry_wait=10.0).list_videos()

    assert [e[:2] for e in events if e[0] in {"back_off", "sleep"}] == [
        ("back_off", 120.0),
        ("sleep", 10.0),
    ]


def test_rate_limit_on_the_last_attempt_still_backs_off_the_throttle(
    rsps, throttled, events
):
    rsps.post(LIST_URL, status=429, body="", headers={"Retry-After": "3"})

    with pytest.raises(TikTokRateLimitError):
        throttled(max_retries=0).list_videos()

    assert events == [("acquire", "/v2/video/list/", 0), ("back_off", 3.0, 1)]


def revoke(client):
    return client.revoke_token(
        client_key=CLIENT_KEY, client_secret=CLIENT_SECRET, token=ACCESS_TOKEN
    )


@pytest.mark.parametrize(
    ("make_call", "url"),
    [
        pytest.param(exchange, TOKEN_URL, id="exchange"),
        pytest.param(refresh, TOKEN_URL, id="refresh"),
        pytest.param(revoke, REVOKE_URL, id="revoke"),
    ],
)
@pytest.mark.parametrize(
    "mock",
    [
        pytest.param({"json": TOKEN_RESPONSE}, id="ok"),
        pytest.param(
            {"status": 429, "body": "", "headers": {"Retry-After": "9"}}, id="http-429"
        ),
    ],
)
def test_oauth_calls_never_touch_the_throttle(
    rsps, throttled, events, make_call, url, mock
):
    rsps.post(url, **mock)

    try:
        make_call(throttled())
    except TikTokRateLimitError:
        pass

    assert len(rsps.calls) == 1
    assert events == []


def test_throttle_errors_propagate_without_a_request(rsps, sleeps):
    class SpentThrottle:
        def acquire(self, endpoint):
            raise BudgetSpent(endpoint)

        def back_off(self, seconds):
            raise AssertionError("no attempt was made")

    client = TikTokClient(ACCESS_TOKEN, sleep=sleeps.append, throttle=SpentThrottle())

    with pytest.raises(BudgetSpent, match="/v2/video/list/"):
        client.list_videos()

    assert len(rsps.calls) == 0


def test_client_without_access_token_spends_no_budget(rsps, events):
    client = TikTokClient(None, throttle=RecordingThrottle(rsps, events))

    with pytest.raises(TikTokAuthError):
        client.get_user_info(["open_id"])

    assert events == []


# --------------------------------------------------------------------------
# OAuth token endpoints
# --------------------------------------------------------------------------


def test_exchange_code_posts_form_body_without_bearer(rsps, client):
    rsps.post(TOKEN_URL, json=TOKEN_RESPONSE)

    token = exchange(client)

    assert token == TOKEN_RESPONSE
    call = rsps.calls[0]
    assert form_body(call) == {
        "client_key": [CLIENT_KEY],
        "client_secret": [CLIENT_SECRET],
        "code": [AUTH_CODE],
        "grant_type": ["authorization_code"],
        "redirect_uri": [REDIRECT_URI],
    }
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.request.headers["Cache-Control"] == "no-cache"
    assert "Authorization" not in call.request.headers
    assert call.request.req_kwargs["timeout"] == DEFAULT_TIMEOUT


def test_exchange_code_encodes_star_and_bang_in_the_code_exactly_once(rsps, client):
    rsps.post(TOKEN_URL, json=TOKEN_RESPONSE)

    exchange(client)

    raw = rsps.calls[0].request.body
    raw = raw.decode() if isinstance(raw, bytes) else raw
    assert "code=FAKEcode-BELY%2A0%216410&" in raw
    assert "%25" not in raw


def test_exchange_code_sends_code_verifier_only_when_given(rsps, client):
    rsps.post(TOKEN_URL, json=TOKEN_RESPONSE)
    rsps.post(TOKEN_URL, json=TOKEN_RESPONSE)

    exchange(client)
    client.exchange_code(
        client_key=CLIENT_KEY,
        client_secret=CLIENT_SECRET,
        code=AUTH_CODE,
        redirect_uri=REDIRECT_URI,
        code_verifier="v" * 43,
    )

    assert "code_verifier" not in form_body(rsps.calls[0])
    assert form_body(rsps.calls[1])["code_verifier"] == ["v" * 43]


def test_oauth_calls_work_without_an_access_token(rsps):
    rsps.post(TOKEN_URL, json=TOKEN_RESPONSE)

    assert exchange(TikTokClient())["open_id"] == TOKEN_RESPONSE["open_id"]
    assert "Authorization" not in rsps.calls[0].request.headers


def test_refresh_access_token_posts_refresh_grant_and_returns_rotated_token(
    rsps, client
):
    rsps.post(TOKEN_URL, json=TOKEN_RESPONSE)

    token = refresh(client)

    assert token["refresh_token"] == NEW_REFRESH_TOKEN
    assert form_body(rsps.calls[0]) == {
        "client_key": [CLIENT_KEY],
        "client_secret": [CLIENT_SECRET],
        "grant_type": ["refresh_token"],
        "refresh_token": [REFRESH_TOKEN],
    }
    assert rsps.calls[0].request.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("status", [200, 400])
def test_invalid_grant_is_an_auth_error_whatever_the_status(rsps, client, status):
    rsps.post(
        TOKEN_URL,
        status=status,
        json={
            "error": "invalid_grant",
            "error_description": "Authorization code is expired.",
            "log_id": LOG_ID,
        },
    )

    with pytest.raises(TikTokAuthError) as info:
        exchange(client)

    error = info.value
    assert (error.code, error.log_id, error.http_status) == (
        "invalid_grant",
        LOG_ID,
        status,
    )
    assert error.message == "Authorization code is expired."


@pytest.mark.parametrize("status", [200, 400])
def test_other_oauth_errors_raise_oauth_error_with_the_error_string_as_code(
    rsps, client, status
):
    rsps.post(
        TOKEN_URL,
        status=status,
        json={
            "error": "invalid_request",
            "error_description": "The request parameters are malformed.",
            "log_id": LOG_ID,
        },
    )

    with pytest.raises(TikTokOAuthError) as info:
        refresh(client)

    assert (info.value.code, info.value.log_id) == ("invalid_request", LOG_ID)
    assert "The request parameters are malformed." in str(info.value)


@pytest.mark.parametrize(
    "make_call",
    [pytest.param(exchange, id="exchange"), pytest.param(refresh, id="refresh")],
)
@pytest.mark.parametrize(
    "mock",
    [
        pytest.param({"status": 500, "body": "oops"}, id="http-500"),
        pytest.param(
            {"status": 429, "body": "", "headers": {"Retry-After": "1"}}, id="http-429"
        ),
        pytest.param(
            {"status": 200, "json": {"error": "temporarily_unavailable"}}, id="oauth"
        ),
        pytest.param({"body": requests.exceptions.ConnectionError("reset")}, id="conn"),
        pytest.param({"body": requests.exceptions.ReadTimeout("slow")}, id="timeout"),
    ],
)
def test_token_exchange_and_refresh_are_never_retried(
    rsps, client, sleeps, make_call, mock
):
    rsps.post(TOKEN_URL, **mock)

    with pytest.raises(TikTokAPIError):
        make_call(client)

    assert len(rsps.calls) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "field",
    [
        "access_token",
        "expires_in",
        "open_id",
        "refresh_token",
        "refresh_expires_in",
        "scope",
    ],
)
def test_token_response_missing_a_field_is_a_response_error(rsps, client, field):
    body = {k: v for k, v in TOKEN_RESPONSE.items() if k != field}
    rsps.post(TOKEN_URL, json=body)

    with pytest.raises(TikTokResponseError) as info:
        exchange(client)

    assert field in info.value.message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("expires_in", "86400"),
        ("expires_in", True),
        ("refresh_expires_in", 1.5),
        ("access_token", 123),
        ("scope", None),
    ],
)
def test_token_response_with_wrong_types_is_a_response_error(
    rsps, client, field, value
):
    rsps.post(TOKEN_URL, json={**TOKEN_RESPONSE, field: value})

    with pytest.raises(TikTokResponseError):
        refresh(client)


def test_v1_wrapped_token_response_is_rejected(rsps, client):
    rsps.post(
        TOKEN_URL,
        json={"data": {**TOKEN_RESPONSE, "error_code": 0}, "message": "success"},
    )

    with pytest.raises(TikTokResponseError):
        exchange(client)


@pytest.mark.parametrize(
    "mock",
    [
        pytest.param({"body": ""}, id="empty"),
        pytest.param({"json": {}}, id="empty-json"),
        pytest.param({"json": {"log_id": LOG_ID}}, id="json-without-error"),
    ],
)
def test_revoke_token_succeeds_on_empty_or_error_free_body(rsps, client, mock):
    rsps.post(REVOKE_URL, **mock)

    assert (
        client.revoke_token(
            client_key=CLIENT_KEY, client_secret=CLIENT_SECRET, token=ACCESS_TOKEN
        )
        is None
    )

    call = rsps.calls[0]
    assert form_body(call) == {
        "client_key": [CLIENT_KEY],
        "client_secret": [CLIENT_SECRET],
        "token": [ACCESS_TOKEN],
    }
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in call.request.headers


def test_revoke_token_raises_on_oauth_error_without_retry(rsps, client, sleeps):
    rsps.post(
        REVOKE_URL,
        json={"error": "invalid_client", "error_description": "bad", "log_id": LOG_ID},
    )

    with pytest.raises(TikTokOAuthError) as info:
        client.revoke_token(
            client_key=CLIENT_KEY, client_secret=CLIENT_SECRET, token=ACCESS_TOKEN
        )

    assert info.value.code == "invalid_client"
    assert sleeps == []


# --------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------


def test_logs_carry_path_status_code_and_log_id_but_never_secrets(rsps, client, caplog):
    caplog.set_level(logging.DEBUG)
    rsps.post(TOKEN_URL, json=TOKEN_RESPONSE)
    rsps.post(
        TOKEN_URL,
        status=400,
        json={
            "error": "invalid_grant",
            "log_id": LOG_ID,
            "error_description": "Refresh token is invalid.",
        },
    )
    rsps.get(USER_URL, status=401, json=api_error("access_token_invalid"))
    rsps.post(
        LIST_URL, body=requests.exceptions.ConnectionError(f"reset {ACCESS_TOKEN}")
    )
    rsps.post(REVOKE_URL, body="")

    exchange(client)
    with pytest.raises(TikTokAuthError):
        refresh(client)
    with pytest.raises(TikTokAuthError):
        client.get_user_info(["open_id"])
    with pytest.raises(TikTokConnectionError):
        TikTokClient(ACCESS_TOKEN, max_retries=0).list_videos()
    client.revoke_token(
        client_key=CLIENT_KEY, client_secret=CLIENT_SECRET, token=ACCESS_TOKEN
    )

    text = caplog.text
    for secret in (
        ACCESS_TOKEN,
        REFRESH_TOKEN,
        NEW_REFRESH_TOKEN,
        CLIENT_SECRET,
        AUTH_CODE,
        "SECRET",
        "BELY",
    ):
        assert secret not in text
    assert "/v2/oauth/token/" in text
    assert "access_token_invalid" in text
    assert LOG_ID in text
    assert "401" in text


# --------------------------------------------------------------------------
# Property tests: the parser only ever raises TikTokAPIError
# --------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

envelope_like = st.fixed_dictionaries(
    {},
    optional={
        "data": json_values
        | st.fixed_dictionaries(
            {},
            optional={
                "user": json_values,
                "videos": json_values
                | st.lists(
                    st.fixed_dictionaries({}, optional={"id": json_values}), max_size=3
                ),
                "cursor": json_values,
                "has_more": json_values,
            },
        ),
        "error": json_values
        | st.fixed_dictionaries(
            {},
            optional={
                "code": st.sampled_from(
                    ["ok", "rate_limit_exceeded", "access_token_invalid"]
                )
                | json_values,
                "message": json_values,
                "log_id": json_values,
            },
        ),
        "error_description": json_values,
        "log_id": json_values,
        **{name: json_values for name, _ in api._TOKEN_FIELDS},
    },
)

statuses = st.sampled_from([200, 201, 204, 400, 401, 404, 429, 500, 503]) | st.integers(
    100, 599
)
retry_after_headers = st.none() | st.text(max_size=30)


def _headers(retry_after):
    return {} if retry_after is None else {"Retry-After": retry_after}


@settings(max_examples=300, deadline=None)
@given(
    status=statuses, content=st.binary(max_size=200), retry_after=retry_after_headers
)
def test_error_from_response_never_raises_on_arbitrary_bytes(
    status, content, retry_after
):
    result = error_from_response(make_response(status, content, _headers(retry_after)))

    assert result is None or isinstance(result, TikTokAPIError)


class _StubSession:
    """Hands back one prepared response for every request."""

    def __init__(self, response):
        self.response = response

    def request(self, method, url, **kwargs):
        return self.response


_CALLS = {
    "user_info": lambda c: c.get_user_info(["open_id"]),
    "list_videos": lambda c: c.list_videos(),
    "query_videos": lambda c: c.query_videos(["1"]),
    "iter_videos": lambda c: list(c.iter_videos()),
    "exchange_code": exchange,
    "refresh": refresh,
    "revoke": lambda c: c.revoke_token(client_key="k", client_secret="s", token="t"),
}


@settings(max_examples=400, deadline=None)
@given(
    status=statuses,
    body=envelope_like | json_values,
    call=st.sampled_from(sorted(_CALLS)),
)
def test_client_methods_raise_only_tiktok_errors_for_arbitrary_json(status, body, call):
    content = json.dumps(body).encode()
    response = make_response(status, content)
    client = TikTokClient(
        ACCESS_TOKEN, session=_StubSession(response), sleep=lambda _: None
    )

    try:
        _CALLS[call](client)
    except TikTokAPIError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    status=statuses,
    content=st.binary(max_size=120),
    call=st.sampled_from(sorted(_CALLS)),
)
def test_client_methods_raise_only_tiktok_errors_for_arbitrary_bytes(
    status, content, call
):
    response = make_response(status, content)
    client = TikTokClient(
        ACCESS_TOKEN, session=_StubSession(response), sleep=lambda _: None
    )

    try:
        _CALLS[call](client)
    except TikTokAPIError:
        pass
