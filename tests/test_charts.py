"""Tests for dashboard.charts: parse every SVG and check what a reader would get."""

import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from dashboard import charts as c

SVG = "{http://www.w3.org/2000/svg}"
ALLOWED_TAGS = {"svg", "g", "path", "line", "circle", "rect", "text", "title"}
EVIL = "<script>alert('x')</script> & \"quotes\""


def at(month, day, hour=0, year=2024):
    return datetime(year, month, day, hour, tzinfo=UTC)


def parse(markup):
    """Parse a chart, checking it is Markup, well-formed and CSP-safe."""
    assert isinstance(markup, Markup)
    root = ET.fromstring(str(markup))
    assert root.tag == f"{SVG}svg"
    assert root.get("aria-label")
    stops = [e for e in root.iter() if e.get("tabindex") is not None and e is not root]
    if stops:  # a chart of marks: a labelled group, one Tab stop, each mark an image with a title
        assert root.get("role") == "group" and root.get("tabindex") == "-1"
        assert [e.get("tabindex") for e in stops].count("0") == 1
        assert all(e.get("role") == "img" and e.find(f"{SVG}title") is not None for e in stops)
    else:
        assert root.get("role") == "img"
    assert root.get("viewBox") and root.get("preserveAspectRatio")
    for element in root.iter():
        assert element.tag.removeprefix(SVG) in ALLOWED_TAGS, element.tag
        for name, value in element.attrib.items():
            assert name != "style" and not name.startswith("on") and "href" not in name, name
            assert "url(" not in value and "javascript:" not in value
    return root


def find(root, tag, css_class=None):
    found = root.iter(f"{SVG}{tag}")
    return [e for e in found if css_class is None or css_class in e.get("class", "").split()]


def titles(elements):
    return [e.find(f"{SVG}title").text for e in elements]


def texts(root, group_class):
    group = find(root, "g", group_class)[0]
    return [t.text for t in find(group, "text")]


def is_nice(ticks):
    """Evenly spaced by 1, 2 or 5 × 10^k and every tick a multiple of the step."""
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    spaced = all(math.isclose(b - a, step, rel_tol=1e-6) for a, b in pairwise(ticks))
    multiples = all(math.isclose(t / step, round(t / step), abs_tol=1e-6) for t in ticks)
    return any(math.isclose(mantissa, m) for m in (1, 2, 5)) and spaced and multiples


# --- nice_ticks ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lo", "hi", "kwargs", "expected"),
    [
        (0, 100, {}, [0, 20, 40, 60, 80, 100]),  # 100 / 5 = 20 -> step 20
        (0, 101, {}, [0, 50, 100, 150]),  # 20.2 -> next nice step is 50
        (-5, 13, {}, [-5, 0, 5, 10, 15]),  # 18 / 5 = 3.6 -> 5
        (10_000, 10_050, {}, [10_000, 10_010, 10_020, 10_030, 10_040, 10_050]),
        (0.3, 0.7, {}, [0.3, 0.4, 0.5, 0.6, 0.7]),  # 0.08 -> 0.1
        (0, 3, {"integer": True}, [0, 1, 2, 3]),  # 0.6 would be 0.5 videos
        (100, 0, {}, [0, 20, 40, 60, 80, 100]),  # bounds in either order
        (5, 5, {}, [0, 1, 2, 3, 4, 5]),  # flat data: range grows to 0
        (-5, -5, {}, [-5, -4, -3, -2, -1, 0]),
        (0, 0, {}, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    ],
)
def test_nice_ticks_known_ranges(lo, hi, kwargs, expected):
    assert c.nice_ticks(lo, hi, **kwargs) == expected


def test_nice_ticks_rejects_non_finite_bounds():
    with pytest.raises(ValueError):
        c.nice_ticks(0, math.inf)
    with pytest.raises(ValueError):
        c.nice_ticks(math.nan, 1)


