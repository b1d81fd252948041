"""Tests for dashboard.analytics: every expected number is worked out by hand."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dashboard import analytics as a

NEW_YORK = ZoneInfo("America/New_York")  # UTC-4 in May (EDT)
TOKYO = ZoneInfo("Asia/Tokyo")  # UTC+9


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2024):
    """An aware UTC datetime; 1 May 2024 is a Wednesday."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def video(
    video_id="v1",
    *,
    created=None,
    views=100,
    likes=0,
    comments=0,
    shares=0,
    duration=20,
    title="",
    description="",
    gone_at=None,
):
    return {
        "video_id": video_id,
        "create_time": created or at(5, 1, 12),
        "title": title,
        "video_description": description,
        "duration": duration,
        "view_count": views,
        "like_count": likes,
        "comment_count": comments,
        "share_count": shares,
        "gone_at": gone_at,
    }


def ids(videos):
    return [v["video_id"] for v in videos]


# --- series and resample ----------------------------------------------------


def test_series_sorts_by_time_and_skips_missing_scope():
    snapshots = [
        {"taken_at": at(5, 3), "follower_count": 30, "likes_count": None},
        {"taken_at": at(5, 1), "follower_count": 10, "likes_count": None},
        {"taken_at": at(5, 2), "follower_count": None, "likes_count": None},
    ]
    assert a.series(snapshots, "follower_count") == [(at(5, 1), 10), (at(5, 3), 30)]
    assert a.series(snapshots, "likes_count") == []
    assert a.series([], "follower_count") == []


def test_resample_day_keeps_last_value_of_each_day_even_when_unsorted():
    points = [(at(5, 3, 9), 15), (at(5, 1, 20), 12), (at(5, 1, 8), 10)]
    # 1 May: 08:00 -> 10, 20:00 -> 12, so the day's level is 12. 2 May has no
    # snapshot and stays out (a level is not zero-filled).
    assert a.resample(points, "day") == [(date(2024, 5, 1), 12), (date(2024, 5, 3), 15)]


def test_resample_week_starts_on_monday():
    points = [
        (at(4, 28, 12), 5),  # Sunday -> week of Mon 22 April
        (at(4, 29, 0), 7),  # Monday 00:00 -> week of 29 April
        (at(5, 5, 23), 9),  # Sunday 23:00 -> still week of 29 April, last value
        (at(5, 6, 0), 11),  # Monday -> week of 6 May
    ]
    assert a.resample(points, "week") == [
        (date(2024, 4, 22), 5),
        (date(2024, 4, 29), 9),
        (date(2024, 5, 6), 11),
    ]


def test_resample_month_keys_by_first_day():
    points = [(at(4, 30, 23), 1), (at(5, 1), 2), (at(5, 31, 23), 3)]
    assert a.resample(points, "month") == [(date(2024, 4, 1), 1), (date(2024, 5, 1), 3)]


def test_resample_uses_viewer_calendar_when_given_a_time_zone():
    # 1 May 23:30 UTC is 2 May 08:30 in Tokyo.
    points = [(at(5, 1, 23, 30), 4)]
    assert a.resample(points, "day") == [(date(2024, 5, 1), 4)]
    assert a.resample(points, "day", tz=TOKYO) == [(date(2024, 5, 2), 4)]


def test_unknown_period_is_rejected_even_without_rows():
    with pytest.raises(ValueError, match="period"):
        a.resample([(at(5, 1), 1)], "year")
    with pytest.raises(ValueError, match="period"):
        a.posting_frequency([], "quarter")


def test_resample_of_nothing_is_empty():
    assert a.resample([], "week") == []


# --- net change and growth ------------------------------------------------


NOW = at(5, 1, 12)


def test_net_change_over_a_full_window():
    points = [(at(4, 1), 1000), (at(4, 20), 1100), (at(5, 1), 1250)]
    change = a.net_change(points, 30, NOW)
    # Window starts 1 April 12:00; the last point at or before it is 1 April
    # (1000). Latest is 1250: +250, 250 / 1000 = 25 %.
    assert change == a.Change(
        value=250,
        pct=25.0,
        baseline=1000,
        baseline_at=at(4, 1),
        latest=1250,
        latest_at=at(5, 1),
        partial=False,
    )
    assert a.growth_rate(points, 30, NOW) == 25.0


