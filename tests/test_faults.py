"""TikTok failing in its everyday ways, driven by the sandbox's fault switches.

For every fault a sync either completes with exactly the data the sandbox
holds at that moment, or fails cleanly: the previous state untouched, the
failure recorded with TikTok's log id and shown, and the next sync stores
the moment exactly once. The oracle is the sandbox's own data module, a pure
function of (account, time).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from dashboard.storage.models import Account, ProfileSnapshot, SyncRun, Token, Video, VideoSnapshot
from sandbox import ACCOUNTS, ANCHOR
from sandbox import data as sandbox_data
from tests.conftest import login
from tests.flow_helpers import post, text
from tiktok_official_api import TikTokClient

DAY = 86_400
ATTEMPTS = TikTokClient().max_retries + 1
RETRYABLE = ("500", "503", "429", "429-no-retry-after", "timeout", "reset", "expire_token")
ALL_KINDS = RETRYABLE + ("slow", "malformed", "truncated")


# --- helpers -------------------------------------------------------------------------------


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def store(app):
    return app.extensions["core"].store


def connect(app, account: str) -> int:
    from dashboard.commands.sandbox import connect_sandbox_account

    with app.app_context():
        return connect_sandbox_account(app, account)


def sync_at(app, sandbox_state, account_id: int, t: float, progress=None):
    from dashboard.core.sync import run_sync

    sandbox_state.clock.set(t)
    with app.app_context():
        return run_sync(app.extensions["core"], account_id, now=at(t), progress=progress)


def expected(account: str, t: float, hidden=frozenset()) -> dict:
    """What a correct sync at ``t`` stores: the sandbox's own numbers."""
    acct = ACCOUNTS[account]
    videos = {v.id: tuple(sandbox_data.counts(v, t).values())
              for v in sandbox_data.visible_videos(acct, t, frozenset(hidden))}
    stats = sandbox_data.profile_stats(acct, t, frozenset(hidden))
    profile = (stats["follower_count"], stats["following_count"], stats["likes_count"],
               stats["video_count"])
    return {"profile": [profile], "videos": videos}


def stored_at(app, account_id: int, t: float) -> dict:
    """What the database holds for the sync at ``t`` (lists, so doubles show)."""
    with store(app).session() as db:
        profiles = [(p.follower_count, p.following_count, p.likes_count, p.video_count)
                    for p in db.scalars(select(ProfileSnapshot).where(
                        ProfileSnapshot.account_id == account_id, ProfileSnapshot.taken_at == at(t)))]
        pairs = db.execute(
            select(Video.video_id, VideoSnapshot)
            .join(Video, Video.id == VideoSnapshot.video_pk)
            .where(VideoSnapshot.account_id == account_id, VideoSnapshot.taken_at == at(t))).all()
    videos = {vid: (s.view_count, s.like_count, s.comment_count, s.share_count) for vid, s in pairs}
    assert len(videos) == len(pairs), "a video was stored twice at one moment"
    return {"profile": profiles, "videos": videos}


#: Account columns a sync or a press of "Sync now" changes besides the data.
SYNC_BOOKKEEPING = ("sync_locked_until", "sync_queued_at", "sync_requested_at")


def everything(app, account_id: int) -> dict:
    """Every stored row of the account but its sync runs and lease, comparable."""
    def plain(row, skip=()):
        return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in skip}

    with store(app).session() as db:
        def of(model, *order):
            return [plain(r) for r in db.scalars(
                select(model).where(model.account_id == account_id).order_by(*order))]

        return {
            "account": plain(db.get(Account, account_id), skip=SYNC_BOOKKEEPING),
            "profile_snapshots": of(ProfileSnapshot, ProfileSnapshot.taken_at),
            "videos": of(Video, Video.video_id),
            "video_snapshots": of(VideoSnapshot, VideoSnapshot.video_pk, VideoSnapshot.taken_at),
        }


def runs(app, account_id: int) -> list[SyncRun]:
    with store(app).session() as db:
        return list(db.scalars(select(SyncRun).where(SyncRun.account_id == account_id)
                               .order_by(SyncRun.id)))


def after_page(n: int, action):
    """A progress callback that runs ``action`` once, after the n-th page."""
    state = {"pages": 0}

    def progress(done, total):
        state["pages"] += 1
        if state["pages"] == n:
            action()

    return progress


def assert_clean_failure(app, account_id, result, before):
    assert not result.ok
    assert everything(app, account_id) == before, "a failed sync changed stored data"
    run = runs(app, account_id)[-1]
    assert run.status == "failed" and run.finished_at is not None and run.taken_at is None
    assert run.error_code
    assert run.log_id == result.log_id
    assert store(app).accounts.get(account_id).sync_locked_until is None


