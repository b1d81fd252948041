"""The alert rules, as pure functions on hand-made histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.alerts import (
    AccountHistory,
    AlertRules,
    RunRecord,
    VideoHistory,
    evaluate,
    follower_drop,
    sync_failing,
    video_takeoff,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def video(vid: str, posted: datetime, counts: list[tuple[datetime, int]], gone_at=None, title=None):
    return VideoHistory(vid, title or f"video {vid}", posted, gone_at, tuple(counts))


def daily_video(vid: str, posted: datetime, first_day: int, per_day: int = 0, until: datetime = NOW):
    """Synced daily from its posting: ``first_day`` views after a day, ``per_day`` more each day."""
    counts, t, n = [], posted + D, first_day
    while t <= until:
        counts.append((t, n))
        t, n = t + D, n + per_day
    return video(vid, posted, counts)


def peers(n: int = 5, first_day: int = 1000):
    """Older videos that each got ``first_day`` views in their first 24 h."""
    return [daily_video(f"p{i}", NOW - timedelta(days=20 + 3 * i), first_day, 50) for i in range(n)]


def with_spike(views_24h: int, posted=NOW - D):
    return video("hot", posted, [(posted + 2 * H, 10), (NOW, views_24h + 10)] if posted < NOW - D
                 else [(NOW, views_24h)])


def test_a_video_far_above_the_median_at_its_age_takes_off_once_by_its_id():
    history = AccountHistory(now=NOW, videos=(*peers(), with_spike(5000)))
    [event] = video_takeoff(history, AlertRules(takeoff_factor=3))
    assert event.key == "video_takeoff:hot"
    assert event.numbers["views_24h"] == 5000
    assert event.numbers["median_24h"] == 1000
    assert event.numbers["factor"] == 5.0
    assert event.subject == "video hot"


@pytest.mark.parametrize("views, factor, fires", [
    (2999, 3, False),   # 3x the median exactly is not "above"
    (3001, 3, True),
    (3001, 4, False),   # the threshold is the person's
    (9000, 10, False),
])
def test_takeoff_compares_the_24h_gain_with_factor_times_the_median(views, factor, fires):
    history = AccountHistory(now=NOW, videos=(*peers(), with_spike(views)))
    assert bool(video_takeoff(history, AlertRules(takeoff_factor=factor, takeoff_min_views=0))) is fires


def test_takeoff_needs_enough_peers_with_history_at_that_age():
    history = AccountHistory(now=NOW, videos=(*peers(2), with_spike(50_000)))
    assert video_takeoff(history, AlertRules()) == []


def test_takeoff_ignores_small_numbers_below_the_minimum_views():
    history = AccountHistory(now=NOW, videos=(*peers(5, first_day=10), with_spike(300)))
    assert video_takeoff(history, AlertRules(takeoff_min_views=1000)) == []
    assert video_takeoff(history, AlertRules(takeoff_min_views=100))


def test_takeoff_uses_the_peers_gain_at_the_same_age_not_their_whole_life():
    # A 10-day-old video gaining 3,000 a day, when videos at 10 days gain 50 a day.
    old = video("old", NOW - 10 * D, [(NOW - 10 * D + H * 20, 500), (NOW - D, 2000), (NOW, 5000)])
    history = AccountHistory(now=NOW, videos=(*peers(), old))
    [event] = video_takeoff(history, AlertRules())
    assert event.numbers["median_24h"] == 50 and event.numbers["views_24h"] == 3000


def test_takeoff_skips_gone_and_old_videos_and_unknown_gains():
    gone = video("gone", NOW - D, [(NOW, 9000)], gone_at=NOW)
    ancient = video("ancient", NOW - 60 * D, [(NOW - D, 0), (NOW, 90_000)])
    unknown = video("unknown", NOW - 5 * D, [(NOW, 90_000)])  # nothing stored a day ago
    history = AccountHistory(now=NOW, videos=(*peers(), gone, ancient, unknown))
    assert video_takeoff(history, AlertRules()) == []


def followers(*points):
    return tuple((NOW - timedelta(hours=h), n) for h, n in points)


def test_a_follower_drop_over_the_threshold_in_24h_fires_once_that_day():
    history = AccountHistory(now=NOW, followers=followers((30, 5000), (24, 5000), (0, 4850)))
    [event] = follower_drop(history, AlertRules(follower_drop_min=100))
    assert event.numbers == {"before": 5000, "after": 4850, "lost": 150,
                             "since": "2026-11-29T12:00:00Z", "threshold": 100}
    assert event.key == "follower_drop:2026-11-30"


@pytest.mark.parametrize("points, minimum, fires", [
    (((24, 5000), (0, 4900)), 100, False),   # exactly the threshold is not "over"
    (((24, 5000), (0, 4899)), 100, True),
    (((24, 5000), (0, 5200)), 100, False),   # a gain
    (((48, 5000), (24, 4700), (0, 4700)), 100, False),  # the drop was the day before
    (((6, 5000), (0, 4000)), 100, True),     # no snapshot a day old: the oldest of the day
    (((0, 4000),), 100, False),              # one snapshot says nothing
    (((24, None), (0, 10)), 1, False),       # counts the scope did not grant
])
def test_follower_drop_reads_the_net_change_over_the_last_24h(points, minimum, fires):
    history = AccountHistory(now=NOW, followers=followers(*points))
    assert bool(follower_drop(history, AlertRules(follower_drop_min=minimum))) is fires


def runs(*codes):
    """Runs newest first; ``None`` is a successful one."""
    return tuple(RunRecord(NOW - timedelta(hours=i), "ok" if c is None else "failed", c, 100 - i)
                 for i, c in enumerate(codes))


@pytest.mark.parametrize("codes, needed, fires", [
    (("timeout", "timeout", "http_500"), 3, True),
    (("timeout", "timeout", None, "timeout"), 3, False),
    (("timeout", "sync_in_progress", "timeout", "timeout"), 3, True),  # not a failure of the account
    (("timeout",), 1, True),
    ((None, "timeout", "timeout", "timeout"), 3, False),  # it recovered
])
def test_sync_failing_counts_failures_in_a_row(codes, needed, fires):
    history = AccountHistory(now=NOW, runs=runs(*codes))
    assert bool(sync_failing(history, AlertRules(sync_failures=needed))) is fires


def test_a_disconnected_account_has_no_failing_sync_alert():
    history = AccountHistory(now=NOW, runs=runs("reauth_required", "reauth_required", "reauth_required"),
                             disconnected_at=NOW - D)
    assert sync_failing(history, AlertRules()) == []


def test_a_failure_streak_fires_once_keyed_by_its_first_run():
    first = sync_failing(AccountHistory(now=NOW, runs=runs("timeout", "timeout", "timeout")),
                         AlertRules())
    longer = sync_failing(AccountHistory(now=NOW, runs=runs("x", "timeout", "timeout", "timeout")),
                          AlertRules())
    assert first[0].key == "sync_failing:98"
    assert longer[0].key == "sync_failing:97"  # a fourth failure belongs to a streak starting earlier
    assert first[0].numbers["failures"] == 3 and first[0].numbers["last_code"] == "timeout"


def test_the_connection_expiring_within_the_threshold_fires_once_per_token():
    rules = AlertRules(expiry_days=7)
    soon = AccountHistory(now=NOW, refresh_expires_at=NOW + 6 * D + H)
    later = AccountHistory(now=NOW, refresh_expires_at=NOW + 8 * D)
    [event] = [e for e in evaluate(soon, rules) if e.rule == "connection_expiring"]
    assert event.numbers["days_left"] == 6
    assert event.key == "connection_expiring:2026-12-06"  # a refresh moving it by minutes: no new alert
    assert not [e for e in evaluate(later, rules) if e.rule == "connection_expiring"]


def test_a_refused_login_fires_connection_refused_unless_tiktok_said_so_itself():
    refused = AccountHistory(now=NOW, runs=runs("reauth_required", "reauth_required", None))
    events = {e.rule: e for e in evaluate(refused, AlertRules())}
    assert events["connection_refused"].key == "connection_refused:99"
    told = AccountHistory(now=NOW, runs=refused.runs, disconnected_at=NOW - H)
    assert "connection_refused" not in {e.rule for e in evaluate(told, AlertRules())}


def test_a_video_gone_this_week_fires_once_per_disappearance():
    recent = video("a", NOW - 30 * D, [(NOW - D, 700)], gone_at=NOW - 2 * H, title="<script>x</script>")
    long_ago = video("b", NOW - 80 * D, [(NOW - 20 * D, 5)], gone_at=NOW - 10 * D)
    [event] = [e for e in evaluate(AccountHistory(now=NOW, videos=(recent, long_ago)), AlertRules())
               if e.rule == "video_gone"]
    assert event.key == "video_gone:a:2026-11-30T10:00:00Z"
    assert event.subject == "<script>x</script>"  # text: the page escapes it
    assert event.numbers["views"] == 700


def test_rules_that_are_off_find_nothing():
    history = AccountHistory(now=NOW, runs=runs("t", "t", "t"), refresh_expires_at=NOW + H,
                             followers=followers((24, 5000), (0, 1)))
    assert {e.rule for e in evaluate(history, AlertRules())} == {
        "sync_failing", "connection_expiring", "follower_drop"}
    off = AlertRules(sync_failing=False, connection_expiring=False, follower_drop=False)
    assert evaluate(history, off) == []


@pytest.mark.parametrize("raw, expected", [
    (None, AlertRules()),
    ({"takeoff_factor": 5, "sync_failures": 2}, AlertRules(takeoff_factor=5.0, sync_failures=2)),
    ({"takeoff_factor": "5"}, AlertRules()),            # mistyped
    ({"takeoff_factor": 0.5}, AlertRules()),            # out of range
    ({"sync_failures": True}, AlertRules()),            # a bool is not a number
    ({"video_gone": "yes"}, AlertRules()),
    ({"video_gone": False, "unknown": 1}, AlertRules(video_gone=False)),
])
def test_stored_rules_out_of_range_or_mistyped_fall_back_to_defaults(raw, expected):
    assert AlertRules.from_dict(raw) == expected
