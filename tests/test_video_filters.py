"""The videos table filters by every count and keeps the filter while paging."""

import re

import pytest

from dashboard.web.context import get_store


def _ids(html: str) -> list[str]:
    return re.findall(r'href="/videos/(\d+)"', html)


def test_minimum_views_keeps_only_videos_at_or_above_it(logged_in, app):
    with app.app_context():
        account = get_store().accounts.all()[0]
        rows = get_store().history.videos_page(account.id, limit=1000)
    floor = sorted(v.view_count for v in rows)[len(rows) // 2]
    expected = {v.video_id for v in rows if v.view_count >= floor}
    seen, url = set(), f"/videos?min_view_count={floor}"
    while url:
        page = logged_in.get(url).get_data(as_text=True)
        seen.update(_ids(page))
        match = re.search(r'rel="next" href="([^"]+)"', page)
        url = match.group(1).replace("&amp;", "&") if match else None
        if url:
            assert f"min_view_count={floor}" in url
    assert seen == expected


@pytest.mark.parametrize("field", ["view_count", "like_count", "comment_count", "share_count"])
def test_each_count_filter_narrows_the_list(logged_in, field):
    everything = logged_in.get("/videos").get_data(as_text=True)
    narrowed = logged_in.get(f"/videos?min_{field}=1000000000").get_data(as_text=True)
    assert _ids(everything)
    assert _ids(narrowed) == []


@pytest.mark.parametrize("value", ["-1", "abc", "1e5", "9" * 30, "1.5"])
def test_a_bad_minimum_is_a_400(logged_in, value):
    assert logged_in.get(f"/videos?min_view_count={value}").status_code == 400