@given(
    st.floats(-1e12, 1e12, allow_nan=False),
    st.floats(-1e12, 1e12, allow_nan=False),
    st.integers(2, 10),
)
def test_nice_ticks_always_cover_the_range_with_round_steps(lo, hi, n):
    ticks = c.nice_ticks(lo, hi, n)
    slack = 1e-9 * max(1, abs(lo), abs(hi))
    assert ticks[0] <= min(lo, hi) + slack and ticks[-1] >= max(lo, hi) - slack
    assert 2 <= len(ticks) <= n + 3
    assert is_nice(ticks)


# --- time_ticks ----------------------------------------------------------------


def test_time_ticks_for_a_month_are_mondays():
    # Wed 1 May to Fri 31 May: daily would be 31 ticks, so weekly, on Mondays.
    assert c.time_ticks(at(5, 1), at(5, 31)) == [at(5, 6), at(5, 13), at(5, 20), at(5, 27)]


def test_time_ticks_for_a_year_are_every_other_month():
    # Monthly gives 12 (> 8), every two months 6, on the 1st.
    assert c.time_ticks(at(1, 1), at(12, 31)) == [at(m, 1) for m in (1, 3, 5, 7, 9, 11)]


def test_time_ticks_for_three_days_are_twelve_hourly_and_for_years_are_yearly():
    # 72 h: 6-hourly gives 13, 12-hourly 7.
    assert c.time_ticks(at(5, 1), at(5, 4)) == [at(5, 1) + timedelta(hours=12 * i) for i in range(7)]
    assert c.time_ticks(at(1, 1, year=2020), at(1, 1, year=2025)) == [
        at(1, 1, year=y) for y in range(2020, 2026)
    ]


def test_time_ticks_keep_the_time_zone_and_fall_back_for_tiny_spans():
    tokyo = ZoneInfo("Asia/Tokyo")
    start = datetime(2024, 5, 1, 10, 15, tzinfo=tokyo)
    ticks = c.time_ticks(start, start + timedelta(days=10))
    assert all(t.tzinfo is tokyo and (t.hour, t.minute) == (0, 0) for t in ticks)
    assert c.time_ticks(start, start + timedelta(minutes=20)) == [start, start + timedelta(minutes=20)]


@given(
    st.datetimes(datetime(2000, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC)),
    st.timedeltas(timedelta(minutes=1), timedelta(days=3650)),
)
def test_time_ticks_are_few_sorted_and_inside_the_span(start, span):
    ticks = c.time_ticks(start, start + span)
    assert 1 <= len(ticks) <= 8
    assert ticks == sorted(ticks)
    assert start <= ticks[0] and ticks[-1] <= start + span


# --- line_chart -----------------------------------------------------------------


def followers(points, **kwargs):
    return c.line_chart([{"name": "Followers", "points": points}], aria_label="Followers over time", **kwargs)


def test_line_chart_draws_a_titled_point_per_value():
    root = parse(followers([(at(5, 3), 130), (at(5, 1), 100), (at(5, 2), 120)]))
    points = find(root, "circle", "chart-point")
    assert titles(points) == [
        "Followers — 2024-05-01: 100",
        "Followers — 2024-05-02: 120",
        "Followers — 2024-05-03: 130",
    ]
    path = find(root, "path", "chart-line")[0]
    assert path.get("d").count("L") == 2 and path.get("fill") == "none"
    assert root.get("width") == "100%" and root.get("aria-label") == "Followers over time"


def test_line_chart_y_axis_has_nice_ticks_from_zero():
    root = parse(followers([(at(5, 1), 50), (at(5, 2), 100)]))
    ticks = [float(t.replace(",", "")) for t in texts(root, "chart-axis-y")]
    # 50..100 is close to 0, so the axis starts there: 0..100 in steps of 20.
    assert ticks == [0, 20, 40, 60, 80, 100]
    assert is_nice(ticks)


def test_line_chart_leaves_out_zero_when_data_is_far_from_it():
    root = parse(followers([(at(5, 1), 10_000), (at(5, 2), 10_050)]))
    labels = texts(root, "chart-axis-y")
    assert labels[0] == "10,000" and labels[-1] == "10,050"