def test_net_change_is_partial_when_history_starts_inside_the_window():
    points = [(at(4, 10), 200), (at(5, 1), 260)]
    change = a.net_change(points, 30, NOW)
    # Nothing before 1 April 12:00, so the first point (10 April, 200) is the
    # baseline: +60, 60 / 200 = 30 %.
    assert (change.value, change.pct, change.baseline_at, change.partial) == (
        60,
        30.0,
        at(4, 10),
        True,
    )


def test_net_change_is_negative_when_followers_drop():
    points = [(at(4, 1), 500), (at(5, 1), 450)]
    change = a.net_change(points, 30, NOW)
    # 450 - 500 = -50; -50 / 500 = -10 %.
    assert (change.value, change.pct) == (-50, -10.0)


def test_growth_rate_is_none_from_a_zero_baseline():
    points = [(at(4, 1), 0), (at(5, 1), 10)]
    assert a.net_change(points, 30, NOW).value == 10
    assert a.net_change(points, 30, NOW).pct is None
    assert a.growth_rate(points, 30, NOW) is None


def test_net_change_ignores_points_after_now():
    points = [(at(4, 1), 100), (at(5, 1), 150), (at(5, 5), 999)]
    assert a.net_change(points, 30, NOW).latest == 150


@pytest.mark.parametrize(
    "points",
    [
        [],  # nothing at all
        [(at(4, 20), 5)],  # one snapshot: nothing to compare with
        [(at(5, 2), 5), (at(5, 3), 6)],  # everything is after now
        [(at(3, 1), 5), (at(3, 2), 6)],  # no snapshot since the window start
    ],
)
def test_net_change_is_none_without_two_snapshots_to_compare(points):
    assert a.net_change(points, 30, NOW) is None
    assert a.growth_rate(points, 30, NOW) is None


# --- per-video numbers ----------------------------------------------------


def test_engagement_rate_divides_interactions_by_views():
    # (10 + 5 + 5) / 400 = 0.05
    assert a.engagement_rate(10, 5, 5, 400) == pytest.approx(0.05)
    assert a.ENGAGEMENT_FORMULA == "(likes + comments + shares) / views"


def test_engagement_rate_is_none_for_zero_views():
    assert a.engagement_rate(0, 0, 0, 0) is None
    assert a.video_engagement(video(views=0, likes=3)) is None


SNAPSHOTS = [
    {"taken_at": at(5, 2, 12), "view_count": 3000},
    {"taken_at": at(5, 1, 12), "view_count": 600},
]


def test_views_after_posting_interpolates_between_snapshots():
    # Posted 1 May 00:00; 24 h later is 2 May 00:00, halfway from 1 May 12:00
    # (600) to 2 May 12:00 (3000): 600 + 0.5 * 2400 = 1800.
    assert a.views_after_posting(at(5, 1), SNAPSHOTS, 24) == 1800
    # 18 h: a quarter of the way: 600 + 0.25 * 2400 = 1200.
    assert a.views_after_posting(at(5, 1), SNAPSHOTS, 18) == 1200


def test_views_after_posting_uses_a_snapshot_taken_exactly_then():
    assert a.views_after_posting(at(5, 1), SNAPSHOTS, 12) == 600
    assert a.views_after_posting(at(5, 1), SNAPSHOTS, 36) == 3000


def test_views_after_posting_rounds_to_the_nearest_view():
    snapshots = [
        {"taken_at": at(5, 1, 0), "view_count": 0},
        {"taken_at": at(5, 1, 3), "view_count": 10},
    ]
    # One hour of three: 10 / 3 = 3.33 -> 3; two hours: 6.67 -> 7.
    assert a.views_after_posting(at(5, 1), snapshots, 1) == 3
    assert a.views_after_posting(at(5, 1), snapshots, 2) == 7


def test_views_after_posting_is_unknown_outside_the_snapshots():
    # 6 h is before the first snapshot; 48 h is after the last one.
    assert a.views_after_posting(at(5, 1), SNAPSHOTS, 6) is None
    assert a.views_after_posting(at(5, 1), SNAPSHOTS, 48) is None
    assert a.views_after_posting(at(5, 1), [], 24) is None


def test_median_of_odd_even_and_empty():
    assert a.median([3, 1, 2]) == 2.0
    assert a.median([4, 1, 3, 2]) == 2.5  # (2 + 3) / 2
    assert a.median([None, 5]) == 5.0
    assert a.median([]) is None


