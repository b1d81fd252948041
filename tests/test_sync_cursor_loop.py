"""A video list whose cursors go round in a circle fails the sync instead of looping."""

import responses

from dashboard.core.sync import run_sync
from dashboard.web.context import get_store
from tests.conftest import login


def _page(cursor, has_more, video_id):
    return {"data": {"videos": [{"id": video_id, "create_time": 1_700_000_000}],
                     "cursor": cursor, "has_more": has_more},
            "error": {"code": "ok", "message": "", "log_id": "L"}}


def test_a_cursor_cycle_is_a_failed_sync_not_an_endless_walk(client, app, sandbox_server):
    login(client)
    with app.app_context(), responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(sandbox_server.url + "/v2/oauth")
        mock.add_passthru(sandbox_server.url + "/v2/user")
        list_url = sandbox_server.url + "/v2/video/list/"
        mock.post(list_url, json=_page(200, True, "1"))
        mock.post(list_url, json=_page(100, True, "2"))
        mock.post(list_url, json=_page(200, True, "3"))
        mock.post(list_url, json=_page(100, True, "4"))
        account_id = get_store().accounts.all()[0].id
        result = run_sync(app.extensions["core"], account_id)
        list_calls = [c for c in mock.calls if "/v2/video/list/" in c.request.url]
    assert not result.ok and result.code == "malformed_response"
    assert len(list_calls) == 3