@pytest.fixture
def no_retry_wait(monkeypatch):
    """Retries happen as in production, without the seconds of back-off."""
    monkeypatch.setattr(TikTokClient, "_retry_wait", lambda self, error, attempt: 0)


@pytest.fixture
def fast_app(make_app, no_retry_wait, sandbox_state):
    """The app with a short read timeout, so a stalled TikTok times out in 0.4 s."""
    sandbox_state.rate_limit_per_minute = None
    sandbox_state.configure(timeout_seconds=3.0, slow_seconds=0.1)
    app = make_app(TIKTOK_TIMEOUT=0.4)
    yield app
    sandbox_state.clear_faults()  # wakes the sandbox threads still sleeping


# --- each fault kind ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_fault_leaves_either_exactly_the_right_data_or_the_previous_state(fast_app, sandbox_state, kind):
    app = fast_app
    account_id = connect(app, "second")
    t = ANCHOR
    assert sync_at(app, sandbox_state, account_id, t).ok
    scenarios = [
        ("video_list", 1, "on the second page, once"),
        ("video_list", ATTEMPTS, "on the second page, every retry"),
        ("user_info", 1, "on the first call, once"),
        ("user_info", ATTEMPTS, "on the first call, every retry"),
    ]
    outcomes = []
    for endpoint, times, label in scenarios:
        t += DAY
        before = everything(app, account_id)

        def inject(endpoint=endpoint, times=times):
            sandbox_state.queue_fault(endpoint, kind, times=times)

        if endpoint == "video_list":
            result = sync_at(app, sandbox_state, account_id, t, progress=after_page(1, inject))
        else:
            inject()
            result = sync_at(app, sandbox_state, account_id, t)
        sandbox_state.clear_faults()
        outcomes.append((label, result.ok))
        if result.ok:
            assert stored_at(app, account_id, t) == expected("second", t), label
        else:
            assert_clean_failure(app, account_id, result, before)
            again = sync_at(app, sandbox_state, account_id, t)
            assert again.ok, (label, again)
            assert stored_at(app, account_id, t) == expected("second", t), label
    ok = dict(outcomes)
    if kind in RETRYABLE or kind == "slow":
        assert ok["on the second page, once"] and ok["on the first call, once"], \
            "one passing fault of this kind is retried and the sync completes"
    if kind != "slow":
        assert not ok["on the second page, every retry"] and not ok["on the first call, every retry"]
    statuses = [r.status for r in runs(app, account_id)]
    assert statuses.count("running") == 0


def test_a_failed_sync_is_shown_with_its_reason_and_log_id_and_the_next_sync_clears_it(
        make_app, sandbox_state, no_retry_wait):
    app = make_app()
    client = app.test_client()
    login(client, account="second")
    before = everything(app, store(app).accounts.all()[0].id)
    sandbox_state.queue_fault("video_list", "503", times=ATTEMPTS)

    page = post(client, "/sync", follow_redirects=True)

    assert page.status_code == 200
    run = runs(app, before["account"]["id"])[-1]
    assert run.status == "failed" and run.log_id
    shown = text(page.get_data(as_text=True))
    assert run.log_id in shown and "try again" in shown.lower()
    overview = text(client.get("/").get_data(as_text=True))
    assert run.log_id in overview and "failed" in overview
    assert everything(app, before["account"]["id"]) == before

    page = post(client, "/sync", follow_redirects=True)
    shown = text(page.get_data(as_text=True))
    assert "Last run:" in shown and run.log_id not in shown
    assert run.log_id not in text(client.get("/").get_data(as_text=True))


def test_a_login_whose_code_exchange_fails_says_so_and_the_next_login_works(make_app, sandbox_state):
    app = make_app()
    client = app.test_client()
    sandbox_state.queue_fault("token", "500")
    page = login(client, account="second")
    assert page.status_code == 502
    shown = text(page.get_data(as_text=True))
    assert "Could not finish the login" in shown and "log id" in shown.lower()
    assert store(app).accounts.all() == []
    assert login(client, account="second").status_code == 200
    assert len(store(app).accounts.all()) == 1


# --- tokens during a sync -------------------------------------------------------------------------


def test_a_token_expiring_mid_sync_is_refreshed_and_the_sync_completes(fast_app, sandbox_state):
    app = fast_app
    account_id = connect(app, "creator")
    old = store(app).tokens.load(account_id)
    sandbox_state.reset_calls()

    result = sync_at(app, sandbox_state, account_id, ANCHOR,
                     progress=after_page(2, sandbox_state.expire_access_tokens))

    assert result.ok, result
    assert sandbox_state.calls["token"] == 1
    assert stored_at(app, account_id, ANCHOR) == expected("creator", ANCHOR)
    new = store(app).tokens.load(account_id)
    assert new.access_token != old.access_token and new.refresh_token != old.refresh_token
    assert sandbox_state.access_grant(new.access_token) is not None