def test_performance_vs_median_is_a_ratio():
    # Median of 100, 200, 300 is 200; 300 / 200 = 1.5.
    assert a.performance_vs_median(300, [100, 200, 300]) == 1.5
    assert a.performance_vs_median(50, [0, 0, 10]) is None  # median 0
    assert a.performance_vs_median(50, []) is None


# --- top videos -------------------------------------------------------------


def test_top_videos_by_views_breaks_ties_by_newest():
    videos = [
        video("v1", views=100, created=at(5, 1)),
        video("v2", views=300, created=at(5, 2)),
        video("v3", views=300, created=at(5, 3)),
        video("v4", views=50, created=at(5, 4)),
    ]
    assert ids(a.top_videos(videos, "view_count")) == ["v3", "v2", "v1", "v4"]
    assert ids(a.top_videos(videos, "view_count", n=2)) == ["v3", "v2"]


def test_top_videos_leaves_out_deleted_videos_unless_asked():
    videos = [
        video("kept", views=10),
        video("deleted", views=999, gone_at=at(5, 2)),
    ]
    assert ids(a.top_videos(videos, "view_count")) == ["kept"]
    assert ids(a.top_videos(videos, "view_count", include_gone=True)) == [
        "deleted",
        "kept",
    ]


def test_top_videos_by_engagement_puts_unseen_videos_last():
    videos = [
        video("unseen", views=0, likes=0, created=at(5, 9)),
        video("ten_pct", views=100, likes=10),  # 10 / 100 = 0.1
        video("twenty_pct", views=300, likes=30, comments=20, shares=10),  # 60 / 300
    ]
    assert ids(a.top_videos(videos, "engagement")) == [
        "twenty_pct",
        "ten_pct",
        "unseen",
    ]


@pytest.mark.parametrize("metric", ["like_count", "comment_count", "share_count"])
def test_top_videos_accepts_every_count_metric(metric):
    videos = [
        video("low", **{metric.split("_")[0] + "s": 1}),
        video("high", **{metric.split("_")[0] + "s": 9}),
    ]
    assert ids(a.top_videos(videos, metric)) == ["high", "low"]


def test_top_videos_rejects_unknown_metric():
    with pytest.raises(ValueError, match="metric"):
        a.top_videos([video()], "followers")


# --- heatmap ------------------------------------------------------------------


def test_heatmap_places_posts_in_the_viewers_time_zone():
    videos = [
        # 1 May 02:30 UTC = Tuesday 30 April 22:30 EDT -> row 1, hour 22.
        video("late", created=at(5, 1, 2, 30), views=40),
        # 6 May 13:00 UTC and 13 May 13:15 UTC = Monday 09:xx EDT -> row 0, hour 9.
        video("mon1", created=at(5, 6, 13), views=100),
        video("mon2", created=at(5, 13, 13, 15), views=300),
    ]
    means = a.weekday_hour_heatmap(videos, NEW_YORK)
    counts = a.weekday_hour_heatmap(videos, NEW_YORK, agg="count")
    assert len(means) == 7 and all(len(row) == 24 for row in means)
    assert means[1][22] == 40.0
    assert means[0][9] == 200.0  # (100 + 300) / 2
    assert counts[0][9] == 2 and counts[1][22] == 1
    assert sum(map(sum, counts)) == 3
    # 168 slots minus the two with posts have no data: None, not 0.
    assert sum(cell is None for row in means for cell in row) == 166


def test_heatmap_of_nothing_has_no_data_in_every_slot():
    assert a.weekday_hour_heatmap([], UTC) == [[None] * 24 for _ in range(7)]
    assert a.weekday_hour_heatmap([], UTC, agg="count") == [[0] * 24 for _ in range(7)]


def test_heatmap_skips_deleted_videos_and_undefined_engagement():
    videos = [
        video("unseen", created=at(5, 1, 12), views=0),  # Wednesday 12:00 UTC
        video("gone", created=at(5, 1, 12), views=10, likes=5, gone_at=at(5, 2)),
    ]
    assert a.weekday_hour_heatmap(videos, UTC, metric="engagement")[2][12] is None
    assert a.weekday_hour_heatmap(videos, UTC, agg="count")[2][12] == 1


def test_heatmap_rejects_unknown_aggregation():
    with pytest.raises(ValueError, match="agg"):
        a.weekday_hour_heatmap([], UTC, agg="sum")


# --- duration buckets -----------------------------------------------------