def test_line_chart_handles_decreasing_and_negative_values():
    root = parse(followers([(at(5, 1), 5), (at(5, 2), -3), (at(5, 3), -10)]))
    heights = [float(p.get("cy")) for p in find(root, "circle", "chart-point")]
    assert heights == sorted(heights)  # each point lower on screen than the last
    labels = texts(root, "chart-axis-y")
    assert labels[0] == "-10" and "0" in labels and labels[-1] == "5"
    assert len(find(root, "line", "chart-grid-zero")) == 1


def test_line_chart_with_one_point_says_history_starts_instead_of_a_dot():
    root = parse(followers([(at(5, 1), 42)]))
    assert find(root, "circle") == [] and find(root, "path") == []
    assert [t.text for t in find(root, "text", "chart-empty")] == ["2024-05-01: 42"]
    assert float(root.get("viewBox").split()[3]) <= 60  # a line of text, not a full-size empty chart
    said = parse(followers([(date(2024, 5, 1), 42), (date(2024, 5, 1), 42)],
                           one_point_text=lambda d, v: f"History starts {d.isoformat()} with {v}"))
    assert [t.text for t in find(said, "text", "chart-empty")] == ["History starts 2024-05-01 with 42"]


@pytest.mark.parametrize(
    "series",
    [
        [],
        [{"name": "Followers", "points": []}],
        [{"name": "Followers", "points": [(at(5, 1), None), (at(5, 2), math.nan)]}],
    ],
)
def test_line_chart_without_data_says_so(series):
    root = parse(c.line_chart(series, aria_label="Followers", empty_text="Nothing yet"))
    assert [t.text for t in find(root, "text", "chart-empty")] == ["Nothing yet"]
    assert root.get("aria-label") == "Followers. Nothing yet"
    assert find(root, "circle") == []


def test_line_chart_escapes_names_and_labels():
    markup = c.line_chart(
        [{"name": EVIL, "points": [(at(5, 1), 1), (at(5, 2), 2)], "class": 'x"<y'}],
        aria_label=EVIL,
        x_format=lambda t: f"<b>{t:%d}</b>",
        y_format=lambda v: f"{v} <粉丝>",
    )
    root = parse(markup)
    assert "<script" not in str(markup) and "<b>" not in str(markup)
    assert root.get("aria-label") == EVIL
    assert titles(find(root, "circle"))[0] == f"{EVIL} — <b>01</b>: 1 <粉丝>"
    assert "<粉丝>" in texts(root, "chart-axis-y")[1]


def test_line_chart_multiple_series_get_classes_and_a_legend():
    root = parse(
        c.line_chart(
            [
                {"name": "Views", "points": [(at(5, 1), 10), (at(5, 2), 20)]},
                {"name": "学习", "points": [(at(5, 1), 5), (at(5, 3), 8)], "class": "chart-likes"},
            ],
            aria_label="Views and likes",
        )
    )
    groups = [g for g in find(root, "g", "chart-series") if find(g, "circle")]
    assert [g.get("class") for g in groups] == ["chart-series chart-series-1", "chart-series chart-likes"]
    assert texts(root, "chart-legend") == ["Views", "学习"]
    swatches = find(root, "rect", "chart-legend-swatch")
    assert [s.get("class") for s in swatches] == [
        "chart-legend-swatch chart-series-1",
        "chart-legend-swatch chart-likes",
    ]


def test_line_chart_accepts_resampled_date_keys():
    root = parse(followers([(date(2024, 5, 1), 1), (date(2024, 6, 1), 2)]))
    assert titles(find(root, "circle"))[1] == "Followers — 2024-06-01: 2"


