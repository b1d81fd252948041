"""Small helpers for the login, page and browser tests: forms, page text,
what the database and the sandbox hold."""

from __future__ import annotations

import html as htmllib
import re
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from dashboard.storage.models import Account, Token

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_TAG = re.compile(r"<[^>]+>")
_NEXT = re.compile(r'<a class="button" rel="next" href="([^"]+)"')
_PREV = re.compile(r'<a class="button" rel="prev" href="([^"]+)"')
_ROW = re.compile(r'<tr class="video-row">(.*?)</tr>', re.S)
_VIDEO_ID = re.compile(r'href="/videos/(\d+)"')


def csrf_token(client, path: str = "/") -> str:
    """The CSRF token of a page's forms."""
    page = client.get(path).get_data(as_text=True)
    found = _CSRF.search(page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def post(client, path: str, data: dict | None = None, *, token_from: str = "/", **kwargs):
    """POST a form as the page's own form would (with its CSRF token)."""
    form = {"csrf_token": csrf_token(client, token_from), **(data or {})}
    return client.post(path, data=form, **kwargs)


def main_html(response) -> str:
    page = response.get_data(as_text=True)
    return page[page.find("<main"):page.find("</main>")]


def text(page: str) -> str:
    """Visible text of some HTML, whitespace collapsed and entities decoded."""
    return " ".join(htmllib.unescape(_TAG.sub(" ", page)).split())


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def video_rows(page: str) -> list[str]:
    return _ROW.findall(page)


def row_video_id(row: str) -> str:
    return _VIDEO_ID.search(row).group(1)


def next_link(page: str) -> str | None:
    found = _NEXT.search(page)
    return htmllib.unescape(found.group(1)) if found else None


def prev_link(page: str) -> str | None:
    found = _PREV.search(page)
    return htmllib.unescape(found.group(1)) if found else None


def walk_videos(client, start: str = "/videos") -> list[list[str]]:
    """Follow "next" links from ``start``; the video ids of each page."""
    pages, url, seen_urls = [], start, set()
    while url:
        assert url not in seen_urls, "the pager loops"
        seen_urls.add(url)
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        pages.append([row_video_id(r) for r in video_rows(page)])
        url = next_link(page)
    return pages


def only_account(app) -> Account:
    store = app.extensions["core"].store
    with store.session() as db:
        accounts = list(db.scalars(select(Account)))
    assert len(accounts) == 1, accounts
    return accounts[0]


def token_rows(app) -> list[Token]:
    store = app.extensions["core"].store
    with store.session() as db:
        return list(db.scalars(select(Token)))