def test_duration_bucket_boundaries():
    cases = {
        5: "under_15s",
        14: "under_15s",
        15: "15_30s",
        29: "15_30s",
        30: "30_60s",
        59: "30_60s",
        60: "1_3min",
        180: "1_3min",
        181: "over_3min",
        600: "over_3min",
    }
    assert {s: a.duration_bucket(s) for s in cases} == cases


def test_duration_buckets_report_count_median_and_engagement_by_each_formula():
    videos = [
        video("a", duration=20, views=100, likes=10),  # engagement 0.1
        video("b", duration=25, views=300, likes=30, comments=30),  # 60 / 300 = 0.2
        video("c", duration=16, views=0),  # no engagement rate
        video("d", duration=90, views=7, gone_at=at(5, 2)),  # deleted: left out
    ]
    rows = a.duration_buckets(videos)
    assert [r["label_key"] for r in rows] == [
        "under_15s",
        "15_30s",
        "30_60s",
        "1_3min",
        "over_3min",
    ]
    mid = rows[1]
    # Views 100, 300, 0 -> median 100; weighted (10 + 60) / 400 = 0.175;
    # median of 0.1 and 0.2 = 0.15; the 0-view video is left out of both.
    assert (mid["count"], mid["median_views"]) == (3, 100.0)
    assert mid["engagement"]["views"]["value"] == pytest.approx(0.175)
    assert mid["engagement"]["median"]["value"] == pytest.approx(0.15)
    assert mid["engagement"]["views"]["left_out"] == 1
    # Without a follower history every video is left out of "followers".
    assert mid["engagement"]["followers"] == {"value": None, "videos": 0, "left_out": 3}
    assert rows[3]["count"] == 0 and rows[3]["median_views"] is None
    assert {f: e["value"] for f, e in rows[3]["engagement"].items()} == {
        "views": None, "median": None, "followers": None}
    assert set(a.DURATION_BUCKET_LABELS) == {r["label_key"] for r in rows}


# --- hashtags -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("Morning run #Fitness #fitness #RunClub", ["fitness", "runclub"]),
        ("#fyp#ForYou", ["fyp", "foryou"]),
        ("学习日常 #学习 #中文_标签", ["学习", "中文_标签"]),
        ("今天#日常", ["日常"]),
        ("#हिंदी गाना", ["हिंदी"]),
        ("It&#39;s great &#x27; #ok", ["ok"]),
        ("C# rocks # alone #! #", []),
        ("##double", ["double"]),
        ("#snake_case_2024. done", ["snake_case_2024"]),
        ("<script>#x</script>", ["x"]),
        ("", []),
        (None, []),
    ],
)
def test_parse_hashtags(text, tags):
    assert a.parse_hashtags(text) == tags


def test_hashtag_stats_sorts_by_total_views():
    videos = [
        video("a", views=100, likes=10, description="#cat #dog"),  # engagement 0.1
        video("b", views=300, likes=60, title="#Cat", description="#cat again"),  # 0.2
        video("c", views=50, likes=5, description="#dog"),  # 0.1
        video("d", views=9999, description="#cat", gone_at=at(5, 2)),  # deleted
        video("e", views=1000, description="#rare"),  # engagement 0
    ]
    rows = a.hashtag_stats(videos)
    # cat: a + b (b counted once) = 400 views, median (100 + 300) / 2 = 200,
    # engagement (10 + 60) / 400 = 0.175 weighted. dog: 100 + 50 = 150, median 75.
    assert [r["tag"] for r in rows] == ["rare", "cat", "dog"]
    cat = rows[1]
    assert (cat["count"], cat["total_views"], cat["median_views"]) == (2, 400, 200.0)
    assert cat["engagement"]["views"]["value"] == pytest.approx(0.175)
    assert cat["engagement"]["median"]["value"] == pytest.approx(0.15)
    assert (rows[2]["total_views"], rows[2]["median_views"]) == (150, 75.0)
    assert [r["tag"] for r in a.hashtag_stats(videos, min_videos=2)] == ["cat", "dog"]
    assert a.hashtag_stats(videos, include_gone=True)[0]["total_views"] == 10399


# --- posting frequency ------------------------------------------------------


def test_posting_frequency_fills_empty_days_with_zero():
    videos = [
        video("a", created=at(5, 1)),
        video("b", created=at(5, 1, 20)),
        video("c", created=at(5, 4)),
    ]
    assert a.posting_frequency(videos, "day") == [
        (date(2024, 5, 1), 2),
        (date(2024, 5, 2), 0),
        (date(2024, 5, 3), 0),
        (date(2024, 5, 4), 1),
    ]