def test_line_chart_hands_dates_back_to_x_format_for_date_keys():
    seen = []

    def remember(moment):
        seen.append(moment)
        return moment.isoformat()

    # Two consecutive days: daily ticks, never hourly ones for date data.
    points = iter([(date(2024, 5, 1), 1), (date(2024, 5, 2), 2)])  # a one-shot iterable
    root = parse(followers(points, x_format=remember))
    assert all(type(moment) is date for moment in seen)
    assert texts(root, "chart-axis-x") == ["2024-05-01", "2024-05-02"]


def test_line_chart_ticks_fall_on_the_viewers_midnights():
    tokyo = ZoneInfo("Asia/Tokyo")
    points = [(at(5, 1, 3), 1), (at(5, 8, 3), 2)]  # 12:00 in Tokyo
    seen = []
    parse(followers(points, tz=tokyo, x_format=lambda t: seen.append(t) or t.isoformat()))
    ticks = seen[: -len(points)]  # tooltips come after the axis labels
    assert ticks and all(t.tzinfo is tokyo and t.hour == 0 for t in ticks)


def test_line_chart_x_labels_follow_the_span():
    points = [(at(1, 1), 1), (at(12, 31), 2)]
    assert texts(parse(followers(points)), "chart-axis-x") == [
        "2024-01",
        "2024-03",
        "2024-05",
        "2024-07",
        "2024-09",
        "2024-11",
    ]


def test_line_chart_hourly_ticks_name_the_day_at_midnight():
    points = [(at(5, 1), 1), (at(5, 3), 2)]  # 48 h: 12-hourly ticks
    assert texts(parse(followers(points)), "chart-axis-x") == [
        "2024-05-01",
        "12:00",
        "2024-05-02",
        "12:00",
        "2024-05-03",
    ]


# --- bar_chart ----------------------------------------------------------------------


def test_bar_chart_draws_a_titled_bar_per_value():
    bars = [("Mon", 3), ("Tue", 0), ("Wed", 7)]
    root = parse(c.bar_chart(bars, aria_label="Posts per day"))
    rects = find(root, "rect", "chart-bar")
    assert titles(rects) == ["Mon: 3", "Tue: 0", "Wed: 7"]
    assert float(rects[1].get("height")) == 0
    assert float(rects[2].get("height")) > float(rects[0].get("height"))
    ticks = [int(t) for t in texts(root, "chart-axis-y")]
    assert ticks == [0, 2, 4, 6, 8] and is_nice(ticks)  # 7 / 5 = 1.4 -> step 2


def test_bar_chart_negative_values_hang_below_zero():
    root = parse(c.bar_chart([("up", 4), ("down", -2)], aria_label="Net followers"))
    up, down = find(root, "rect", "chart-bar")
    assert "chart-bar-negative" in down.get("class") and "chart-bar-negative" not in up.get("class")
    zero = find(root, "line", "chart-grid-zero")[0]
    assert float(down.get("y")) == pytest.approx(float(zero.get("y1")))


def test_horizontal_bar_chart_shortens_long_labels_but_not_titles():
    long_tag = "#" + "verylongtag" * 10
    root = parse(
        c.bar_chart(
            [(long_tag, 10), (EVIL, 5)],
            aria_label="Hashtags",
            horizontal=True,
            y_format=lambda v: f"{v} views",
        )
    )
    assert "chart-horizontal" in root.get("class")
    assert titles(find(root, "rect", "chart-bar")) == [f"{long_tag}: 10 views", f"{EVIL}: 5 views"]
    labels = texts(root, "chart-axis-y")
    assert labels[0].endswith("…") and len(labels[0]) < len(long_tag)
    assert root.get("viewBox") == "0 0 640 83"  # 10 above + 24 × 2 bars + 25 for the axis


def test_bar_chart_without_bars_says_so():
    root = parse(c.bar_chart([("x", None)], aria_label="Posts", empty_text="No posts"))
    assert [t.text for t in find(root, "text")] == ["No posts"]


# --- heatmap -----------------------------------------------------------------------


DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
HOURS = [f"{h:02d}" for h in range(24)]


