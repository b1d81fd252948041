"""The worker: syncs leave the request, are queued once, throttled, followed, picked up again."""

from __future__ import annotations

import time

from sqlalchemy import update

from dashboard.core.jobs import start_in_process
from dashboard.storage.models import Account, SyncRun, Video, utcnow
from sandbox import SANDBOX_CLIENT_KEY, data
from tests.conftest import api_calls, login
from tests.flow_helpers import only_account, post


def test_sync_now_answers_at_once_and_a_second_press_within_the_minute_is_429(make_app, sandbox_state):
    app = make_app(SYNC_NOW_INTERVAL_SECONDS=60)
    client = app.test_client()
    login(client)
    first = post(client, "/sync")
    assert first.status_code == 303
    second = post(client, "/sync")
    assert second.status_code == 429
    assert 1 <= int(second.headers["Retry-After"]) <= 60
    page = client.get("/").get_data(as_text=True)
    assert "Can be pressed again at" in page


def test_a_sync_is_queued_at_most_once_per_account(make_app, sandbox_state):
    app = make_app(QUEUE_IMMEDIATE=False, SYNC_ON_CONNECT=False)
    client = app.test_client()
    login(client)
    jobs, account_id = app.extensions["jobs"], only_account(app).id
    assert jobs.request_sync(account_id) == "queued"
    assert jobs.request_sync(account_id) == "already"
    assert jobs.huey.pending_count() == 1
    status = client.get("/sync/status").get_json()
    assert status["state"] == "queued"
    assert "Sync queued" in client.get("/").get_data(as_text=True)


def test_a_real_consumer_runs_the_first_sync_in_the_background(make_app, sandbox_state):
    app = make_app(QUEUE_IMMEDIATE=False)
    client = app.test_client()
    sandbox_state.reset_calls()
    page = login(client)
    assert page.status_code == 200
    calls = api_calls(sandbox_state)
    assert (calls["token"], calls["user_info"], calls.get("video_list", 0)) == (1, 1, 0), calls
    assert "Lin Mei" in page.get_data(as_text=True)
    consumer = start_in_process(app.extensions["jobs"].huey, 2)
    try:
        deadline = time.monotonic() + 30
        while (status := client.get("/sync/status").get_json())["state"] != "ok":
            assert status["state"] in {"queued", "running"}, status
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
    finally:
        consumer.stop(graceful=True)
    assert status["videos_seen"] > 0 and status["error_code"] is None
    assert "Last run:" in client.get("/").get_data(as_text=True)


def test_the_tick_picks_up_a_sync_whose_worker_died(make_app, sandbox_state):
    app = make_app(SYNC_ON_CONNECT=False)
    client = app.test_client()
    login(client)
    store, account_id = app.extensions["core"].store, only_account(app).id
    run_id = store.runs.start(account_id)  # a worker started it, then died: no lease renews it
    with store.session() as db:
        db.execute(update(Account).values(sync_locked_until=None))
    assert client.get("/sync/status").get_json()["error_code"] == "interrupted"

    ticked = app.extensions["jobs"].tick()

    assert ticked["interrupted"] == 1
    with store.session() as db:
        assert db.get(SyncRun, run_id).error_code == "interrupted"
    assert client.get("/sync/status").get_json()["state"] == "ok"


def test_the_tick_queues_accounts_due_for_their_scheduled_sync(make_app, sandbox_state):
    app = make_app(SYNC_INTERVAL_MINUTES=360)
    client = app.test_client()
    login(client)
    jobs, store = app.extensions["jobs"], app.extensions["core"].store
    assert jobs.tick()["due"] == 0, "synced on connect: nothing is due"
    with store.session() as db:
        db.execute(update(Account).values(last_synced_at=utcnow().replace(year=2020)))
    assert jobs.tick()["due"] == 1


def test_every_page_of_the_account_shows_a_sync_on_its_way(make_app, sandbox_state):
    app = make_app(QUEUE_IMMEDIATE=False, SYNC_ON_CONNECT=False)
    client = app.test_client()
    login(client)
    app.extensions["jobs"].request_sync(only_account(app).id)
    for path in ("/", "/videos", "/analytics", "/export/"):
        page = client.get(path).get_data(as_text=True)
        assert 'data-sync-state="queued"' in page and "Sync queued" in page, path
        assert '<meta http-equiv="refresh"' in page, "without scripts the page refreshes itself"


def test_pictures_from_another_process_sandbox_port_are_renewed_not_refused(make_app, sandbox_state):
    """A cover URL written by one process (``flask sync``) names that process's
    server; the worker in another process renews it instead of giving up."""
    app = make_app(STORE_PICTURES=True)
    client = app.test_client()
    login(client)
    store, account_id = app.extensions["core"].store, only_account(app).id
    with store.session() as db:
        db.execute(update(Video).values(
            cover_fetched_at=None, cover_image_url="http://127.0.0.1:1/_static/cover/1.jpeg"))
    app.extensions["jobs"].pictures(account_id)
    live = [v for v in store.history.iter_videos(account_id) if v.gone_at is None]
    assert live and all(v.cover_fetched_at for v in live)


def test_a_deleted_video_keeps_its_stored_cover(make_app, sandbox_state):
    app = make_app(STORE_PICTURES=True)
    client = app.test_client()
    login(client)
    store, account_id = app.extensions["core"].store, only_account(app).id
    video = next(iter(store.history.iter_videos(account_id)))
    with store.session() as db:
        db.execute(update(Video).where(Video.id == video.id).values(gone_at=utcnow()))
    page = client.get(f"/videos/{video.video_id}").get_data(as_text=True)
    assert f"/media/{account_id}/covers/{video.video_id}.jpg" in page
    assert client.get(f"/media/{account_id}/covers/{video.video_id}.jpg").status_code == 200


def test_pictures_are_served_only_to_people_who_can_see_the_account(make_app, sandbox_state):
    app = make_app(STORE_PICTURES=True)
    owner, stranger = app.test_client(), app.test_client()
    login(owner)
    login(stranger, account="second")
    account_id = only_account_of(app, "creator")
    cover = next(p for p in app.extensions["core"].media.keys("cover", account_id))
    assert owner.get(f"/media/{account_id}/avatar.jpg").status_code == 200
    assert owner.get(f"/media/{account_id}/covers/{cover}.jpg").status_code == 200
    for path in (f"/media/{account_id}/avatar.jpg", f"/media/{account_id}/covers/{cover}.jpg"):
        assert stranger.get(path).status_code == 404, path
    for bad in (f"/media/{account_id}/covers/..%2Fx.jpg", f"/media/{account_id}/covers/abc.jpg",
                f"/media/{2**40}/avatar.jpg", f"/media/{account_id}/covers/{'9' * 40}.jpg"):
        assert owner.get(bad).status_code == 404, bad


def only_account_of(app, key: str) -> int:
    return app.extensions["core"].store.accounts.by_open_id(data.open_id(key, SANDBOX_CLIENT_KEY)).id
