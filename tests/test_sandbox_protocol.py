"""The sandbox's Display API, its strictness, rate limits and injected faults,
through the Flask test client and over real HTTP."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from PIL import Image
from werkzeug.serving import make_server

from sandbox import SANDBOX_CLIENT_KEY, SANDBOX_CLIENT_SECRET, SandboxState, create_sandbox_app, media
from sandbox import data as d
from sandbox.api import VIDEO_FIELDS as ALL_VIDEO_FIELDS
from sandbox.testing import authorize_query, bearer, form_fields, login

T0 = d.ANCHOR + d.DAY
VIDEO_FIELDS = ",".join(
    [
        "id",
        "create_time",
        "title",
        "video_description",
        "duration",
        "cover_image_url",
        "share_url",
        "embed_link",
    ]
    + ["view_count", "like_count"]
)
USER_FIELDS = "open_id,display_name,avatar_url,username,is_verified,follower_count,likes_count,video_count"


@pytest.fixture
def sb_state():
    state = SandboxState(clock=T0)
    yield state
    state.close()


@pytest.fixture
def sb_app(sb_state):
    return create_sandbox_app(sb_state, control=True)


@pytest.fixture
def sb(sb_app):
    return sb_app.test_client()


@pytest.fixture
def token(sb):
    return login(sb)["access_token"]


def video_list(sb, token, body=None, fields=VIDEO_FIELDS):
    return sb.post(
        f"/v2/video/list/?fields={fields}", json={} if body is None else body, headers=bearer(token)
    )


def video_query(sb, token, ids, fields=VIDEO_FIELDS):
    return sb.post(
        f"/v2/video/query/?fields={fields}", json={"filters": {"video_ids": ids}}, headers=bearer(token)
    )


def user_info(sb, token, fields=USER_FIELDS, **kwargs):
    return sb.get(f"/v2/user/info/?fields={fields}", headers=bearer(token), **kwargs)


def error_code(response) -> str:
    return response.json["error"]["code"]


def walk(sb, token, max_count=20):
    """Every page of video/list; returns (videos, number of pages)."""
    videos, pages, body = [], 0, {"max_count": max_count}
    while True:
        answer = video_list(sb, token, body)
        assert answer.status_code == 200, answer.json
        page = answer.json["data"]
        pages += 1
        videos += page["videos"]
        if not page["has_more"]:
            return videos, pages
        body = {"max_count": max_count, "cursor": page["cursor"]}


# --------------------------------------------------------------------------- user info


def test_user_info_returns_exactly_the_requested_fields(sb, token):
    answer = user_info(sb, token)
    assert answer.status_code == 200
    body = answer.json
    assert (
        body["error"]["code"] == "ok"
        and body["error"]["message"] == ""
        and len(body["error"]["log_id"]) >= 28
    )
    user = body["data"]["user"]
    assert set(user) == set(USER_FIELDS.split(","))
    assert user["display_name"] == "Lin Mei 林美" and user["is_verified"] is True
    stats = d.profile_stats(d.get_account("creator"), T0)
    assert user["likes_count"] == stats["likes_count"] and user["video_count"] == stats["video_count"]


def test_user_info_needs_the_scope_of_every_field(sb):
    tokens = login(sb, untick=("user.info.stats",))
    assert user_info(sb, tokens["access_token"], "open_id,username").status_code == 200
    missed = user_info(sb, tokens["access_token"], "open_id,follower_count")
    assert missed.status_code == 400 and error_code(missed) == "scope_permission_missed"
    assert missed.json["error"]["log_id"]


@pytest.mark.parametrize(
    "fields, extra",
    [("open_id,profile_web_link", {}), ("", {}), ("open_id", {"json": {"fields": ["open_id"]}})],
    ids=["unknown-field", "no-fields", "get-with-body"],
)
def test_user_info_rejects_bad_parameters(sb, token, fields, extra):
    answer = user_info(sb, token, fields, **extra)
    assert answer.status_code == 400 and error_code(answer) == "invalid_params"


@pytest.mark.parametrize(
    "header",
    [None, "Bearer ", "Bearer act.nope", "Token {token}", "Bearer {refresh}"],
    ids=["missing", "empty", "unknown", "wrong-scheme", "refresh-token"],
)
def test_a_missing_or_invalid_bearer_is_access_token_invalid(sb, header):
    tokens = login(sb)
    headers = (
        {}
        if header is None
        else {"Authorization": header.format(token=tokens["access_token"], refresh=tokens["refresh_token"])}
    )
    for answer in (
        sb.get("/v2/user/info/?fields=open_id", headers=headers),
        sb.post(f"/v2/video/list/?fields={VIDEO_FIELDS}", json={}, headers=headers),
    ):
        assert answer.status_code == 401 and error_code(answer) == "access_token_invalid"


def test_accounts_are_isolated(sb):
    first, second = login(sb)["access_token"], login(sb, account="second")["access_token"]
    assert user_info(sb, second).json["data"]["user"]["display_name"] == "Sam Rivera"
    theirs = [v["id"] for v in video_list(sb, second, {"max_count": 20}).json["data"]["videos"]]
    answer = sb.post(
        f"/v2/video/query/?fields={VIDEO_FIELDS}",
        json={"filters": {"video_ids": theirs[:5]}},
        headers=bearer(first),
    )
    assert answer.status_code == 200 and answer.json["data"]["videos"] == []


# --------------------------------------------------------------------------- video list and query


def test_video_list_needs_the_video_list_scope(sb):
    tokens = login(sb, untick=("video.list",))
    answer = video_list(sb, tokens["access_token"])
    assert answer.status_code == 401 and error_code(answer) == "scope_not_authorized"


def test_video_list_walks_every_visible_video_once_newest_first(sb, token):
    videos, pages = walk(sb, token)
    expected = d.visible_videos(d.get_account("creator"), T0)
    assert pages == math.ceil(len(expected) / 20) == 8
    assert [v["id"] for v in videos] == [v.id for v in expected]
    times = [v["create_time"] for v in videos]
    assert times == sorted(times, reverse=True) and len(set(times)) == len(times)


def test_video_list_pages_of_an_exact_multiple_end_without_an_empty_page(sb_state):
    accounts = {"creator": d.make_account("creator", n_videos=40, seed=3)}
    client = create_sandbox_app(sb_state, accounts=accounts).test_client()
    token = login(client)["access_token"]
    videos, pages = walk(client, token)
    visible = d.visible_videos(accounts["creator"], T0)
    assert len(videos) == len(visible) and pages == math.ceil(len(visible) / 20)


def test_video_list_defaults_to_ten_and_the_cursor_is_strictly_older(sb, token):
    first = video_list(sb, token).json["data"]
    assert len(first["videos"]) == 10 and first["has_more"] is True
    assert first["cursor"] == first["videos"][-1]["create_time"] * 1000
    last = first["videos"][-1]
    older = video_list(sb, token, {"cursor": last["create_time"] * 1000, "max_count": 1}).json["data"][
        "videos"
    ][0]
    assert older["create_time"] < last["create_time"]
    same = video_list(sb, token, {"cursor": last["create_time"] * 1000 + 1, "max_count": 1}).json["data"][
        "videos"
    ]
    assert same[0]["id"] == last["id"]


def test_video_objects_have_the_documented_shape(sb, token):
    video = video_list(sb, token, {"max_count": 1}, fields=",".join(ALL_VIDEO_FIELDS)).json["data"]["videos"][
        0
    ]
    assert set(video) == set(ALL_VIDEO_FIELDS)
    assert isinstance(video["id"], str) and len(video["id"]) == 19
    assert video["share_url"] == (
        f"https://www.tiktok.com/@linmei.eats/video/{video['id']}?utm_campaign=tt4d_open_api&utm_source=sandbox-client-key"
    )
    assert video["embed_link"] == f"https://www.tiktok.com/player/v1/{video['id']}"
    cover = urlsplit(video["cover_image_url"])
    assert cover.scheme == "http" and cover.path == f"/_static/cover/{video['id']}.jpeg"
    assert int(parse_qs(cover.query)["x-expires"][0]) == T0 + 6 * 3600


def test_the_html_and_chinese_titles_come_through_verbatim(sb, token):
    videos, _ = walk(sb, token)
    titles = [v["title"] for v in videos]
    assert titles.count(d.HTML_TITLE) == 1
    assert any("美食" in t for t in titles)


@pytest.mark.parametrize(
    "body",
    [
        {"fields": ["id"]},
        {"max_count": 21},
        {"max_count": 0},
        {"max_count": "20"},
        {"max_count": True},
        {"cursor": -1},
        {"count": 10},
        [],
    ],
    ids=[
        "fields-in-body",
        "max-21",
        "max-0",
        "string-count",
        "bool-count",
        "negative-cursor",
        "unknown-key",
        "array",
    ],
)
def test_video_list_rejects_bad_bodies(sb, token, body):
    answer = video_list(sb, token, body)
    assert answer.status_code == 400 and error_code(answer) == "invalid_params"
    assert answer.json["error"]["message"]


def test_video_list_wants_fields_in_the_query_and_a_json_body(sb, token):
    no_fields = sb.post("/v2/video/list/", json={}, headers=bearer(token))
    assert no_fields.status_code == 400 and error_code(no_fields) == "invalid_params"
    form = sb.post(f"/v2/video/list/?fields={VIDEO_FIELDS}", data={"max_count": "10"}, headers=bearer(token))
    assert form.status_code == 400 and error_code(form) == "invalid_params"
    broken = sb.post(
        f"/v2/video/list/?fields={VIDEO_FIELDS}",
        data="{",
        content_type="application/json",
        headers=bearer(token),
    )
    assert broken.status_code == 400
    assert video_list(sb, token, {"max_count": None, "cursor": None}).status_code == 200, "null means absent"


def test_video_query_returns_only_the_accounts_visible_videos(sb, sb_state, token):
    creator = d.get_account("creator")
    gone = next(v for v in creator.videos if v.deleted_at and v.deleted_at < T0)
    ids = [v.id for v in d.visible_videos(creator, T0)[:3]] + [gone.id, "7000000000000000000"]
    answer = sb.post(
        "/v2/video/query/?fields=id,view_count", json={"filters": {"video_ids": ids}}, headers=bearer(token)
    )
    assert answer.status_code == 200
    assert [v["id"] for v in answer.json["data"]["videos"]] == ids[:3]
    assert answer.json["data"]["has_more"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"filters": {"video_ids": [str(i) for i in range(21)]}},
        {"video_ids": ["1"]},
        {"filters": {"video_ids": [1]}},
    ],
    ids=["21-ids", "no-filters", "int-ids"],
)
def test_video_query_rejects_bad_bodies(sb, token, body):
    answer = sb.post("/v2/video/query/?fields=id", json=body, headers=bearer(token))
    assert answer.status_code == 400 and error_code(answer) == "invalid_params"


def test_counts_move_with_the_clock(sb, sb_state):
    sb_state.settings.access_token_ttl = 30 * d.DAY
    token = login(sb)["access_token"]
    before = {v["id"]: v for v in walk(sb, token)[0]}
    again = {v["id"]: v for v in walk(sb, token)[0]}
    assert again == before, "same clock, same numbers"
    sb_state.clock.advance(3 * d.DAY)
    after = {v["id"]: v for v in walk(sb, token)[0]}
    dip = d.get_account("creator").special("dip")
    for video_id, old in before.items():
        if video_id in after:
            assert after[video_id]["view_count"] >= old["view_count"]
            if video_id != dip.id:
                assert after[video_id]["like_count"] >= old["like_count"]
    assert after[dip.id]["like_count"] < before[dip.id]["like_count"]


def test_paths_without_the_trailing_slash_are_not_found(sb, token):
    assert sb.get("/v2/user/info?fields=open_id", headers=bearer(token)).status_code == 404
    assert sb.get("/v2/video/list/").status_code == 405


def test_every_response_carries_a_log_id(sb, token):
    for answer in (user_info(sb, token), sb.get("/v2/auth/authorize/"), sb.post("/v2/oauth/token/", data={})):
        assert len(answer.headers["X-Tt-Logid"]) >= 28


# --------------------------------------------------------------------------- media


def decoded_jpeg(answer) -> Image.Image:
    """The body of an image response, decoded by Pillow (which fails on anything but an image)."""
    assert answer.status_code == 200 and answer.mimetype == "image/jpeg"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    image = Image.open(io.BytesIO(answer.get_data()))
    image.load()
    assert image.format == "JPEG" and image.mode == "RGB"
    return image


def test_covers_and_avatars_are_signed_expiring_jpegs(sb, sb_state, token):
    cover_url = video_list(sb, token, {"max_count": 1}).json["data"]["videos"][0]["cover_image_url"]
    avatar_url = user_info(sb, token, "avatar_url").json["data"]["user"]["avatar_url"]
    for url, size in ((cover_url, (270, 480)), (avatar_url, (200, 200))):
        assert url.startswith("http://localhost/_static/") and urlsplit(url).path.endswith(".jpeg")
        assert decoded_jpeg(sb.get(url)).size == size
        assert sb.get(url.replace("x-signature=", "x-signature=0")).status_code == 403
        assert sb.get(urlsplit(url).path).status_code == 403, "unsigned"
    sb_state.clock.advance(6 * 3600 + 1)
    assert sb.get(cover_url).status_code == 403, "expired like TikTok's CDN"
    sb_state.settings.enforce_media_expiry = False
    assert decoded_jpeg(sb.get(urlsplit(cover_url).path)).size == (270, 480)
    sb_state.settings.media_urls = "tiktok"
    tiktok_cover = video_list(sb, token, {"max_count": 1}).json["data"]["videos"][0]["cover_image_url"]
    assert tiktok_cover.startswith("https://p16-sign.tiktokcdn-us.com/") and "x-expires=" in tiktok_cover
    assert urlsplit(tiktok_cover).path.endswith(".jpeg")


def test_covers_follow_the_video_orientation_and_avatars_the_asked_size(sb, sb_state, token):
    sb_state.settings.enforce_media_expiry = False
    landscape = next(v for v in d.get_account("creator").videos if v.width > v.height)
    assert decoded_jpeg(sb.get(f"/_static/cover/{landscape.id}.jpeg")).size == (480, 270)
    small = user_info(sb, token, "avatar_url_100").json["data"]["user"]["avatar_url_100"]
    assert decoded_jpeg(sb.get(small)).size == (100, 100)
    for asked, edge in (("1080", 200), ("0", 16), ("x", 200)):
        assert decoded_jpeg(sb.get(f"/_static/avatar/creator.jpeg?s={asked}")).size == (edge, edge)


def test_pictures_are_deterministic_and_differ_between_videos(sb, sb_state):
    sb_state.settings.enforce_media_expiry = False
    first, second = d.get_account("creator").videos[:2]
    body = sb.get(f"/_static/cover/{first.id}.jpeg").get_data()
    assert sb.get(f"/_static/cover/{first.id}.jpeg").get_data() == body
    assert sb.get(f"/_static/cover/{second.id}.jpeg").get_data() != body
    fresh = d.make_account("creator").by_id[first.id]
    assert media.cover_jpeg(fresh) == body, "a fresh account draws the same picture"
    avatars = {sb.get(f"/_static/avatar/{key}.jpeg").get_data() for key in ("creator", "second", "bulk")}
    assert len(avatars) == 3


def test_media_base_url_points_pictures_at_a_public_mount(sb, sb_state, token):
    sb_state.settings.media_base_url = "http://localhost:5000/sandbox"
    url = urlsplit(user_info(sb, token, "avatar_url").json["data"]["user"]["avatar_url"])
    assert (url.netloc, url.path) == ("localhost:5000", "/sandbox/_static/avatar/creator.jpeg")
    assert sb.get(url.path.removeprefix("/sandbox") + "?" + url.query).status_code == 200
    assert "http://localhost:5000/sandbox" in sb.get("/v2/auth/authorize/").headers["Content-Security-Policy"]


def test_account_text_cannot_reach_a_picture_as_markup(sb_state):
    script = '<script>alert("x")</script>'
    evil = d.make_account("evil", display_name=f"{script} & <b>bold</b>", n_videos=5)
    sb = create_sandbox_app(sb_state, accounts={"evil": evil}).test_client()
    token = login(sb, account="evil")["access_token"]
    user = user_info(sb, token, "display_name,avatar_url").json["data"]["user"]
    assert user["display_name"].startswith(script)
    html_video = evil.special("html")
    cover = video_query(sb, token, [html_video.id]).json["data"]["videos"][0]["cover_image_url"]
    for url in (user["avatar_url"], cover):
        answer = sb.get(url)
        decoded_jpeg(answer)
        assert answer.headers["Content-Security-Policy"] == "default-src 'none'"
        assert b"<script" not in answer.get_data() and b"alert" not in answer.get_data()


# --------------------------------------------------------------------------- rate limits and faults


def test_rate_limit_is_per_endpoint_with_retry_after(sb, sb_state, token):
    sb_state.settings.rate_limit_per_minute = 3
    now = [1000.0]
    sb_state.wall = lambda: now[0]
    assert [user_info(sb, token).status_code for _ in range(3)] == [200] * 3
    limited = user_info(sb, token)
    assert limited.status_code == 429 and error_code(limited) == "rate_limit_exceeded"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert video_list(sb, token).status_code == 200, "counted per endpoint"
    now[0] += 61
    assert user_info(sb, token).status_code == 200, "the window slides"


@pytest.mark.parametrize(
    "kind, status, code",
    [
        ("500", 500, "internal_error"),
        ("503", 503, "internal_error"),
        ("429", 429, "rate_limit_exceeded"),
        ("429-no-retry-after", 429, "rate_limit_exceeded"),
        ("expire_token", 401, "access_token_invalid"),
    ],
)
def test_queued_faults_answer_once_with_the_api_envelope(sb, sb_state, token, kind, status, code):
    sb_state.queue_fault("video_list", kind)
    faulty = video_list(sb, token)
    assert faulty.status_code == status and error_code(faulty) == code
    assert ("Retry-After" in faulty.headers) == (kind == "429")
    assert video_list(sb, token).status_code == 200, "only the next response is scripted"
    assert user_info(sb, token).status_code == 200, "other endpoints untouched"


def test_malformed_and_truncated_faults_break_the_body(sb, sb_state, token):
    sb_state.queue_fault("video_list", "malformed")
    sb_state.queue_fault("video_list", "truncated")
    malformed, truncated = video_list(sb, token), video_list(sb, token)
    assert malformed.status_code == 200 and malformed.mimetype == "text/html"
    assert truncated.status_code == 200 and truncated.mimetype == "application/json"
    for answer in (malformed, truncated):
        with pytest.raises(ValueError):
            json.loads(answer.get_data())


def test_token_endpoint_faults_use_the_oauth_shape(sb, sb_state):
    sb_state.queue_fault("token", "503")
    answer = sb.post("/v2/oauth/token/", data={"grant_type": "refresh_token"})
    assert answer.status_code == 503 and answer.json["error"] == "temporarily_unavailable"


def test_slow_fault_and_delay_add_latency(sb, sb_state, token):
    sb_state.queue_fault("user_info", "slow", seconds=0.2)
    started = time.perf_counter()
    assert user_info(sb, token).status_code == 200
    assert time.perf_counter() - started >= 0.2
    sb_state.set_faults(delay=0.1)
    started = time.perf_counter()
    assert user_info(sb, token).status_code == 200
    assert time.perf_counter() - started >= 0.1


def test_reset_fault_drops_the_connection_under_the_test_client(sb, sb_state, token):
    sb_state.queue_fault("video_list", "reset")
    with pytest.raises(ConnectionError):
        video_list(sb, token)
    assert video_list(sb, token).status_code == 200


def test_hide_video_fault_deletes_a_video_between_pages(sb, sb_state, token):
    first = video_list(sb, token, {"max_count": 20}).json["data"]
    sb_state.queue_fault("video_list", "hide_video")
    second = video_list(sb, token, {"max_count": 20, "cursor": first["cursor"]}).json["data"]
    expected = d.visible_videos(d.get_account("creator"), T0)
    hidden = expected[20]
    assert [v["id"] for v in second["videos"]] == [v.id for v in expected[21:41]]
    assert user_info(sb, token, "video_count").json["data"]["user"]["video_count"] == len(expected) - 1
    assert sb_state.hidden_videos("creator") == {hidden.id}
    sb_state.clear_faults()
    assert sb_state.hidden_videos("creator") == frozenset()


def test_random_faults_are_reproducible_with_a_seed(sb_app, token):
    state = sb_app.extensions["tiktok_sandbox"].state

    def run() -> list[int]:
        state.set_faults(fail_rate=0.5, seed=1234)
        return [video_list(sb_app.test_client(), token).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert set(first) - {200} <= {500, 503, 429} and 200 in first and len(set(first)) > 1
    state.clear_faults()
    assert {video_list(sb_app.test_client(), token).status_code for _ in range(5)} == {200}


def test_calls_are_counted_per_endpoint(sb, sb_state, token):
    sb_state.reset_calls()
    walk(sb, token)
    user_info(sb, token)
    assert sb_state.calls["video_list"] == 8 and sb_state.calls["user_info"] == 1
    assert sb_state.calls["video_query"] == 0


def test_fault_configuration_is_validated(sb_state):
    with pytest.raises(ValueError):
        sb_state.queue_fault("video_list", "explode")
    with pytest.raises(ValueError):
        sb_state.queue_fault("nowhere", "500")
    with pytest.raises(ValueError):
        sb_state.set_faults(fail_rate=2)
    with pytest.raises(ValueError):
        sb_state.configure(nonsense=1)


def test_bulk_account_pages_by_cursor_without_repeats(sb, sb_state):
    token = login(sb, account="bulk")["access_token"]
    page = video_list(sb, token, {"max_count": 20}).json["data"]
    seen = [v["id"] for v in page["videos"]]
    for _ in range(20):
        page = video_list(sb, token, {"max_count": 20, "cursor": page["cursor"]}).json["data"]
        seen += [v["id"] for v in page["videos"]]
    assert page["has_more"] and len(seen) == len(set(seen)) == 21 * 20


# --------------------------------------------------------------------------- /_control


def test_control_drives_clock_faults_and_lifetimes(sb, sb_state, token):
    answer = sb.post(
        "/_control",
        json={
            "clock": {"set": T0 + 100},
            "lifetimes": {"access": 7200},
            "faults": {"queue": [{"endpoint": "user_info", "kind": "500"}]},
        },
    )
    assert answer.status_code == 200 and answer.json["now"] == T0 + 100
    assert sb_state.settings.access_token_ttl == 7200
    assert user_info(sb, token).status_code == 500
    assert sb.post("/_control", json={"clock": {"advance": 50}}).json["now"] == T0 + 150
    assert (
        sb.post("/_control", json={"faults": {"queue": [{"endpoint": "x", "kind": "500"}]}}).status_code
        == 400
    )
    sb.post("/_control", json={"reset": True})
    assert not sb_state.clock.frozen and sb_state.settings.access_token_ttl == 86_400


def test_control_is_absent_unless_enabled(sb_state):
    assert create_sandbox_app(sb_state).test_client().post("/_control", json={}).status_code == 404


# --------------------------------------------------------------------------- over real HTTP


@pytest.fixture
def live(sb_app):
    server = make_server("127.0.0.1", 0, sb_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    sb_app.extensions["tiktok_sandbox"].state.clear_faults()  # wake any sleeping request
    server.shutdown()
    server.server_close()


def test_full_flow_over_real_http(live):
    query = authorize_query(redirect_uri="https://dashboard.example.com/callback/")
    page = requests.get(f"{live}/v2/auth/authorize/", params=query, timeout=5)
    assert page.status_code == 200
    fields = form_fields(page.text)
    fields.update(account=["creator"], action=["authorize"])
    action = urljoin(page.url, "/v2/auth/authorize/")
    back = requests.post(action, data=fields, allow_redirects=False, timeout=5)
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    token = requests.post(
        f"{live}/v2/oauth/token/",
        data={
            "client_key": SANDBOX_CLIENT_KEY,
            "client_secret": SANDBOX_CLIENT_SECRET,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": query["redirect_uri"],
        },
        timeout=5,
    ).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    user = requests.get(
        f"{live}/v2/user/info/", params={"fields": "display_name,avatar_url"}, headers=headers, timeout=5
    )
    assert user.json()["data"]["user"]["display_name"] == "Lin Mei 林美"
    avatar = requests.get(user.json()["data"]["user"]["avatar_url"], timeout=5)
    assert avatar.status_code == 200 and avatar.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(avatar.content)).size == (200, 200)
    videos = requests.post(
        f"{live}/v2/video/list/",
        params={"fields": "id,title"},
        json={"max_count": 20},
        headers=headers,
        timeout=5,
    )
    assert videos.status_code == 200 and len(videos.json()["data"]["videos"]) == 20


def test_reset_and_timeout_faults_over_real_http(live, sb_app):
    state = sb_app.extensions["tiktok_sandbox"].state
    state.queue_fault("token", "reset")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{live}/v2/oauth/token/", data={"grant_type": "x"}, timeout=5)
    state.queue_fault("token", "timeout", seconds=5)
    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{live}/v2/oauth/token/", data={"grant_type": "x"}, timeout=0.3)
    state.clear_faults()
    answer = requests.post(f"{live}/v2/oauth/token/", data={"grant_type": "x"}, timeout=5)
    assert answer.status_code == 200 and answer.json()["error"] == "invalid_request"


def test_module_entry_point_documents_its_options():
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    for option in ("--host", "--port", "--db", "--control"):
        assert option in result.stdout