def test_posting_frequency_by_week_and_month():
    weekly = [video("a", created=at(5, 1)), video("b", created=at(5, 14))]
    # Wed 1 May -> week of Mon 29 April; Tue 14 May -> week of 13 May.
    assert a.posting_frequency(weekly, "week") == [
        (date(2024, 4, 29), 1),
        (date(2024, 5, 6), 0),
        (date(2024, 5, 13), 1),
    ]
    monthly = [video("a", created=at(12, 5, year=2023)), video("b", created=at(2, 1))]
    assert a.posting_frequency(monthly, "month") == [
        (date(2023, 12, 1), 1),
        (date(2024, 1, 1), 0),
        (date(2024, 2, 1), 1),
    ]


def test_posting_frequency_counts_on_the_viewers_calendar():
    videos = [video("a", created=at(5, 1, 23, 30))]  # 2 May in Tokyo
    assert a.posting_frequency(videos, "day", tz=TOKYO) == [(date(2024, 5, 2), 1)]


def test_posting_frequency_of_nothing_or_only_deleted_videos_is_empty():
    assert a.posting_frequency([], "day") == []
    assert a.posting_frequency([video(gone_at=at(5, 2))], "day") == []


# --- small inputs -----------------------------------------------------------


def test_a_single_video_with_zero_views_flows_through_every_function():
    only = [video("solo", created=at(5, 1, 12), views=0, duration=10, description="#first")]
    assert ids(a.top_videos(only, "engagement")) == ["solo"]
    assert a.weekday_hour_heatmap(only, UTC, agg="count")[2][12] == 1
    assert a.weekday_hour_heatmap(only, UTC)[2][12] == 0.0
    first = a.duration_buckets(only)[0]
    assert (first["count"], first["median_views"], first["engagement"]["views"]["value"]) == (
        1,
        0.0,
        None,
    )
    [tag] = a.hashtag_stats(only)
    assert (tag["tag"], tag["count"], tag["total_views"], tag["median_views"]) == ("first", 1, 0, 0.0)
    assert tag["engagement"]["median"] == {"value": None, "videos": 0, "left_out": 1}
    assert a.posting_frequency(only, "month") == [(date(2024, 5, 1), 1)]


def test_empty_input_gives_empty_answers():
    assert a.top_videos([], "view_count") == []
    assert [r["count"] for r in a.duration_buckets([])] == [0] * 5
    assert a.hashtag_stats([]) == []


def test_video_deleted_between_syncs_leaves_every_aggregate():
    videos = [
        video("stays", views=10, description="#tag"),
        video("gone", views=90, description="#tag", gone_at=at(5, 2)),
    ]
    assert ids(a.top_videos(videos, "view_count")) == ["stays"]
    assert a.hashtag_stats(videos)[0]["total_views"] == 10
    assert sum(r["count"] for r in a.duration_buckets(videos)) == 1
    assert a.posting_frequency(videos, "day") == [(date(2024, 5, 1), 1)]


# --- scale ----------------------------------------------------------------------


def test_ten_thousand_videos_compute_quickly():
    start = at(1, 1)
    videos = [
        video(
            f"v{i}",
            created=start + timedelta(hours=7 * i),
            views=(i * 7919) % 100_000,
            likes=i % 500,
            comments=i % 50,
            shares=i % 20,
            duration=i % 400,
            description=f"#tag{i % 100} #all",
            gone_at=at(6, 1) if i % 97 == 0 else None,
        )
        for i in range(10_000)
    ]
    snapshots = [
        {
            "taken_at": start + timedelta(hours=i),
            "follower_count": i,
            "view_count": 10 * i,
        }
        for i in range(10_000)
    ]
    points = a.series(snapshots, "follower_count")
    assert len(a.resample(points, "day")) == 417  # 10,000 h spans 417 days
    assert a.net_change(points, 30, start + timedelta(hours=9_999)).value == 720
    assert a.views_after_posting(start, snapshots, 5000.5) == 50_005
    assert len(a.top_videos(videos, "engagement", n=10)) == 10
    assert sum(map(sum, a.weekday_hour_heatmap(videos, NEW_YORK, agg="count"))) == 9896
    assert sum(r["count"] for r in a.duration_buckets(videos)) == 9896
    assert a.hashtag_stats(videos)[0]["tag"] == "all"
    assert sum(n for _, n in a.posting_frequency(videos, "week")) == 9896
    assert a.median(v["view_count"] for v in videos) is not None