@pytest.mark.parametrize("when", ["before the sync", "between pages"])
def test_a_revoked_refresh_token_fails_cleanly_and_asks_to_log_in_again(make_app, sandbox_state, when):
    app = make_app()
    client = app.test_client()
    login(client, account="creator")
    account_id = store(app).accounts.all()[0].id
    before = everything(app, account_id)

    def revoke():
        sandbox_state.expire_access_tokens()
        sandbox_state.revoke_refresh_tokens()

    if when == "before the sync":
        revoke()
        result = sync_at(app, sandbox_state, account_id, ANCHOR)
    else:
        result = sync_at(app, sandbox_state, account_id, ANCHOR, progress=after_page(3, revoke))

    assert result.code == "reauth_required"
    assert everything(app, account_id) == before
    assert runs(app, account_id)[-1].status == "failed"
    page = text(client.get("/").get_data(as_text=True))
    assert "Log in with TikTok again" in page or "log in again" in page
    assert client.get("/videos").status_code == 200, "the stored history stays readable"

    assert login(client, account="creator").status_code == 200
    assert sync_at(app, sandbox_state, account_id, ANCHOR + DAY).ok


def test_a_refresh_that_fails_for_a_passing_reason_keeps_the_token(fast_app, sandbox_state):
    app = fast_app
    account_id = connect(app, "second")
    sandbox_state.expire_access_tokens()
    sandbox_state.queue_fault("token", "503")
    result = sync_at(app, sandbox_state, account_id, ANCHOR)
    assert not result.ok and result.code != "reauth_required"
    with store(app).session() as db:
        assert db.get(Token, account_id) is not None, "a 503 is no reason to forget the login"
    assert sync_at(app, sandbox_state, account_id, ANCHOR).ok


# --- videos changing during a sync ------------------------------------------------------------------


def test_a_video_deleted_between_pages_gives_a_consistent_result(fast_app, sandbox_state):
    app = fast_app
    account_id = connect(app, "creator")
    visible = sandbox_data.visible_videos(ACCOUNTS["creator"], ANCHOR)
    fetched, ahead = visible[3].id, visible[75].id  # on page 1, and on page 4

    def delete_two():
        sandbox_state.hide_video("creator", fetched)
        sandbox_state.hide_video("creator", ahead)

    result = sync_at(app, sandbox_state, account_id, ANCHOR, progress=after_page(1, delete_two))

    assert result.ok, result
    stored = stored_at(app, account_id, ANCHOR)
    want = expected("creator", ANCHOR)["videos"]
    assert ahead not in stored["videos"]
    assert set(stored["videos"]) - {fetched} == set(want) - {fetched, ahead}
    for video_id, numbers in stored["videos"].items():
        assert numbers == want[video_id]

    assert sync_at(app, sandbox_state, account_id, ANCHOR + DAY).ok
    known = {v.video_id: v for v in store(app).history.iter_videos(account_id)}
    assert ahead not in known, "never seen, never stored"
    assert fetched not in stored["videos"] or known[fetched].gone_at == at(ANCHOR + DAY)
    hidden = frozenset({fetched, ahead})
    assert stored_at(app, account_id, ANCHOR + DAY) == expected("creator", ANCHOR + DAY, hidden)


def test_the_hide_video_fault_gives_the_sandboxs_own_view_after_the_sync(fast_app, sandbox_state):
    app = fast_app
    account_id = connect(app, "creator")
    sandbox_state.queue_fault("video_list", "hide_video")
    result = sync_at(app, sandbox_state, account_id, ANCHOR)
    assert result.ok
    hidden = sandbox_state.hidden_videos("creator")
    assert len(hidden) == 1
    stored = stored_at(app, account_id, ANCHOR)
    assert stored["videos"] == expected("creator", ANCHOR, hidden)["videos"]
    # the profile was read before the video went
    assert stored["profile"] == expected("creator", ANCHOR)["profile"]


# --- pages while TikTok fails --------------------------------------------------------------------------


def test_pictures_failing_at_tiktok_leave_pages_up_and_the_next_job_stores_them(
        make_app, sandbox_state, no_retry_wait):
    app = make_app()
    client = app.test_client()
    login(client, account="second")
    account_id = store(app).accounts.all()[0].id
    with store(app).session() as db:
        db.execute(update(Video).values(cover_fetched_at=None, cover_image_url=None))
    sandbox_state.queue_fault("video_query", "500", times=ATTEMPTS)

    app.extensions["jobs"].pictures(account_id)
    assert client.get("/videos").status_code == 200
    assert all(v.cover_fetched_at is None for v in store(app).history.iter_videos(account_id))

    app.extensions["jobs"].pictures(account_id)
    stored = [v for v in store(app).history.iter_videos(account_id) if v.cover_fetched_at]
    assert stored, "the next job renews the URLs and stores the covers"

