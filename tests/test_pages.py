"""What each page shows a creator, read through the Flask test client after
a real login against the loopback sandbox."""

from __future__ import annotations

from tests.conftest import login
from tests.flow_helpers import main_html, only_account, post, row_video_id, text, video_rows


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