def test_heat_levels_quantile_and_linear():
    grid = [[None, 0, 1, 2, 3, 4, 100]]
    # Positive cells sorted: 1, 2, 3, 4, 100. Quantile: value k-th of 5 -> k.
    assert c.heat_levels(grid) == [[0, 0, 1, 2, 3, 4, 5]]
    # Linear: ceil(5 × v / 100): 1..4 -> 1, 100 -> 5.
    assert c.heat_levels(grid, "linear") == [[0, 0, 1, 1, 1, 1, 5]]
    assert c.heat_levels([[7, 7]]) == [[5, 5]]  # equal values share a level
    with pytest.raises(ValueError):
        c.heat_levels(grid, "log")


def test_heatmap_draws_168_titled_cells():
    grid = [[None] * 24 for _ in range(7)]
    grid[0][9] = 200.0
    grid[1][22] = 40.0
    root = parse(
        c.heatmap(
            grid,
            row_labels=DAYS,
            col_labels=HOURS,
            aria_label="Views by posting time",
            value_format=lambda v: f"{v:.0f} views",
            cell_title=lambda r, h, v: f"{r} {h}:00 — {'no posts' if v is None else f'{v:.0f}'}",
        )
    )
    cells = find(find(root, "g", "chart-cells")[0], "rect")
    assert len(cells) == 168
    assert titles(cells)[9] == "Mon 09:00 — 200"
    assert titles(cells)[24 + 22] == "Tue 22:00 — 40"
    assert titles(cells)[0] == "Mon 00:00 — no posts"
    levels = [cell.get("class") for cell in cells]
    assert levels[9] == "chart-heat-5" and levels[24 + 22] == "chart-heat-3"
    assert levels.count("chart-heat-0") == 166
    assert texts(root, "chart-axis-y") == DAYS
    # The legend names each colour in use by the smallest value it stands for.
    legend = find(root, "g", "chart-heat-legend")[0]
    assert [r.get("class") for r in find(legend, "rect")] == ["chart-heat-0", "chart-heat-3", "chart-heat-5"]
    assert texts(root, "chart-heat-legend") == ["–", "≥40 views", "≥200 views"]


def test_heatmap_default_titles_and_escaped_labels():
    root = parse(c.heatmap([[1, None]], row_labels=[EVIL], col_labels=["a", "学"], aria_label="grid"))
    assert titles(find(find(root, "g", "chart-cells")[0], "rect")) == [f"{EVIL} a: 1", f"{EVIL} 学: –"]


def test_heatmap_rejects_a_grid_that_does_not_match_its_labels():
    with pytest.raises(ValueError):
        c.heatmap([[1, 2]], row_labels=["a"], col_labels=["x"], aria_label="g")


def test_heatmap_without_cells_says_so():
    root = parse(c.heatmap([], row_labels=[], col_labels=[], aria_label="g", empty_text="No videos"))
    assert [t.text for t in find(root, "text")] == ["No videos"]


# --- sparkline -----------------------------------------------------------------------


def test_sparkline_draws_each_value_and_marks_the_last():
    root = parse(c.sparkline([3, 1, None, 4], aria_label="Views this week"))
    points = find(root, "circle", "chart-point")
    assert titles(points) == ["3", "1", "4"]
    assert "chart-point-last" in points[-1].get("class")
    assert (root.get("width"), root.get("height")) == ("100", "24")
    # The gap keeps its slot: x of 0, 1, 3 over 0..3 across 2..98.
    assert [p.get("cx") for p in points] == ["2", "34", "98"]
    assert find(root, "path", "chart-line")


def test_sparkline_flat_and_single_values_sit_in_the_middle():
    flat = parse(c.sparkline([5, 5, 5], aria_label="flat"))
    assert {p.get("cy") for p in find(flat, "circle")} == {"12"}
    one = parse(c.sparkline([5], aria_label="one"))
    assert [(p.get("cx"), p.get("cy")) for p in find(one, "circle")] == [("50", "12")]
    assert find(one, "path") == []


