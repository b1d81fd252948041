"""Pages a person relies on (issue 12): plain error pages, the way back after
login, a confirmation before deleting, the video filters' mistakes shown at
their field, clean URLs, empty results and missing permissions explained."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from dashboard.storage.models import Account, Video
from tests.conftest import consent, login
from tests.flow_helpers import csrf_token, main_html, text


def count(app, model) -> int:
    with app.extensions["core"].store.session() as db:
        return db.scalar(select(func.count()).select_from(model))


def login_link(page: str) -> str:
    found = re.search(r'href="(/auth[^"]*)"', page)
    assert found, "no login link"
    return html.unescape(found.group(1))


# --- error pages -------------------------------------------------------------------------------


def test_error_pages_speak_plain_words_not_status_codes(app):
    client = app.test_client()
    for path, words in (("/no-such-page", "Page not found"), ("/analytics", "Please log in")):
        page = text(main_html(client.get(path)))
        assert words in page
        assert "HTTP status" not in page and not re.search(r"\b40[134]\b", page), page


def test_a_logged_out_visit_returns_to_the_page_after_login(app):
    client = app.test_client()
    page = client.get("/videos?sort=view_count&order=asc").get_data(as_text=True)
    start = login_link(page)
    assert parse_qs(urlsplit(start).query)["next"] == ["/videos?sort=view_count&order=asc"]
    begin = client.get(start)
    back = urlsplit(consent(begin.headers["Location"]))
    landed = client.get(back.path + "?" + back.query)
    assert landed.status_code == 302
    assert landed.headers["Location"] == "/videos?sort=view_count&order=asc"


def test_the_return_address_never_leaves_the_site(app):
    client = app.test_client()
    begin = client.get("/auth?next=//evil.example/x")
    back = urlsplit(consent(begin.headers["Location"]))
    assert client.get(back.path + "?" + back.query).headers["Location"] == "/"


# --- disconnecting asks first --------------------------------------------------------------------


def test_disconnect_asks_for_confirmation_saying_what_will_be_deleted(app, logged_in):
    overview = logged_in.get("/").get_data(as_text=True)
    assert 'action="/account/delete"' not in overview, "one click must not delete"
    assert 'href="/account/disconnect"' in overview
    confirm = logged_in.get("/account/disconnect")
    assert confirm.status_code == 200
    page = text(main_html(confirm))
    videos = count(app, Video)
    assert f"{videos} videos" in page and "revoke" in page.lower()
    body = confirm.get_data(as_text=True)
    assert 'action="/account/delete"' in body and 'name="csrf_token"' in body
    assert count(app, Account) == 1 and count(app, Video) == videos, "looking deletes nothing"
    token = csrf_token(logged_in, "/account/disconnect")
    done = logged_in.post("/account/delete", data={"csrf_token": token})
    assert done.status_code == 302 and count(app, Account) == 0


# --- the video filters ----------------------------------------------------------------------------


def test_an_inverted_date_range_reshows_the_form_with_the_message_at_the_field(logged_in):
    response = logged_in.get("/videos?from=2026-06-02&to=2026-06-01&min_view_count=5&sort=view_count")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Bad request" not in page and "Check the link" not in page
    assert 'value="2026-06-02"' in page and 'value="2026-06-01"' in page and 'value="5"' in page
    assert re.search(r'name="to"[^>]*aria-invalid="true"[^>]*aria-describedby="to-error"', page)
    assert re.search(r'id="to-error"[^>]*>[^<]*before the start date', page)
    assert '<option value="view_count" selected' in page


def test_a_bad_number_filter_is_named_at_its_field(logged_in):
    response = logged_in.get("/videos?min_like_count=lots")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'value="lots"' in page and 'id="min_like_count-error"' in page
    assert "whole number" in page


def test_empty_filter_fields_are_dropped_from_the_url(logged_in):
    response = logged_in.get("/videos?sort=view_count&order=desc&from=&to=&min_view_count=&min_like_count=+")
    assert response.status_code == 302
    assert response.headers["Location"] == "/videos?sort=view_count&order=desc"
    page = logged_in.get("/videos?sort=view_count&min_view_count=0").get_data(as_text=True)
    links = [html.unescape(u) for u in re.findall(r'href="(/videos\?[^"]*)"', page)]
    assert links and all(not re.search(r"=(&|$)", u) for u in links), links
    download = logged_in.get("/export/videos.csv?from=&to=2030-01-01")
    assert download.status_code == 302 and download.headers["Location"] == "/export/videos.csv?to=2030-01-01"


def test_no_matching_videos_says_so_and_offers_to_clear_the_filters(logged_in):
    page = logged_in.get("/videos?min_view_count=999999999999&sort=view_count").get_data(as_text=True)
    words = text(main_html_of(page))
    assert "No videos match these filters" in words and "Showing 0" not in words
    assert re.search(r'<a href="/videos(\?sort=view_count)?"[^>]*>Clear the filters</a>', page)


def main_html_of(page: str) -> str:
    return page[page.find("<main"):page.find("</main>")]


# --- missing permissions ---------------------------------------------------------------------------


def test_analytics_without_video_list_names_the_permission_and_how_to_grant_it(app):
    client = app.test_client()
    assert login(client, untick=("video.list",)).status_code == 200
    page = client.get("/analytics").get_data(as_text=True)
    words = text(main_html_of(page))
    assert "video.list" in words and "Log in with TikTok again" in words
    assert "Top videos by" not in words
    assert parse_qs(urlsplit(login_link(main_html_of(page))).query)["next"] == ["/analytics"]


def test_the_overview_names_each_missing_permission_with_a_way_to_grant_it(app):
    client = app.test_client()
    assert login(client, untick=("user.info.stats",)).status_code == 200
    page = main_html_of(client.get("/").get_data(as_text=True))
    assert "user.info.stats" in text(page)
    assert 'href="/auth?next=/"' in page