# --- engagement, by one of three formulas -----------------------------------------

FOLLOWERS = [(at(5, 1), 1000), (at(5, 10), 2000), (at(5, 20), 0)]


def test_engagement_by_views_weights_each_video_by_its_views():
    videos = [video("a", views=100, likes=10), video("b", views=900, likes=20, comments=10, shares=0)]
    # (10 + 30) / (100 + 900) = 0.04, not the mean of 0.1 and 0.0333.
    result = a.engagement(videos, "views")
    assert result.value == pytest.approx(0.04)
    assert (result.formula, result.videos, result.left_out) == ("views", 2, 0)


def test_engagement_median_of_an_even_count_is_the_mean_of_the_middle_two():
    videos = [video(str(i), views=100, likes=likes) for i, likes in enumerate((1, 3, 5, 40))]
    # Rates 0.01, 0.03, 0.05, 0.40: median (0.03 + 0.05) / 2.
    assert a.engagement(videos, "median").value == pytest.approx(0.04)


def test_engagement_of_one_video_is_its_own_rate_by_views_and_median():
    only = [video(views=200, likes=10, comments=5, shares=5)]
    assert a.engagement(only, "views").value == pytest.approx(0.1)
    assert a.engagement(only, "median").value == pytest.approx(0.1)


def test_engagement_by_followers_uses_the_latest_count_at_or_before_posting():
    videos = [
        video("early", created=at(4, 30), likes=99),  # before the first count: left out
        video("first", created=at(5, 1), likes=10),  # exactly at the first count: 1000
        video("later", created=at(5, 15), likes=30, comments=10),  # 2000 since 10 May
    ]
    result = a.engagement(videos, "followers", FOLLOWERS)
    # (10 + 40) / (1000 + 2000)
    assert result.value == pytest.approx(50 / 3000)
    assert (result.videos, result.left_out) == (2, 1)
    assert a.follower_engagement(videos[2], FOLLOWERS) == pytest.approx(0.02)
    assert a.follower_engagement(videos[0], FOLLOWERS) is None


@pytest.mark.parametrize("history", [None, [], [(at(5, 1), None)], [(at(4, 1), 0)]])
def test_engagement_by_followers_without_a_usable_count_is_none(history):
    result = a.engagement([video(likes=5)], "followers", history)
    assert (result.value, result.videos, result.left_out) == (None, 0, 1)


def test_engagement_after_the_count_fell_to_zero_is_none_not_infinity():
    posted = video(created=at(5, 25), likes=5)
    assert a.follower_engagement(posted, FOLLOWERS) is None
    assert a.engagement([posted], "followers", FOLLOWERS).value is None


@pytest.mark.parametrize("formula", a.ENGAGEMENT_FORMULAS)
def test_engagement_of_no_views_or_no_videos_is_none(formula):
    assert a.engagement([], formula, FOLLOWERS).value is None
    unseen = video(views=0, likes=0)
    if formula != "followers":
        assert a.engagement([unseen], formula).value is None
        assert a.engagement([unseen], formula).left_out == 1


def test_engagement_counts_missing_counts_as_zero_and_skips_missing_views():
    partial = {**video("p", views=100, likes=None), "comment_count": None, "share_count": 4}
    no_views = {**video("n", likes=3), "view_count": None}
    assert a.engagement([partial, no_views], "views").value == pytest.approx(0.04)
    assert a.engagement([partial, no_views], "views").left_out == 1


def test_engagement_skips_deleted_videos_unless_asked():
    videos = [video("a", views=100, likes=10), video("b", views=100, likes=30, gone_at=at(5, 2))]
    assert a.engagement(videos, "views").value == pytest.approx(0.1)
    assert a.engagement(videos, "views", include_gone=True).value == pytest.approx(0.2)


def test_engagement_refuses_an_unknown_formula():
    with pytest.raises(ValueError):
        a.engagement([video()], "likes")


def test_top_videos_by_follower_engagement_ranks_by_followers_at_posting():
    videos = [
        video("big", created=at(5, 15), views=10, likes=100),  # 100 / 2000
        video("small", created=at(5, 2), views=1000, likes=80),  # 80 / 1000: first
        video("early", created=at(4, 1), likes=500),  # no count yet: last
    ]
    assert ids(a.top_videos(videos, "engagement_followers", followers=FOLLOWERS)) == [
        "small", "big", "early"]