def test_sparkline_without_values_is_an_empty_svg():
    root = parse(c.sparkline([None], aria_label="none"))
    assert list(root) == [] and root.get("width") == "100"


def test_no_chart_has_style_attributes_or_elements():
    moments = [(at(5, 1), 3), (at(5, 9), -2)]
    charts = [
        followers(moments),
        c.line_chart([{"name": "a", "points": moments}, {"name": "b", "points": moments}], aria_label="two"),
        followers([]),
        c.bar_chart([("a", 1), ("b", -1)], aria_label="bars"),
        c.bar_chart([("a", 1)], aria_label="bars", horizontal=True),
        c.heatmap([[1, None]], row_labels=["r"], col_labels=["x", "y"], aria_label="heat"),
        c.sparkline([1, 2, 3], aria_label="spark"),
        c.sparkline([], aria_label="spark", empty_text="none"),
    ]
    for chart in charts:
        parse(chart)
        assert "style=" not in chart and "<style" not in chart and "<script" not in chart


# --- robustness ------------------------------------------------------------------------


def test_control_characters_and_markup_labels_stay_well_formed():
    root = parse(
        c.bar_chart([("bad\x00\x0bchar", 1), (Markup("<b>bold</b> &amp; co"), 2)], aria_label="x\x01")
    )
    assert titles(find(root, "rect")) == ["badchar: 1", "bold & co: 2"]


values = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(-1e12, 1e12),
    st.none(),
    st.sampled_from([math.nan, math.inf]),
)
moments = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=20), st.lists(st.tuples(moments, values), max_size=30)), max_size=4)
)
def test_random_line_charts_are_well_formed(raw_series):
    series = [{"name": name, "points": points} for name, points in raw_series]
    root = parse(c.line_chart(series, aria_label="random"))
    plottable = [t for _, points in raw_series for t, v in points if c._finite(v)]
    # One point per value; a single moment is a sentence, not a lone dot.
    expected = len(plottable) if len(set(plottable)) > 1 else 0
    assert len(find(root, "circle", "chart-point")) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=30), values), max_size=40), st.booleans())
def test_random_bar_charts_are_well_formed(bars, horizontal):
    root = parse(c.bar_chart(bars, aria_label="random", horizontal=horizontal))
    assert len(find(root, "rect", "chart-bar")) == sum(c._finite(v) for _, v in bars)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(values, min_size=24, max_size=24), min_size=7, max_size=7))
def test_random_heatmaps_are_well_formed(grid):
    root = parse(c.heatmap(grid, row_labels=DAYS, col_labels=HOURS, aria_label="random"))
    classes = [cell.get("class") for cell in find(find(root, "g", "chart-cells")[0], "rect")]
    assert len(classes) == 168 and all(re.fullmatch(r"chart-heat-[0-5]", k) for k in classes)


@settings(max_examples=100, deadline=None)
@given(st.lists(values, max_size=60))
def test_random_sparklines_are_well_formed(data):
    root = parse(c.sparkline(data, aria_label="random"))
    assert len(find(root, "circle")) == sum(c._finite(v) for v in data)


# --- readable on every screen, reachable from the keyboard --------------------------


def compact_m(value):
    """A compact format like the pages' own: one decimal, trailing .0 dropped."""
    return f"{value / 1e6:.1f}".removesuffix(".0") + "M"


def test_value_axis_never_repeats_a_label_under_a_compact_format():
    root = parse(followers([(at(5, 1), 1_000_000), (at(5, 2), 1_200_000)], y_format=compact_m))
    labels = texts(root, "chart-axis-y")
    assert len(labels) >= 2 and len(set(labels)) == len(labels), labels
    bars = parse(c.bar_chart([("a", 1_000_000), ("b", 1_040_000)], aria_label="x", y_format=compact_m))
    assert len(set(texts(bars, "chart-axis-y"))) == len(texts(bars, "chart-axis-y"))


