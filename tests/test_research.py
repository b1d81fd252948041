"""Research runs over the loopback sandbox: windows, paging, quotas, faults, resuming.

Each test builds the app against the sandbox and works runs with the core's
``work_run`` (what the worker task does), so every request is real HTTP.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from dashboard.core.research import Research, work_run
from dashboard.core.research_query import check_video_query
from dashboard.storage.research_models import ResearchRecord, ResearchRun, ResearchWindow
from sandbox import research as sandbox_research

QUERY = {
    "query": {"and": [{"operation": "IN", "field_name": "region_code", "field_values": ["US", "DE"]}],
              "not": [{"operation": "EQ", "field_name": "hashtag_name", "field_values": ["sport"]}]},
    "start_date": "20260301", "end_date": "20260529",  # 90 days, both ends included
    "max_count": 100,
    "fields": ["id", "create_time", "username", "region_code", "video_description", "view_count"],
}


def expected_ids(start="20260301", end="20260529") -> set[str]:
    """What the sandbox holds for QUERY, read from its data directly."""
    low = datetime.strptime(start, "%Y%m%d").replace(tzinfo=UTC).timestamp()
    high = (datetime.strptime(end, "%Y%m%d").replace(tzinfo=UTC) + timedelta(days=1)).timestamp()
    return {str(v["id"]) for v in sandbox_research.videos()
            if low <= v["create_time"] < high and v["region_code"] in ("US", "DE")
            and "sport" not in v["hashtag_names"]}


class Killed(BaseException):
    """A worker killed mid-run: nothing after it runs, no lease is released."""


def research_of(app, **changes) -> Research:
    research = app.extensions["research"]
    research.sleep = lambda seconds: None
    if changes:
        research.settings = replace(research.settings, **changes)
    return research


def start(research, spec=None) -> int:
    from dashboard.core.research import start_video_run

    query, problems = check_video_query(spec or QUERY)
    assert problems == []
    return start_video_run(research, None, query)


def stored_ids(research, run_id) -> list[str]:
    with research.store.session() as db:
        return list(db.scalars(select(ResearchRecord.record_key).where(ResearchRecord.run_id == run_id)))


def test_a_90_day_query_runs_in_three_windows_and_stores_every_matching_video(app):
    research = research_of(app)
    run_id = start(research)

    outcome = work_run(research, run_id)

    run = research.store.research.run(run_id)
    windows = research.store.research.windows(run_id)
    assert outcome.code == "done" and run.status == "done"
    assert [(w.start_date, w.end_date) for w in windows] == [
        ("20260301", "20260330"), ("20260331", "20260429"), ("20260430", "20260529")]
    ids = stored_ids(research, run_id)
    assert sorted(ids) == sorted(expected_ids()) and len(ids) > 200
    assert run.records == len(ids) and run.windows_done == 3
    assert run.requests == sum(w.pages for w in windows) == 3  # under 100 a window: one page each
    used = research.store.research.quota_used(datetime.now(UTC).strftime("%Y%m%d"), "video")
    assert used == (run.requests, len(ids))
    record = json.loads(research.store.research.record(run_id, ids[0]).data)
    assert set(record) == set(QUERY["fields"]) and isinstance(record["id"], str)


def test_an_expired_search_id_goes_on_from_the_last_stored_page(app, sandbox_state):
    research = research_of(app)
    run_id = start(research, {**QUERY, "max_count": 30})
    pages = []

    def after_page(stored):
        pages.append(stored)
        if len(pages) == 1:
            sandbox_state.queue_fault("research_video_query", "expire_search")

    outcome = work_run(research, run_id, on_page=after_page)

    assert outcome.code == "done"
    ids = stored_ids(research, run_id)
    assert sorted(ids) == sorted(expected_ids())
    assert len(ids) == len(set(ids))


def test_http_500_on_a_large_window_splits_it_in_halves_until_tiktok_answers(app, sandbox_state):
    sandbox_state.settings.update(research_max_window_days=10)
    research = research_of(app)
    run_id = start(research, {**QUERY, "end_date": "20260330"})

    outcome = work_run(research, run_id)

    assert outcome.code == "done"
    windows = research.store.research.windows(run_id)
    done = sorted((w.start_date, w.end_date) for w in windows if w.status == "done")
    assert all((datetime.strptime(e, "%Y%m%d") - datetime.strptime(s, "%Y%m%d")).days < 10 for s, e in done)
    assert [w.status for w in windows].count("split") == 3  # 30 -> 15 + 15 -> 8 + 7 + 8 + 7
    assert sorted(stored_ids(research, run_id)) == sorted(expected_ids(end="20260330"))


def test_random_500s_are_retried_and_lose_nothing(app, sandbox_state):
    sandbox_state.set_faults(fail_rate=0.3, seed=7, kinds=["500"], endpoints=["research_video_query"])
    research = research_of(app)
    run_id = start(research)

    assert work_run(research, run_id).code == "done"
    assert sorted(stored_ids(research, run_id)) == sorted(expected_ids())


def test_a_run_that_would_pass_the_daily_quota_pauses_until_midnight_utc_and_goes_on(app):
    research = research_of(app, daily_requests=2)
    run_id = start(research)

    outcome = work_run(research, run_id)

    run = research.store.research.run(run_id)
    assert outcome.code == "paused" and run.status == "paused" and run.requests == 2
    tomorrow = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)
    assert run.resume_at == tomorrow
    assert research.store.research.runs_to_pick_up() == []
    assert research.store.research.runs_to_pick_up(tomorrow) == [run_id]

    research.clock = lambda: tomorrow + timedelta(seconds=5)
    with research.store.session() as db:  # the worker takes it when the reset has come
        db.execute(update(ResearchRun).where(ResearchRun.id == run_id).values(resume_at=None))
    research.settings = replace(research.settings, daily_requests=1000)
    assert work_run(research, run_id).code == "done"
    assert sorted(stored_ids(research, run_id)) == sorted(expected_ids())


def test_tiktoks_daily_quota_limit_exceeded_pauses_the_run(app, sandbox_state):
    sandbox_state.settings.update(research_daily_requests=1)
    research = research_of(app)
    run_id = start(research)

    outcome = work_run(research, run_id)

    run = research.store.research.run(run_id)
    assert outcome.code == "paused" and run.error_code == "daily_quota"
    assert run.resume_at is not None and run.resume_at > datetime.now(UTC)
    assert run.records > 0  # the first page stayed stored


def test_a_run_interrupted_by_a_killed_worker_resumes_without_duplicates(app):
    research = research_of(app, lease_seconds=0.05)
    run_id = start(research, {**QUERY, "max_count": 40})
    pages = []

    def kill_after_two(stored):
        pages.append(stored)
        if len(pages) == 2:
            raise Killed()

    with pytest.raises(Killed):
        work_run(research, run_id, on_page=kill_after_two)
    half = stored_ids(research, run_id)
    assert research.store.research.run(run_id).status == "running"  # nobody released it

    later = datetime.now(UTC) + timedelta(seconds=1)
    assert research.store.research.runs_to_pick_up(later) == [run_id]
    research.clock = lambda: later
    time.sleep(0.06)  # the lease (50 ms) runs out
    assert work_run(research, run_id).code == "done"

    ids = stored_ids(research, run_id)
    assert set(half) <= set(ids) and len(ids) == len(set(ids))
    assert sorted(ids) == sorted(expected_ids())
    with research.store.session() as db:
        assert db.scalar(select(func.count()).select_from(ResearchRecord)
                         .where(ResearchRecord.run_id == run_id)) == len(expected_ids())


def test_the_client_token_is_renewed_once_when_tiktok_refuses_it(app, sandbox_state):
    research = research_of(app)
    run_id = start(research, {**QUERY, "max_count": 50})
    pages = []
    outcome = work_run(research, run_id, on_page=lambda s: _expire(sandbox_state, pages, s))

    assert outcome.code == "done"
    assert sandbox_state.calls["token"] == 2
    assert sorted(stored_ids(research, run_id)) == sorted(expected_ids())


def _expire(state, pages, stored):
    pages.append(stored)
    if len(pages) == 1:
        with state.updating("research_tokens", {}) as tokens:
            tokens.clear()


def test_a_window_tiktok_refuses_fails_the_run_with_tiktoks_code_and_log_id(app):
    research = research_of(app)
    run_id = research.store.research.create_run(None, "video", QUERY, windows=[("20260301", "20260405")])

    outcome = work_run(research, run_id)

    run = research.store.research.run(run_id)
    assert outcome.code == "failed" and run.status == "failed" and run.requests == 1
    assert run.error_code == "invalid_params" and len(run.log_id) == 34


def test_the_tick_queues_a_paused_run_whose_reset_has_come(app):
    research = research_of(app)
    run_id = start(research)
    with research.store.session() as db:
        db.execute(update(ResearchRun).where(ResearchRun.id == run_id).values(
            status="paused", resume_at=datetime.now(UTC) - timedelta(seconds=1)))

    assert app.extensions["research_jobs"].tick() == 1  # the queue runs it at once in tests

    assert research.store.research.run(run_id).status == "done"
    assert app.extensions["research_jobs"].tick() == 0


def test_comments_of_a_video_come_with_their_replies(app):
    research = research_of(app)
    video = next(v for v in sandbox_research.videos() if v["comment_count"] >= 12)
    from dashboard.core.research import start_lookup

    run_id = start_lookup(research, None, "comments", str(video["id"]))

    assert work_run(research, run_id).code == "done"
    rows = [json.loads(r.data) for r in research.store.research.iter_records(run_id)]
    top = [r for r in rows if r["parent_comment_id"] == str(video["id"])]
    replies = [r for r in rows if r["parent_comment_id"] != str(video["id"])]
    assert len(top) == min(video["comment_count"], 40)
    assert len(replies) == 3 * sum(1 for c in top if c["reply_count"])
    assert all(isinstance(r["id"], str) for r in rows)


@pytest.mark.parametrize("kind,value,count", [("followers", "ana_cooks", 230), ("following", "ana_cooks", 40),
                                              ("user_info", "science_sam", 1)])
def test_user_lookups_page_through_everything(app, kind, value, count):
    from dashboard.core.research import start_lookup

    research = research_of(app)
    run_id = start_lookup(research, None, kind, value)

    assert work_run(research, run_id).code == "done"
    run = research.store.research.run(run_id)
    assert run.records == count
    bucket = "follow" if kind != "user_info" else "video"
    assert research.store.research.quota_used(datetime.now(UTC).strftime("%Y%m%d"), bucket)[0] == run.requests


def test_the_ad_library_pages_with_search_id_and_refuses_nothing_it_should_take(app):
    from dashboard.core.research import check_ad_query, start_ad_run

    research = research_of(app)
    spec, problems = check_ad_query({"start_date": "2026-01-01", "end_date": "2026-12-31",
                                     "country_code": "all", "search_term": ""})
    assert problems == []
    run_id = start_ad_run(research, None, spec)

    assert work_run(research, run_id).code == "done"
    ids = {json.loads(r.data)["ad"]["id"] for r in research.store.research.iter_records(run_id)}
    expected = {str(a["ad"]["id"]) for a in sandbox_research.ad_data()[1]}
    assert ids == expected and len(ids) > 50  # more than one page of 50
    assert research.store.research.run(run_id).requests == len(ids) // 50 + 1


def test_stopping_a_run_keeps_what_it_stored_and_resuming_finishes_it(app):
    research = research_of(app)
    run_id = start(research, {**QUERY, "max_count": 50})
    store = research.store.research

    def stop_after_one(stored):
        with research.store.session() as db:
            db.execute(update(ResearchRun).where(ResearchRun.id == run_id).values(stop_requested=True))

    assert work_run(research, run_id, on_page=stop_after_one).code == "stopped"
    assert store.run(run_id).records == 50
    assert store.reopen(run_id, person_id=12345) is False  # not someone else's
    assert store.reopen(run_id, None) is True
    assert work_run(research, run_id).code == "done"
    assert sorted(stored_ids(research, run_id)) == sorted(expected_ids())
    assert [w.status for w in store.windows(run_id)] == ["done"] * 3
    with research.store.session() as db:
        assert db.scalar(select(func.count()).select_from(ResearchWindow)) == 3


def _length(seconds: int) -> str:
    return "SHORT" if seconds < 15 else "MID" if seconds <= 60 else "LONG" if seconds <= 300 else "EXTRA_LONG"


def _day(video) -> str:
    return datetime.fromtimestamp(video["create_time"], UTC).strftime("%Y%m%d")


@pytest.mark.parametrize("condition,keep", [
    (("EQ", "username", ["science_sam"]), lambda v: v["username"] == "science_sam"),
    (("IN", "region_code", ["FR", "IT"]), lambda v: v["region_code"] in ("FR", "IT")),
    (("EQ", "hashtag_name", ["Climate"]), lambda v: "climate" in v["hashtag_names"]),
    (("EQ", "keyword", ["rainy"]), lambda v: "rainy" in v["video_description"]),
    (("IN", "video_length", ["SHORT", "EXTRA_LONG"]),
     lambda v: _length(v["video_duration"]) in ("SHORT", "EXTRA_LONG")),
    (("GTE", "create_date", ["20260305"]), lambda v: _day(v) >= "20260305"),
    (("LT", "create_date", ["20260305"]), lambda v: _day(v) < "20260305"),
    (("EQ", "music_id", ["6900000000000000007"]), lambda v: v["music_id"] == 6900000000000000007),
    (("EQ", "effect_id", ["7100000000000000003"]), lambda v: "7100000000000000003" in v["effect_ids"]),
])
def test_every_condition_field_selects_what_it_says(app, condition, keep):
    research = research_of(app)
    operation, name, values = condition
    spec = {"query": {"and": [{"operation": operation, "field_name": name, "field_values": values}]},
            "start_date": "20260301", "end_date": "20260310", "fields": ["id"]}
    run_id = start(research, spec)

    assert work_run(research, run_id).code == "done"

    low = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    high = datetime(2026, 3, 11, tzinfo=UTC).timestamp()
    wanted = {str(v["id"]) for v in sandbox_research.videos() if low <= v["create_time"] < high and keep(v)}
    assert wanted and sorted(stored_ids(research, run_id)) == sorted(wanted)


@pytest.mark.parametrize("change,message", [
    ({"end_date": "20260402"}, "no more than 30 days"),
    ({"query": {"and": [{"operation": "EQ", "field_name": "colour", "field_values": ["red"]}]}},
     "Invalid field_name"),
    ({"query": {"and": [{"operation": "GT", "field_name": "username", "field_values": ["a"]}]}},
     "not supported for username"),
    ({"query": {"and": [{"operation": "LIKE", "field_name": "username", "field_values": ["a"]}]}},
     "Invalid operation"),
    ({"query": {}}, "at least one condition"),
    ({"max_count": 101}, "Invalid count or cursor"),
    ({"search_id": "123"}, "Search Id 123 is invalid or expired"),
    ({"cursor": 5}, None),
])
def test_the_sandbox_refuses_what_tiktok_refuses(sandbox_state, change, message):
    from sandbox import SANDBOX_RESEARCH_CLIENT_KEY, SANDBOX_RESEARCH_CLIENT_SECRET, create_sandbox_app

    tiktok = create_sandbox_app(sandbox_state).test_client()
    token = tiktok.post("/v2/oauth/token/", data={
        "client_key": SANDBOX_RESEARCH_CLIENT_KEY, "client_secret": SANDBOX_RESEARCH_CLIENT_SECRET,
        "grant_type": "client_credentials"}).json["access_token"]
    body = {"query": QUERY["query"], "start_date": "20260301", "end_date": "20260330", **change}

    answer = tiktok.post("/v2/research/video/query/?fields=id", json=body,
                         headers={"Authorization": f"Bearer {token}"})

    if message is None:
        assert answer.status_code == 200 and answer.json["data"]["cursor"] > 5
    else:
        assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_params"
        assert message in answer.json["error"]["message"]


def test_the_sandbox_gives_client_tokens_to_research_clients_only(sandbox_state):
    from sandbox import SANDBOX_CLIENT_KEY, SANDBOX_CLIENT_SECRET, create_sandbox_app

    tiktok = create_sandbox_app(sandbox_state).test_client()
    answer = tiktok.post("/v2/oauth/token/", data={"client_key": SANDBOX_CLIENT_KEY,
                                                    "client_secret": SANDBOX_CLIENT_SECRET,
                                                    "grant_type": "client_credentials"})

    assert answer.json["error"] == "unauthorized_client"
    refused = tiktok.post("/v2/research/video/query/?fields=id", json={},
                          headers={"Authorization": "Bearer act.not-a-client-token"})
    assert refused.status_code == 401 and refused.json["error"]["code"] == "access_token_invalid"


def test_the_quota_count_adds_up_when_runs_count_at_once(app):
    import threading

    store = research_of(app).store.research
    run_ids = [store.create_run(None, "video", QUERY) for _ in range(4)]

    def spend(run_id):
        for _ in range(25):
            store.count_request(run_id, "video", "20260101")

    threads = [threading.Thread(target=spend, args=(r,)) for r in run_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert store.quota_used("20260101", "video") == (100, 0)
    assert [store.run(r).requests for r in run_ids] == [25] * 4
