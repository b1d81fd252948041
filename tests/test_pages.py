"""What each page shows a creator, read through the Flask test client after
a real login against the loopback sandbox."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
import responses
from itsdangerous import URLSafeSerializer
from markupsafe import escape
from sqlalchemy import select

from dashboard.storage.models import Video
from sandbox import SANDBOX_CLIENT_KEY, SANDBOX_CLIENT_SECRET, get_account
from sandbox.data import HTML_TITLE, visible_videos
from tests.conftest import login
from tests.flow_helpers import (
    main_html,
    next_link,
    only_account,
    post,
    prev_link,
    query_of,
    row_video_id,
    text,
    video_rows,
    walk_videos,
)

ROOT = Path(__file__).resolve().parent.parent
ZH_CATALOG = ROOT / "translations" / "zh" / "LC_MESSAGES" / "messages.mo"
BANNER = 'class="sandbox-banner"'
CJK = re.compile(r"[\u4e00-\u9fff]")



@pytest.fixture
def app(make_app):
    """These pages show covers and avatars: the worker stores them after each sync."""
    return make_app(STORE_PICTURES=True)

def human(n: int) -> str:
    """The short English form a reader expects: 999, 12.3K, 1.2M."""
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if n >= size:  # decimal half-even, as Babel rounds (202,950 is 203K, not 202.9K)
            short = (Decimal(n) / size).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
            return str(short).removesuffix(".0") + suffix
    return str(n)


def creator_videos(sandbox_state):
    return visible_videos(get_account("creator"), sandbox_state.clock.now())


def stored_videos(app) -> dict[str, Video]:
    with app.extensions["core"].store.session() as db:
        return {v.video_id: v for v in db.scalars(select(Video))}


# --- landing and profile --------------------------------------------------------------------


def test_logged_out_visitor_gets_the_landing_page_with_a_login_button(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'<a class="button button-primary" href="/auth">Log in with TikTok</a>', html)
    assert "Sync now" not in html


def test_profile_shows_who_the_creator_is(logged_in, app):
    html = main_html(logged_in.get("/"))
    account = only_account(app)
    assert re.search(r'<img class="avatar" src="/media/\d+/avatar\.jpg\?v=\d+"', html)
    assert '<h1 class="display-name">Lin Mei 林美' in html
    assert "@linmei.eats" in html
    assert "Home cook &amp; gym rat in Shanghai" in html
    assert 'class="badge"' in html and "Verified" in html
    assert f'<a href="{account.profile_deep_link}" rel="noopener noreferrer" target="_blank">' in html
    assert account.profile_deep_link.startswith("https://vm.tiktok.com/")
    assert "Last synced:" in html and "Sync now" in html
    assert "Log in with TikTok again" not in html


def test_unverified_creator_has_no_badge(client):
    html = main_html(login(client, account="second"))
    assert "Sam Rivera" in html and 'class="badge"' not in html


def test_profile_counts_are_human_readable_with_the_exact_number_on_hover(logged_in, app):
    html = main_html(logged_in.get("/"))
    account = only_account(app)
    counts = [account.follower_count, account.following_count, account.likes_count, account.video_count]
    assert all(isinstance(n, int) for n in counts)
    assert account.follower_count >= 1000  # so the short form is really exercised
    for n in counts:
        assert f'<div class="stat-value" title="{n:,}">{human(n)}</div>' in html


@pytest.mark.parametrize("number, shown", [
    (0, "0"), (999, "999"), (1_000, "1K"), (12_345, "12.3K"), (157_519, "157.5K"),
    (1_010_232, "1M"), (1_234_567, "1.2M"), (None, "—"),
])
def test_counts_are_abbreviated_like_tiktok_does(app, number, shown):
    from dashboard.web.i18n import compact

    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert compact(number) == shown


def test_account_connected_after_another_was_deleted_sees_only_its_own_numbers(make_app):
    app = make_app()
    first = app.test_client()
    login(first, account="creator")
    creator_top = {row_video_id(r) for r in video_rows(main_html(first.get("/")))}
    assert creator_top
    deleted = post(first, "/account/delete", follow_redirects=True)
    assert "Log in with TikTok" in deleted.get_data(as_text=True)

    second = app.test_client()
    page = main_html(login(second, account="second"))
    account = only_account(app)
    assert account.display_name == "Sam Rivera"
    shown = {row_video_id(r) for r in video_rows(page)}
    assert shown and not shown & creator_top
    assert f'title="{account.follower_count:,}"' in page
    assert "Sam Rivera" in text(page)


# --- sandbox banner and live mode ---------------------------------------------------------------


def test_sandbox_banner_is_on_every_page_in_sandbox_mode(logged_in, app):
    video_id = next(iter(stored_videos(app)))
    for path in ("/", "/videos", f"/videos/{video_id}", "/analytics", "/export/", "/privacy",
                 "/terms", "/setup", "/no-such-page", "/videos?cursor=forged"):
        html = logged_in.get(path).get_data(as_text=True)
        assert BANNER in html, path
        assert "Sandbox mode" in text(html), path
    landing = app.test_client().get("/").get_data(as_text=True)
    assert BANNER in landing


@pytest.fixture
def live(make_app, sandbox_state):
    """The app with real credentials, pointed at the loopback sandbox as it
    would be at any TikTok-compatible server."""
    sandbox_state.configure(media_urls="tiktok")  # CDN-shaped picture URLs, as TikTok sends
    return make_app(TIKTOK_CLIENT_KEY=SANDBOX_CLIENT_KEY, TIKTOK_CLIENT_SECRET=SANDBOX_CLIENT_SECRET)


def test_live_mode_logs_in_to_a_compatible_server_and_shows_every_video(live, sandbox_state):
    assert live.config["SANDBOX_MODE"] is False
    with responses.RequestsMock(assert_all_requests_are_fired=False) as cdn:
        # TikTok's CDN is not reachable from tests: its pictures answer 404 here.
        cdn.add_passthru("http://127.0.0.1")
        cdn.add(responses.GET, re.compile(r"https://[a-z0-9-]+\.tiktokcdn-us\.com/.*"), status=404)
        _live_mode_walk(live, sandbox_state)


def _live_mode_walk(live, sandbox_state):
    client = live.test_client()
    page = login(client)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Lin Mei" in html and BANNER not in html
    # TikTok's CDN is not reachable here, so no picture could be stored, and
    # pages never point at TikTok's expiring URLs themselves.
    assert "tiktokcdn" not in html

    pages = walk_videos(client)
    seen = [v for p in pages for v in p]
    assert sorted(seen) == sorted(v.id for v in creator_videos(sandbox_state))
    for path in ("/videos", "/analytics", "/privacy", "/no-such-page"):
        assert BANNER not in client.get(path).get_data(as_text=True), path


@pytest.mark.parametrize("path", [
    "/sandbox/v2/auth/authorize/?client_key=sandbox-client-key",
    "/sandbox/_static/avatar/creator.svg",
    "/sandbox/v2/oauth/token/",
    "/sandbox/",
])
def test_live_mode_exposes_nothing_of_the_sandbox(live, path):
    client = live.test_client()
    assert client.get(path).status_code == 404
    assert client.post(path).status_code in (404, 405)


# --- /videos --------------------------------------------------------------------------------------


def test_videos_are_twenty_a_page_newest_first_and_paging_reaches_each_once(logged_in, app, sandbox_state):
    pages = walk_videos(logged_in)
    expected = [v.id for v in creator_videos(sandbox_state)]  # newest first
    assert len(expected) > 100
    assert all(len(p) == 20 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 20
    seen = [v for p in pages for v in p]
    assert len(seen) == len(set(seen)) == len(expected)
    assert seen == expected
    stored = stored_videos(app)
    times = [stored[v].create_time for v in seen]
    assert times == sorted(times, reverse=True)
    assert stored[seen[-1]].create_time == min(v.create_time for v in stored.values())

    first = main_html(logged_in.get("/videos"))
    assert f"Showing 1–20 of {len(expected)} videos." in text(first)
    assert prev_link(first) is None


def test_back_links_return_through_the_same_pages(logged_in):
    forward, url = [], "/videos"
    while url:
        page = logged_in.get(url).get_data(as_text=True)
        forward.append([row_video_id(r) for r in video_rows(page)])
        last, url = page, next_link(page)
    backward, url = [], prev_link(last)
    while url:
        page = logged_in.get(url).get_data(as_text=True)
        backward.append([row_video_id(r) for r in video_rows(page)])
        previous, url = url, prev_link(page)
    assert backward == forward[-2::-1]
    assert "cursor" not in query_of(previous)  # the first page has a plain address


def test_paging_keeps_sort_and_filters(logged_in, app):
    stored = stored_videos(app)
    page = logged_in.get("/videos?sort=view_count&order=asc").get_data(as_text=True)
    following = next_link(page)
    assert query_of(following)["sort"] == "view_count" and query_of(following)["order"] == "asc"
    ids = [row_video_id(r) for r in video_rows(page)]
    views = [stored[i].view_count for i in ids]
    assert views == sorted(views) and views[0] == min(v.view_count for v in stored.values())

    newest = max(v.create_time for v in stored.values()).date()
    day = newest.isoformat()
    only = logged_in.get(f"/videos?from={day}&to={day}").get_data(as_text=True)
    shown = [stored[row_video_id(r)] for r in video_rows(only)]
    assert shown and all(v.create_time.date() == newest for v in shown)


def _forged_cursors(secret: str) -> list[str]:
    ours = URLSafeSerializer(secret, salt="videos-cursor")
    theirs = URLSafeSerializer("another-secret-key", salt="videos-cursor")
    good = ours.dumps(20)
    return [
        "garbage",
        "%00%ff",
        good[:-1] + ("A" if good[-1] != "A" else "B"),  # signature altered
        good.split(".")[0] + ".",  # signature removed
        theirs.dumps(20),  # signed with another key
        ours.dumps(-20),
        ours.dumps("20"),
        ours.dumps(True),
        ours.dumps(10_000),  # past the end
        "x" * 300,
    ]


def test_tampered_cursor_gets_a_400_page_not_a_500(logged_in, app):
    for cursor in _forged_cursors(app.config["SECRET_KEY"]):
        answer = logged_in.get("/videos", query_string={"cursor": cursor})
        assert answer.status_code == 400, cursor
        html = answer.get_data(as_text=True)
        assert "Bad request" in html and "Traceback" not in html
    assert logged_in.get("/videos").status_code == 200


@pytest.mark.parametrize("query", [
    "sort=views", "sort=__class__", "order=up", "order=DESC", "to=" + "9" * 300,
])
def test_bad_sort_order_or_oversized_values_get_a_400_page(logged_in, query):
    answer = logged_in.get("/videos?" + query)
    assert answer.status_code == 400
    assert "Bad request" in answer.get_data(as_text=True)


@pytest.mark.parametrize("query", [
    "from=2026-13-01", "from=yesterday", "from=2026-1-1", "to=20260101", "from=2026-02-30",
    "from=2026-06-02&to=2026-06-01",
])
def test_bad_dates_get_a_400_with_the_filter_form_and_a_message(logged_in, query):
    answer = logged_in.get("/videos?" + query)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert 'class="field-error"' in page and 'name="from"' in page


def test_title_with_html_special_characters_is_shown_as_text(logged_in, app, sandbox_state):
    special = get_account("creator").special("html")
    assert special is not None and special.title == HTML_TITLE
    for page_ids in walk_videos(logged_in):
        if special.id in page_ids:
            break
    html = logged_in.get(f"/videos/{special.id}").get_data(as_text=True)
    listing = "".join(
        logged_in.get(url).get_data(as_text=True)
        for url in ("/videos?sort=title&order=asc", "/videos?sort=title&order=desc"))
    for page in (html, listing):
        assert "&lt;script&gt;alert(" in page
        assert "<script>alert(" not in page and "<b>bold</b>" not in page


def test_chinese_titles_render_as_text(logged_in, sandbox_state):
    chinese = [v for v in creator_videos(sandbox_state) if CJK.search(v.title)]
    assert chinese
    pages = "".join(logged_in.get(u).get_data(as_text=True)
                    for u in _all_page_urls(logged_in))
    for video in chinese:
        assert video.title.split(" #")[0] in pages


def _all_page_urls(client) -> list[str]:
    urls, url = [], "/videos"
    while url:
        urls.append(url)
        url = next_link(client.get(url).get_data(as_text=True))
    return urls


def test_each_video_row_has_cover_title_date_duration_counts_and_link(logged_in, app):
    stored = stored_videos(app)
    rows = video_rows(logged_in.get("/videos").get_data(as_text=True))
    assert len(rows) == 20
    for row in rows:
        video = stored[row_video_id(row)]
        assert re.search(r'<img class="cover" src="/media/\d+/covers/\d+\.jpg"', row)
        assert f'href="/videos/{video.video_id}"' in row
        assert f'<time datetime="{video.create_time.isoformat()}">' in row
        assert f"{video.create_time:%b} {video.create_time.day}, {video.create_time.year}" in row
        assert f'data-label="Duration">{video.duration // 60}:{video.duration % 60:02d}</td>' in row
        for count in (video.view_count, video.like_count, video.comment_count, video.share_count):
            assert f'title="{count:,}">{human(count)}</td>' in row
        link = re.search(r'<a href="(https://www\.tiktok\.com/@linmei\.eats/video/(\d+)[^"]*)"', row)
        assert link and link.group(2) == video.video_id
        assert 'rel="noopener noreferrer"' in row
        # Twenty "Open" links, each named after its video for a screen reader.
        name = video.title or video.video_description or "(untitled)"
        named = rf'aria-label="Open “{re.escape(str(escape(name)))}” \(\w+ \d+, \d{{4}}\) on TikTok">Open</a>'
        assert re.search(named, row)
    open_names = [re.search(r'aria-label="(Open [^"]+)">Open</a>', row).group(1) for row in rows]
    assert len(set(open_names)) == len(rows)
    first = stored[row_video_id(rows[0])]
    assert first.title in text(rows[0])


# --- errors from TikTok -------------------------------------------------------------------------------


def test_tiktok_error_during_sync_shows_code_sentence_and_log_id_then_recovers(logged_in, sandbox_state):
    sandbox_state.queue_fault("user_info", "429", seconds=0, times=4)  # past every retry
    page = post(logged_in, "/sync", follow_redirects=True)
    assert page.status_code == 200
    html = main_html(page)
    flash = text(re.search(r'<p class="flash flash-error"[^>]*>(.*?)</p>', html, re.S).group(1))
    assert "TikTok asked us to slow down" in flash
    assert "rate_limit_exceeded" in flash
    assert re.search(r"log id: \d{14}[0-9A-F]{20}", flash)
    assert "Traceback" not in html
    assert "The last sync failed" in text(html)  # and the profile says so until it recovers

    again = text(main_html(post(logged_in, "/sync", follow_redirects=True)))
    assert "Last run:" in again and "The last sync failed" not in again


def test_broken_reply_half_way_keeps_the_last_good_data(logged_in, app, sandbox_state):
    before = main_html(logged_in.get("/videos"))
    sandbox_state.queue_fault("video_list", "malformed")
    page = text(main_html(post(logged_in, "/sync", follow_redirects=True)))
    assert "could not be read" in page and "malformed_response" in page
    assert main_html(logged_in.get("/videos")).count('class="video-row"') == before.count('class="video-row"')


def test_tiktok_error_during_login_shows_an_error_page_and_the_next_login_works(client, sandbox_state):
    sandbox_state.queue_fault("token", "500")
    page = login(client)
    assert page.status_code == 502
    html = page.get_data(as_text=True)
    words = text(html)
    assert "Could not finish the login" in words
    assert "server_error" in words
    assert re.search(r"log id \(for support\): \d{14}[0-9A-F]{20}", words)
    assert "Traceback" not in html and BANNER in html

    again = login(client)
    assert again.status_code == 200 and "Lin Mei" in again.get_data(as_text=True)


# --- language --------------------------------------------------------------------------------------------


def test_english_is_the_default_language(client):
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_chinese_browser_gets_the_chinese_page(client):
    page = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    html = page.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    if not ZH_CATALOG.exists():
        pytest.skip("translations/zh/LC_MESSAGES/messages.mo is not compiled "
                    "(pybabel compile -d translations)")
    from babel.support import Translations

    chinese = Translations.load(str(ROOT / "translations"), ["zh"]).gettext("Log in with TikTok")
    assert chinese != "Log in with TikTok" and CJK.search(chinese)
    assert chinese in html


def test_language_switch_is_kept_for_the_session(logged_in):
    switched = post(logged_in, "/language", {"lang": "zh", "next": "/videos"})
    assert switched.status_code == 302 and switched.headers["Location"].endswith("/videos")
    assert '<html lang="zh-CN">' in logged_in.get("/videos").get_data(as_text=True)
    post(logged_in, "/language", {"lang": "en"})
    assert '<html lang="en">' in logged_in.get("/").get_data(as_text=True)


def test_unknown_language_is_refused(logged_in):
    assert post(logged_in, "/language", {"lang": "xx"}).status_code == 400


# --- for every person: keyboard, screen reader, phone -------------------------------------


def test_every_page_has_a_description_a_skip_link_and_its_target(logged_in):
    for path in ("/", "/videos", "/analytics", "/export/", "/setup", "/privacy", "/terms", "/no-such-page"):
        html = logged_in.get(path).get_data(as_text=True)
        assert re.search(r'<meta name="description" content="[^"]{40,}">', html), path
        skip = html.index('<a class="skip-link" href="#content">')
        assert skip < html.index("<header") and '<main id="content" tabindex="-1">' in html, path


@pytest.mark.parametrize(("path", "current"), [("/", "Overview"), ("/videos", "Videos"),
                                               ("/analytics", "Analytics"), ("/export/", "Export")])
def test_main_navigation_marks_the_current_page(logged_in, path, current):
    html = logged_in.get(path).get_data(as_text=True)
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    marked = re.findall(r'<a href="[^"]+"\s*aria-current="page">([^<]+)</a>', nav)
    assert marked == [current]


def test_a_video_page_marks_videos_as_the_current_section(logged_in, app):
    video_id = next(iter(stored_videos(app)))
    html = logged_in.get(f"/videos/{video_id}").get_data(as_text=True)
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    assert re.findall(r'aria-current="(\w+)">([^<]+)</a>', nav) == [("true", "Videos")]


def test_each_sparkline_on_the_videos_page_names_its_video(logged_in):
    html = logged_in.get("/videos").get_data(as_text=True)
    labels = re.findall(r'<svg [^>]*class="chart chart-type-sparkline"[^>]*aria-label="([^"]+)"', html)
    assert len(labels) == 20 and len(set(labels)) == 20
    shape = r"Views of “.+” \(\w+ \d+, \d{4}\) over the last 30 days"
    assert all(re.fullmatch(shape, label) for label in labels)


def test_the_filter_form_folds_and_opens_when_a_filter_is_set(logged_in):
    folded = logged_in.get("/videos").get_data(as_text=True)
    assert re.search(r'<details class="filter-fold card">\s*<summary>Sort and filter</summary>', folded)
    opened = logged_in.get("/videos?min_view_count=1000&sort=view_count").get_data(as_text=True)
    assert re.search(r'<details class="filter-fold card" open>\s*<summary>Sort and filter \(1 filter set\)',
                     opened)


def test_headings_use_sentence_case_and_the_hashtag_chart_says_what_it_measures(logged_in):
    html = logged_in.get("/analytics").get_data(as_text=True)
    headings = [text(h) for h in re.findall(r"<h2>(.*?)</h2>", html, re.S)]
    assert "Top videos by views" in headings and "Top videos by engagement rate" in headings
    assert "Total views by hashtag" in headings and "Hashtags" not in headings
    assert not [h for h in headings if re.search(r" [A-Z]", h)], headings


def test_a_first_sync_says_history_starts_instead_of_one_dot_charts(logged_in):
    html = main_html(logged_in.get("/"))
    assert "History starts on" in html and "The chart appears after the next sync." in html
    assert 'class="chart-point' not in html.split("Top videos by views")[0]


def test_dates_in_sentences_never_break_inside(logged_in):
    post(logged_in, "/language", {"lang": "zh", "next": "/videos"})
    html = logged_in.get("/videos").get_data(as_text=True)
    date = r'<span class="nowrap">\d{4}年\d{1,2}月\d{1,2}日 \d{1,2}:\d{2}</span>'
    assert re.search(rf"数据来自 {date} 的同步", html)
    assert re.search(r'<td class="num" data-label="播放量" title="[\d,]+">[\d.]+万?</td>', html)