def label_boxes(root):
    group = find(root, "g", "chart-axis-x")[0]
    return [(float(t.get("x")) - c._text_width(t.text) / 2, float(t.get("x")) + c._text_width(t.text) / 2)
            for t in find(group, "text")]


@pytest.mark.parametrize("width", [640, c.NARROW_WIDTH])
def test_x_labels_never_overlap_even_where_the_last_is_pulled_inside(width):
    # Fortnightly ticks ending a day before the last point, with long dates:
    # the last label is pulled left to stay inside and would cover the one before.
    points = [(at(9, 2), 1), (at(11, 30), 2)]
    root = parse(followers(points, x_format=lambda d: d.strftime("%b %d, %Y"), width=width))
    boxes = label_boxes(root)
    assert len(boxes) >= 2
    assert all(a[1] <= b[0] for a, b in pairwise(boxes)), boxes
    assert all(0 <= left and right <= width for left, right in boxes)


def test_dense_lines_have_quiet_points_and_sparse_ones_dots():
    dense = parse(followers([(at(1, 1) + timedelta(days=i), i) for i in range(90)]))
    points = find(dense, "circle", "chart-point")
    assert len(points) == 90 and all("chart-point-quiet" in p.get("class") for p in points)
    sparse = parse(followers([(at(1, 1) + timedelta(days=i), i) for i in range(5)]))
    assert not find(sparse, "circle", "chart-point-quiet")


def test_every_mark_is_a_keyboard_stop_with_its_tooltip():
    root = parse(c.line_chart([{"name": "A", "points": [(at(5, 1), 1), (at(5, 2), 2)]},
                               {"name": "B", "points": [(at(5, 1), 3), (at(5, 2), 4)]}], aria_label="two"))
    stops = [e for e in root.iter() if e.get("tabindex") is not None and e is not root]
    assert len(stops) == 4 and stops[0].get("tabindex") == "0"  # parse() checks roles and titles
    bars = parse(c.bar_chart([("a", 1), ("b", 2)], aria_label="bars"))
    assert [e.get("tabindex") for e in find(bars, "rect", "chart-bar")] == ["0", "-1"]


def test_a_bar_without_a_value_says_so_instead_of_a_zero_bar():
    root = parse(c.bar_chart([("< 15 s", 120), ("> 3 min", None)], aria_label="by length",
                             missing_text="no videos"))
    assert titles(find(root, "rect", "chart-bar")) == ["< 15 s: 120"]
    assert [t.text for t in find(root, "text", "chart-missing")] == ["no videos"]
    horizontal = parse(c.bar_chart([("#a", 5), ("#b", None)], aria_label="tags", horizontal=True,
                                   missing_text="no videos"))
    assert [t.text for t in find(horizontal, "text", "chart-missing")] == ["no videos"]


def test_time_format_adds_the_time_to_tooltips_and_names_hourly_ticks():
    points = [(at(5, 1, 6), 1), (at(5, 2, 18), 2)]
    root = parse(followers(points, x_format=lambda d: d.strftime("%b %-d, %Y"),
                           time_format=lambda d: d.strftime("%H:%M")))
    assert titles(find(root, "circle"))[0] == "Followers — May 1, 2024 06:00: 1"
    assert "May 2, 2024" in texts(root, "chart-axis-x") and "12:00" in texts(root, "chart-axis-x")


def test_responsive_draws_a_wide_and_a_narrow_chart_with_the_same_marks():
    markup = str(c.responsive(c.bar_chart, [("a", 1), ("b", 2)], aria_label="bars"))
    wide, narrow = re.findall(r'<div class="chart-(?:wide|narrow)">(.*?)</div>', markup)
    assert parse(Markup(wide)).get("viewBox") == "0 0 640 240"
    assert parse(Markup(narrow)).get("viewBox") == f"0 0 {c.NARROW_WIDTH} 240"
    assert titles(find(parse(Markup(wide)), "rect", "chart-bar")) == \
        titles(find(parse(Markup(narrow)), "rect", "chart-bar"))
