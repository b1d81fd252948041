"""Server-rendered SVG charts: series in, ``Markup`` out.

Like GitHub's contribution calendar, every chart is a complete inline
``<svg>``: it needs no JavaScript and passes a strict Content-Security-Policy
(no ``style`` attributes or elements, no scripts, no external references).
Templates place the result with ``{{ chart }}``; Python shapes it (house
style 17).

Looks come from the app stylesheet through these classes:

* root ``<svg>``: ``chart`` plus ``chart-type-line``, ``chart-type-bar``
  (with ``chart-horizontal``), ``chart-type-heatmap``,
  ``chart-type-sparkline`` or ``chart-type-empty``;
* ``<g class="chart-grid">`` of ``<line class="chart-grid-line">``, with
  ``chart-grid-zero`` on the 0 line;
* ``<g class="chart-axis chart-axis-x|y">`` holding tick labels, the
  ``chart-axis-line`` and ``chart-tick`` marks;
* ``chart-label`` on every ``<text>``, ``chart-empty`` on a "no data" text;
* ``<g class="chart-series chart-series-N">`` per series (or the caller's
  class) holding a ``<path class="chart-line">`` and its
  ``<circle class="chart-point">`` (``chart-point-last`` on the newest
  point of a sparkline);
* ``<g class="chart-legend">`` of ``chart-legend-item`` groups with a
  ``<rect class="chart-legend-swatch chart-series-N">``;
* ``<g class="chart-bars">`` of ``<rect class="chart-bar">``
  (``chart-bar-negative`` below zero);
* ``<g class="chart-cells">`` of ``<rect class="chart-heat-0..5">``, 0 meaning
  no data or zero.

Presentation attributes appear only where a chart would break without the
stylesheet: ``fill="none" stroke="currentColor"`` on lines (an unstyled path
is a black blob) and ``text-anchor`` and ``font-size`` on text, because the
layout measures labels at :data:`FONT_SIZE`.

Each data point, bar and cell carries a ``<title>`` (the hover tooltip) and
is a keyboard stop: the first mark of a chart has ``tabindex="0"``, the others
``tabindex="-1"`` (``static/app.js`` moves between them with the arrow keys
and shows the focused mark's title under the chart, as on hover). A chart with
marks is ``role="group"`` with an ``aria-label`` and its marks are
``role="img"``; sparklines and empty charts are a single ``role="img"``.
Dense lines draw their points as ``chart-point-quiet`` (no dot until hovered or
focused). :func:`responsive` draws a chart twice, for wide and for narrow
screens, so its text stays 11 px on a phone. Every string that reaches
the SVG (labels, names, formatted values, classes) is XML-escaped, so a label
like ``<script>`` or ``学习`` is text, never markup.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import pairwise

from markupsafe import Markup, escape

FONT_SIZE = 11
"""Label size in viewBox units; margins are measured from it."""
CHAR_WIDTH = FONT_SIZE * 0.62
"""Rough advance of one narrow character (CJK counts double)."""
HEAT_LEVELS = 5
"""Heat classes ``chart-heat-1``..``5``; ``chart-heat-0`` is "no data or zero"."""
HEAT_SCALES = ("quantile", "linear")
MAX_TIME_TICKS = 8
DENSE_SPACING = 12
"""Points closer than this (viewBox units) are drawn without a dot of their own."""
NARROW_WIDTH = 340
"""Width of the phone rendering: a 390 px screen gives a chart about this many
CSS pixels, so labels drawn at :data:`FONT_SIZE` stay 11 px tall."""
DEFAULT_EMPTY_TEXT = "No data yet"

SVG_NS = "http://www.w3.org/2000/svg"
_TOP, _RIGHT, _BOTTOM = 10, 12, FONT_SIZE + 14
"""Plot margins: a little air above and right, one line of tick labels below."""


# --- numbers and ticks ----------------------------------------------------


def format_number(value: float) -> str:
    """Format a count or measure for labels: ``1,234``, ``0.25``, ``-3``."""
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def nice_ticks(lo: float, hi: float, n: int = 5, *, integer: bool = False) -> list[float]:
    """Return round ticks covering ``[lo, hi]``: a step of 1, 2 or 5 × 10^k.

    The first tick is at or below ``lo`` and the last at or above ``hi``, with
    about ``n`` intervals between them. ``integer=True`` keeps the step at
    1 or more (no "2.5 videos"). An empty (or float-noise thin) range is
    widened to include 0, or to ``[0, 1]`` around 0. Ticks are ``int`` when
    the step is whole. Bounds up to about ±1e300 work.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or n < 1:
        raise ValueError("nice_ticks needs finite bounds and n >= 1")
    lo, hi = min(lo, hi), max(lo, hi)
    if _too_narrow(lo, hi, n):
        lo, hi = min(lo, 0), max(hi, 0)
    if _too_narrow(lo, hi, n):
        lo, hi = 0, 1
    raw_step = hi / n - lo / n
    exponent = math.floor(math.log10(raw_step))
    mantissa = raw_step / 10.0**exponent
    digit = next(d for d in (1, 2, 5, 10) if mantissa <= d * (1 + 1e-9))
    if digit == 10:
        digit, exponent = 1, exponent + 1
    if integer and exponent < 0:
        digit, exponent = 1, 0
    step = digit * 10.0**exponent
    first = math.floor(_snap(lo / step))
    last = math.ceil(_snap(hi / step))
    return [_tick(i, digit, exponent) for i in range(first, last + 1)]


def _too_narrow(lo: float, hi: float, n: int) -> bool:
    """Tell a range too thin to divide (flat data, float noise) from a real one."""
    return hi - lo <= max(abs(lo), abs(hi)) * 1e-9 or (hi - lo) / n < 1e-300


def _snap(quotient: float) -> float:
    """Round away float noise (0.3 / 0.1 = 2.9999999999999996) before floor/ceil."""
    nearest = round(quotient)
    return nearest if abs(quotient - nearest) <= 1e-10 * max(1, abs(quotient)) else quotient


def _tick(index: int, digit: int, exponent: int) -> float:
    if exponent >= 0:
        return index * digit * 10**exponent
    return round(index * digit / 10**-exponent, -exponent)


def value_domain(lo: float, hi: float) -> tuple[float, float]:
    """Return the y range to plot for data spanning ``[lo, hi]``.

    The axis starts at 0 unless the data is far from it: when all values sit
    on one side of 0 and the gap to 0 is more than three times the data's
    spread (followers moving between 10,000 and 10,050), a zero baseline would
    flatten the line into the top quarter of the chart, so the range is the
    data's own.
    """
    gap_to_zero = lo if lo > 0 else -hi if hi < 0 else 0
    if hi > lo and gap_to_zero > 3 * (hi - lo):
        return lo, hi
    return min(lo, 0), max(hi, 0)


_TIME_STEPS = (
    ("hour", 1),
    ("hour", 2),
    ("hour", 3),
    ("hour", 6),
    ("hour", 12),
    ("day", 1),
    ("day", 2),
    ("week", 1),
    ("week", 2),
    ("month", 1),
    ("month", 2),
    ("month", 3),
    ("month", 6),
    ("year", 1),
    ("year", 2),
    ("year", 5),
    ("year", 10),
    ("year", 20),
    ("year", 50),
    ("year", 100),
)
_UNIT_SECONDS = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 30.4 * 86400, "year": 365.25 * 86400}


def time_ticks(start: datetime, end: datetime, max_ticks: int = MAX_TIME_TICKS) -> list[datetime]:
    """Return calendar-aligned ticks between ``start`` and ``end`` (inclusive).

    The step is the finest of 1/2/3/6/12 hours, 1/2 days, 1/2 weeks (on
    Mondays), 1/2/3/6 months (on the 1st) or 1/2/5/10... years (on 1 January)
    that gives at most ``max_ticks`` ticks; a month-long span gets weekly
    ticks, a year monthly ones. Ticks carry ``start``'s time zone. A span too
    short to hold an aligned tick gets ``[start, end]``.
    """
    return _time_ticks(start, end, max_ticks)[0]


def _time_ticks(
    start: datetime, end: datetime, max_ticks: int, *, dates_only: bool = False
) -> tuple[list[datetime], str]:
    """Return the ticks and their unit; ``dates_only`` skips hourly steps."""
    start, end = min(start, end), max(start, end)
    span = end.timestamp() - start.timestamp()
    for unit, every in _TIME_STEPS:
        if (dates_only and unit == "hour") or span / (_UNIT_SECONDS[unit] * every) > max_ticks + 1:
            continue
        ticks = _aligned_ticks(start, end, unit, every)
        if len(ticks) <= max_ticks:
            return (ticks or sorted({start, end})), unit
    return sorted({start, end}), "year"


def _aligned_ticks(start: datetime, end: datetime, unit: str, every: int) -> list[datetime]:
    tz = start.tzinfo
    if unit == "hour":
        first = datetime(start.year, start.month, start.day, start.hour, tzinfo=tz)
        while first < start or first.hour % every:
            first += timedelta(hours=1)
        return _repeat(first, end, lambda t: t + timedelta(hours=every))
    if unit in ("day", "week"):
        first = datetime(start.year, start.month, start.day, tzinfo=tz)
        while first < start or (unit == "week" and first.weekday()):
            first += timedelta(days=1)
        days = every * (7 if unit == "week" else 1)
        return _repeat(first, end, lambda t: t + timedelta(days=days))
    if unit == "month":
        first = datetime(start.year, start.month, 1, tzinfo=tz)
        while first < start or (first.month - 1) % every:
            first = _add_months(first, 1)
        return _repeat(first, end, lambda t: _add_months(t, every))
    year = start.year + (datetime(start.year, 1, 1, tzinfo=tz) < start)
    year += -year % every
    return [datetime(y, 1, 1, tzinfo=tz) for y in range(year, end.year + 1, every)]


def _repeat(first: datetime, end: datetime, step: Callable) -> list[datetime]:
    ticks = []
    while first <= end:
        ticks.append(first)
        first = step(first)
    return ticks


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


_TICK_FORMATS = {"hour": "%H:%M", "day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


def _tick_format(moment: datetime, unit: str) -> str:
    """Default tick label: hourly ticks name the day at midnight, the hour otherwise."""
    if unit == "hour" and (moment.hour, moment.minute) == (0, 0):
        unit = "day"
    return moment.strftime(_TICK_FORMATS[unit])


def _point_format(moment: datetime) -> str:
    """Default tooltip date: the day, plus the time when it is not midnight."""
    if (moment.hour, moment.minute) == (0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M")


# --- SVG building blocks ----------------------------------------------------


def _n(value: float) -> str:
    """Format a coordinate: two decimals at most, no ``-0``."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _text_width(text: str) -> float:
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in text)
    return (len(text) + wide) * CHAR_WIDTH


def _fit(text: str, width: float) -> str:
    """Shorten ``text`` with an ellipsis to fit ``width`` (titles keep it whole)."""
    if _text_width(text) <= width:
        return text
    while text and _text_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _label_every(count: int, slot: float, widest: float) -> int:
    """Return k so that drawing every k-th of ``count`` labels avoids overlaps."""
    if count <= 1 or slot <= 0:
        return 1
    return max(1, math.ceil((widest + CHAR_WIDTH) / slot))


# Characters XML 1.0 forbids even when escaped (control codes, stray surrogates).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _plain(text: object) -> str:
    """Return a label as plain text; ``Markup`` is reduced to what it displays."""
    return text.striptags() if isinstance(text, Markup) else str(text)


def _esc(text: object) -> str:
    """Escape any value as XML text, dropping characters XML cannot carry."""
    return str(escape(_NOT_XML.sub("", _plain(text))))


def _label_margin(labels: Sequence[str], width: float) -> float:
    """Room for right-aligned labels left of a plot, at most 40 % of ``width``."""
    return min(max(map(_text_width, labels), default=0), width * 0.4) + 10


def _title(text: str) -> str:
    return f"<title>{_esc(text)}</title>"


def _text(x: float, y: float, content: str, anchor: str = "middle", extra: str = "") -> str:
    classes = f"chart-label {extra}".strip()
    return (
        f'<text class="{_esc(classes)}" x="{_n(x)}" y="{_n(y)}" '
        f'text-anchor="{anchor}" dy="0.35em">{_esc(content)}</text>'
    )


def _axis_label(x: float, baseline: float, content: str, width: float) -> str:
    """Centre a label under ``x`` below ``baseline``, kept inside the chart."""
    half = _text_width(content) / 2
    return _text(min(max(x, half), width - half), baseline + 6 + FONT_SIZE / 2, content)


def _path(coords: list[tuple[float, float]]) -> str:
    """Join points with a ``chart-line`` path; nothing for fewer than two points."""
    if len(coords) < 2:
        return ""
    d = " ".join(f"{'L' if i else 'M'}{_n(cx)},{_n(cy)}" for i, (cx, cy) in enumerate(coords))
    return f'<path class="chart-line" d="{d}" fill="none" stroke="currentColor"/>'


def _line(x1: float, y1: float, x2: float, y2: float, css_class: str) -> str:
    return f'<line class="{css_class}" x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}"/>'


def _svg(
    kind: str,
    width: float,
    height: float,
    aria_label: str,
    body: list[str],
    *,
    fixed_size: bool = False,
    marks: bool = False,
) -> Markup:
    """Wrap ``body`` in the root element; ``width="100%"`` unless ``fixed_size``.
    A chart with keyboard-reachable ``marks`` is a labelled group of images
    (an image may not hold focusable parts), any other one image."""
    size = f'width="{_n(width)}" height="{_n(height)}"' if fixed_size else 'width="100%"'
    # Chromium would make the root a Tab stop of its own: the marks are the stops.
    role = 'role="group" tabindex="-1"' if marks else 'role="img"'

    return Markup(
        f'<svg xmlns="{SVG_NS}" class="chart chart-type-{kind}" {size} '
        f'viewBox="0 0 {_n(width)} {_n(height)}" preserveAspectRatio="xMidYMid meet" '
        f'{role} aria-label="{_esc(aria_label)}" font-size="{FONT_SIZE}">' + "".join(body) + "</svg>"
    )


def empty_chart(
    aria_label: str,
    empty_text: str,
    width: float = 640,
    height: float = 240,
    *,
    fixed_size: bool = False,
) -> Markup:
    """Return the "no data" chart: the message centred (wrapped to the width,
    the chart growing to hold it), announced with the label."""
    label = f"{aria_label}. {empty_text}" if empty_text else aria_label
    lines = _wrap(_plain(empty_text), width - 16) if empty_text else []
    step = FONT_SIZE * 1.4
    height = max(height, len(lines) * step + 16)
    top = height / 2 - (len(lines) - 1) * step / 2
    body = [_text(width / 2, top + i * step, line, extra="chart-empty") for i, line in enumerate(lines)]
    return _svg("empty", width, height, label, body, fixed_size=fixed_size)


def _wrap(text: str, width: float) -> list[str]:
    """Break ``text`` into lines that fit ``width``: at spaces, or between
    any two characters of a CJK run (which has no spaces)."""
    lines, line = [], ""
    for token in re.findall(r"\S+\s*|\s+", text):
        pieces = [token] if _text_width(token.rstrip()) <= width else list(token)
        for piece in pieces:
            if line and _text_width((line + piece).rstrip()) > width:
                lines.append(line.rstrip())
                line = piece.lstrip()
            else:
                line += piece
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _finite(value: object) -> bool:
    """Tell a plottable number from ``None``, ``NaN``, infinities and bools."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _as_datetime(moment: date | datetime, tz: tzinfo | None = None) -> datetime:
    """Return ``moment`` in ``tz``; a ``date`` becomes its midnight (UTC without ``tz``)."""
    if isinstance(moment, datetime):
        return moment.astimezone(tz) if tz else moment
    return datetime(moment.year, moment.month, moment.day, tzinfo=tz or UTC)


class _Scale:
    """Map a data interval onto a pixel interval (flipped for the y axis)."""

    def __init__(self, lo: float, hi: float, start: float, end: float) -> None:
        self.lo, self.span = lo, (hi - lo) or 1
        self.start, self.length = start, end - start

    def __call__(self, value: float) -> float:
        return self.start + (value - self.lo) / self.span * self.length


def _value_ticks(values: Sequence[float], label: Callable[[float], str], *,
                 from_zero: bool = False) -> tuple[list[float], list[str]]:
    """Return ticks and their labels, with as many ticks (5 down to 2) as keep
    the labels apart: a compact format shows 1.0M and 1.05M both as "1M", so
    the axis takes a coarser step rather than repeat a label."""
    lo, hi = min(values), max(values)
    lo, hi = (min(lo, 0), max(hi, 0)) if from_zero else value_domain(lo, hi)
    integer = all(isinstance(v, int) for v in values)
    for n in (5, 4, 3, 2):
        ticks = nice_ticks(lo, hi, n, integer=integer)
        labels = [label(t) for t in ticks]
        if len(set(labels)) == len(labels):
            return ticks, labels
    return ticks, [format_number(t) for t in ticks]


# --- charts -------------------------------------------------------------------


def line_chart(
    series: Sequence[dict],
    *,
    aria_label: str,
    x_format: Callable[[datetime], str] | None = None,
    y_format: Callable[[float], str] = format_number,
    width: float = 640,
    height: float = 240,
    empty_text: str = DEFAULT_EMPTY_TEXT,
    tz: tzinfo | None = None,
    time_format: Callable[[datetime], str] | None = None,
    one_point_text: Callable[[date | datetime, float], str] | None = None,
    direct_labels: bool = False,
) -> Markup:
    """Draw dated series on shared axes.

    ``series`` items: ``{"name": str, "points": [(datetime | date, number)],
    "class": "chart-series-1"}`` (class optional, default ``chart-series-N``).
    Points are sorted by time; ``None`` and non-finite values are skipped.
    With no points at all, the chart is :func:`empty_chart` with
    ``empty_text``; with a single moment (one sync so far) it is a short
    :func:`empty_chart` saying ``one_point_text(moment, value)`` (default: the
    date and value), not a lone dot on an axis running into the future.

    ``x_format`` formats tick labels and tooltips (default: ISO dates, coarser
    for long spans); it gets ``date`` objects back when every point was a
    ``date`` (``analytics.resample`` keys), so a formatter that shifts
    datetimes into the viewer's zone cannot move a day. ``tz`` aligns ticks
    to the viewer's midnights (default: the zone of the data, UTC).
    ``y_format`` formats values. ``time_format`` (with ``x_format``) gives the
    time of day for datetime points: hourly ticks show it, and tooltips add it
    to the date, so a chart shows dates in the same style as the page.

    A series may also name a ``"dash"`` (an SVG dash array, see :data:`DASHES`)
    and a ``"marker"`` (one of :data:`MARKERS`), so lines differ by more than
    colour (WCAG 1.4.1); the legend then draws each line's sample with its
    dash and marker. ``direct_labels`` writes each series' name at its last point.
    :func:`series_style` gives the Nth series a class, dash and marker of its own.
    """
    lines, dates_only = _clean_series(series, tz)
    if not lines:
        return empty_chart(aria_label, empty_text, width, height)
    moments = sorted((t for _, _, points, *_ in lines for t, _ in points), key=datetime.timestamp)
    first, last = moments[0], moments[-1]
    tick_label, point_label = _x_formatters(x_format, time_format, dates_only)
    if first == last:
        moment, value = lines[0][2][-1]
        moment = moment.date() if dates_only else moment
        text = one_point_text(moment, value) if one_point_text else f"{point_label(last)}: {y_format(value)}"
        return empty_chart(aria_label, text, width, min(height, 60))
    x_ticks, unit = _time_ticks(first, last, MAX_TIME_TICKS, dates_only=dates_only)
    if x_format is None:
        tick_label = lambda moment: _tick_format(moment, unit)  # noqa: E731
    elif time_format is not None and unit == "hour":
        plain_tick = tick_label
        tick_label = lambda moment: (  # noqa: E731
            plain_tick(moment) if (moment.hour, moment.minute) == (0, 0) else time_format(moment))

    y_ticks, y_labels = _value_ticks([v for _, _, points, *_ in lines for _, v in points], y_format)
    left = _label_margin(y_labels, width)
    right = width - _RIGHT
    if direct_labels:
        right -= min(max(_text_width(name) for name, *_ in lines), width * 0.3) + 8
    styled = any(dash or marker for *_, dash, marker in lines)
    rows = _legend_rows(len(lines), width - _RIGHT - left, styled) if len(lines) > 1 else 0
    top = _TOP + rows * (FONT_SIZE + 10)  # room for the legend
    x = _Scale(first.timestamp(), last.timestamp(), left, right)
    y = _Scale(y_ticks[0], y_ticks[-1], height - _BOTTOM, top)

    body = _value_grid(y_ticks, y_labels, y, left, right, vertical=True)
    body += _x_axis(x_ticks, tick_label, x, height - _BOTTOM, width)
    for number, (name, css_class, points, dash, marker) in enumerate(lines):
        body += _series(name, css_class, points, x, y, point_label, y_format, first_stop=number == 0,
                        dash=dash, marker=marker)
    if direct_labels:
        body += _direct_labels(lines, x, y, right, width)
    if len(lines) > 1:
        body += _legend([(name, css_class, dash, marker) for name, css_class, _, dash, marker in lines],
                        left, width - _RIGHT)
    return _svg("line", width, height, aria_label, body, marks=True)


#: Dash arrays that tell up to ten lines apart without colour: solid first.
DASHES = ("", "8 4", "2 3", "10 3 2 3", "4 4", "14 4", "1 3", "8 3 2 3 2 3", "6 2", "12 3 3 3")
#: Point shapes, cycled alongside :data:`DASHES`.
MARKERS = ("circle", "square", "triangle", "diamond", "triangle-down")
_DASH_OK = re.compile(r"^[0-9. ]{0,40}$")
LEGEND_ITEM_WIDTH = 150


def series_style(index: int) -> dict:
    """The class, dash and marker of the ``index``-th (0-based) of up to ten
    series: each its own colour, dash pattern and point shape."""
    return {"class": f"chart-series-{index % len(DASHES) + 1}", "dash": DASHES[index % len(DASHES)],
            "marker": MARKERS[index % len(MARKERS)]}


def _legend_rows(count: int, room: float, wrap: bool) -> int:
    """One row, as every chart had; a legend of styled lines (``wrap``) takes
    as many rows of :data:`LEGEND_ITEM_WIDTH` as its names need."""
    per_row = max(1, int(room // LEGEND_ITEM_WIDTH))
    return math.ceil(count / per_row) if wrap else 1


def _direct_labels(lines, x: _Scale, y: _Scale, right: float, width: float) -> list[str]:
    """Each series' name right of its last point, nudged apart so none overlap."""
    ends = sorted(((y(points[-1][1]), name, css_class) for name, css_class, points, *_ in lines))
    body, last_y = [], -math.inf
    for cy, name, css_class in ends:
        cy = max(cy, last_y + FONT_SIZE + 1)
        last_y = cy
        body.append(f'<g class="chart-series {_esc(css_class)}">'
                    + _text(right + 6, cy, _fit(name, width - right - 8), "start", "chart-direct-label")
                    + "</g>")
    return body


def _clean_series(series: Sequence[dict], tz: tzinfo | None) -> tuple[list[tuple], bool]:
    """Return ``(name, class, sorted points, dash, marker)`` per non-empty series,
    and whether all x are dates."""
    lines, dates_only = [], True
    for index, item in enumerate(series, start=1):
        raw = [(t, v) for t, v in item.get("points", ()) if _finite(v)]
        dates_only = dates_only and all(type(t) is date for t, _ in raw)
        points = sorted(((_as_datetime(t, tz), v) for t, v in raw), key=lambda p: p[0].timestamp())
        if points:
            css_class = item.get("class") or f"chart-series-{index}"
            dash = item.get("dash") or ""
            marker = item.get("marker") if item.get("marker") in MARKERS else None
            lines.append((_plain(item.get("name", "")), css_class, points,
                          dash if _DASH_OK.match(dash) else "", marker))
    return lines, dates_only


def _x_formatters(
    x_format: Callable | None, time_format: Callable | None, dates_only: bool
) -> tuple[Callable, Callable]:
    """Return the tick-label and tooltip formatters of the time axis."""
    if x_format is None:
        return _point_format, _point_format

    def formatted(moment: datetime) -> str:
        return x_format(moment.date() if dates_only else moment)

    if time_format is None or dates_only:
        return formatted, formatted
    return formatted, lambda moment: f"{formatted(moment)} {time_format(moment)}"


def _x_axis(
    ticks: list[datetime],
    label: Callable,
    x: _Scale,
    baseline: float,
    width: float,
) -> list[str]:
    """Draw the time axis; labels are thinned out and kept inside ``width``."""
    labels = [label(t) for t in ticks]
    positions = [x(t.timestamp()) for t in ticks]
    widest = max((_text_width(text) for text in labels), default=0)
    gaps = [b - a for a, b in pairwise(positions)]
    every = _label_every(len(ticks), min(gaps, default=x.length), widest)
    body = [
        '<g class="chart-axis chart-axis-x">',
        _line(x.start, baseline, x.start + x.length, baseline, "chart-axis-line"),
    ]
    drawn_to = -math.inf  # right edge of the last label drawn
    for index, (position, text) in enumerate(zip(positions, labels, strict=True)):
        body.append(_line(position, baseline, position, baseline + 4, "chart-tick"))
        half = _text_width(text) / 2
        center = min(max(position, half), width - half)  # as _axis_label keeps it inside
        if index % every == 0 and center - half >= drawn_to + CHAR_WIDTH:
            body.append(_axis_label(position, baseline, text, width))
            drawn_to = center + half
    body.append("</g>")
    return body


def _series(
    name: str,
    css_class: str,
    points: list[tuple[datetime, float]],
    x: _Scale,
    y: _Scale,
    x_format: Callable,
    y_format: Callable,
    *,
    first_stop: bool = False,
    dash: str = "",
    marker: str | None = None,
) -> list[str]:
    """One line with a titled, focusable point per value. Where points sit
    closer than :data:`DENSE_SPACING` a dot on each would make the line look
    dotted, so they are ``chart-point-quiet``: drawn only on hover or focus
    (a line with a ``dash`` keeps its markers, thinned to every Nth point)."""
    coords = [(x(t.timestamp()), y(v)) for t, v in points]
    body = [f'<g class="chart-series {_esc(css_class)}">', _dashed(_path(coords), dash)]
    dense = len(coords) > 1 and x.length / (len(coords) - 1) < DENSE_SPACING
    css = "chart-point chart-point-quiet" if dense else "chart-point"
    every = max(1, math.ceil(DENSE_SPACING * 3 * (len(coords) - 1) / x.length)) if dense else 1
    for index, ((moment, value), (cx, cy)) in enumerate(zip(points, coords, strict=True)):
        label = " — ".join(part for part in (name, x_format(moment)) if part)
        title = _title(f"{label}: {y_format(value)}")
        stop = _stop(first_stop and index == 0)
        if marker is None:
            body.append(f'<circle class="{css}" cx="{_n(cx)}" cy="{_n(cy)}" r="3" {stop}>{title}</circle>')
        else:
            shown = "chart-point" if index % every == 0 or index == len(coords) - 1 else css
            body.append(_marker(marker, cx, cy, shown, stop, title))
    body.append("</g>")
    return body


def _dashed(path: str, dash: str) -> str:
    """A presentation attribute, not a style: the strict CSP allows it."""
    return path.replace("<path ", f'<path stroke-dasharray="{dash}" ', 1) if dash and path else path


def _marker(shape: str, cx: float, cy: float, css: str, attrs: str = "", title: str = "",
            size: float = 3.5) -> str:
    """A point drawn as ``shape``; ``chart-marker-<shape>`` names it."""
    css = f"{css} chart-marker-{shape}"
    if shape == "circle":
        return f'<circle class="{css}" cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(size)}" {attrs}>{title}</circle>'
    if shape == "square":
        return (f'<rect class="{css}" x="{_n(cx - size)}" y="{_n(cy - size)}" width="{_n(2 * size)}" '
                f'height="{_n(2 * size)}" {attrs}>{title}</rect>')
    s = size * 1.3
    corners = {"triangle": ((0, -s), (s, s * 0.8), (-s, s * 0.8)),
               "triangle-down": ((0, s), (s, -s * 0.8), (-s, -s * 0.8)),
               "diamond": ((0, -s), (s, 0), (0, s), (-s, 0))}[shape]
    points = " ".join(f"{_n(cx + dx)},{_n(cy + dy)}" for dx, dy in corners)
    return f'<polygon class="{css}" points="{points}" {attrs}>{title}</polygon>'


def _stop(first: bool) -> str:
    """Attributes of a chart mark: an image the keyboard can reach."""
    return f'role="img" tabindex="{0 if first else -1}"'


def _legend(entries: list[tuple], left: float, right: float) -> list[str]:
    """A swatch and name per series; a series with a dash or marker gets a
    sample of its line instead, so the legend does not rely on colour alone.
    Rows of :data:`LEGEND_ITEM_WIDTH` when the names do not fit on one."""
    body = ['<g class="chart-legend">']
    rows = _legend_rows(len(entries), right - left, any(any(style) for _name, _css, *style in entries))
    per_row = math.ceil(len(entries) / rows)
    slot = (right - left) / per_row
    for index, (name, css_class, *style) in enumerate(entries):
        dash, marker = (style + [None, None])[:2]
        x0 = left + (index % per_row) * slot
        y0 = 4 + (index // per_row) * (FONT_SIZE + 10)
        if dash or marker:
            sample = _dashed(f'<path class="chart-line" d="M{_n(x0)},{_n(y0 + 5)}H{_n(x0 + 22)}" '
                             'fill="none" stroke="currentColor"/>', dash or "")
            sample += _marker(marker, x0 + 11, y0 + 5, "chart-point") if marker else ""
            text_x = x0 + 26
        else:
            sample = (f'<rect class="chart-legend-swatch {_esc(css_class)}" x="{_n(x0)}" y="{_n(y0)}" '
                      'width="10" height="10"/>')
            text_x = x0 + 14
        body.append(f'<g class="chart-legend-item chart-series {_esc(css_class)}">' + sample
                    + _text(text_x, y0 + 5, _fit(name, slot - (text_x - x0) - 6), "start") + "</g>")
    body.append("</g>")
    return body


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    aria_label: str,
    y_format: Callable[[float], str] = format_number,
    width: float = 640,
    height: float | None = None,
    horizontal: bool = False,
    empty_text: str = DEFAULT_EMPTY_TEXT,
    missing_text: str | None = None,
) -> Markup:
    """Draw one bar per ``(label, value)``, in the order given, from a zero baseline.

    Vertical by default (240 high); ``horizontal=True`` suits long labels
    such as hashtags and grows 24 units per bar unless ``height`` is given.
    Labels that do not fit are shortened with "…" or thinned out; the
    ``<title>`` of each bar keeps the full label and value. Bars with a
    ``None`` or non-finite value are left out, unless ``missing_text`` is
    given: then they keep their place and say it (e.g. "no videos") where the
    bar would be.
    """
    bars = [(_plain(label), value if _finite(value) else None) for label, value in bars
            if _finite(value) or missing_text is not None]
    if not any(value is not None for _, value in bars):
        return empty_chart(aria_label, empty_text, width, height or 240)
    values = [value for _, value in bars if value is not None]
    ticks, tick_labels = _value_ticks(values or [0], y_format, from_zero=True)
    if horizontal:
        height = height or _TOP + 24 * len(bars) + _BOTTOM
        body = _horizontal_bars(bars, ticks, tick_labels, width, height, y_format, missing_text)
        return _svg("bar chart-horizontal", width, height, aria_label, body, marks=True)
    height = height or 240
    body = _vertical_bars(bars, ticks, tick_labels, width, height, y_format, missing_text)
    return _svg("bar", width, height, aria_label, body, marks=True)


def _rect(css_class: str, x: float, y: float, w: float, h: float, title: str, first: bool = False) -> str:
    return (
        f'<rect class="{css_class}" x="{_n(x)}" y="{_n(y)}" '
        f'width="{_n(w)}" height="{_n(h)}" {_stop(first)}>{_title(title)}</rect>'
    )


def _bar(x: float, y: float, w: float, h: float, value: float, title: str, first: bool) -> str:
    css_class = "chart-bar chart-bar-negative" if value < 0 else "chart-bar"
    return _rect(css_class, x, y, w, h, title, first)


def _vertical_bars(bars, ticks, tick_labels, width, height, y_format, missing_text) -> list[str]:
    left = _label_margin(tick_labels, width)
    y = _Scale(ticks[0], ticks[-1], height - _BOTTOM, _TOP)
    band = (width - left - _RIGHT) / len(bars)
    widest = max(_text_width(label) for label, _ in bars)
    every = _label_every(len(bars), band, min(widest, band * 4))
    body = _value_grid(ticks, tick_labels, y, left, width - _RIGHT, vertical=True)
    body.append('<g class="chart-bars">')
    first = True
    for index, (label, value) in enumerate(bars):
        x0 = left + index * band + band * 0.15
        if value is None:
            text = _fit(missing_text, band)
            body.append(_text(x0 + band * 0.35, y(0) - FONT_SIZE, text, extra="chart-missing"))
            continue
        y0, y1 = sorted((y(0), y(value)))
        body.append(_bar(x0, y0, band * 0.7, y1 - y0, value, f"{label}: {y_format(value)}", first))
        first = False
    body.append("</g>")
    body.append('<g class="chart-axis chart-axis-x">')
    for index, (label, _) in enumerate(bars):
        if index % every == 0:
            center = left + (index + 0.5) * band
            text = _fit(label, band * every - 4)
            body.append(_axis_label(center, height - _BOTTOM, text, width))
    body.append("</g>")
    return body


def _horizontal_bars(bars, ticks, tick_labels, width, height, y_format, missing_text) -> list[str]:
    right = _RIGHT + _text_width(tick_labels[-1]) / 2
    left = _label_margin([label for label, _ in bars], width)
    x = _Scale(ticks[0], ticks[-1], left, width - right)
    band = (height - _TOP - _BOTTOM) / len(bars)
    body = _value_grid(ticks, tick_labels, x, _TOP, height - _BOTTOM, vertical=False)
    body.append('<g class="chart-bars">')
    first = True
    for index, (label, value) in enumerate(bars):
        y0 = _TOP + index * band + band * 0.15
        if value is None:
            body.append(_text(x(0) + 4, y0 + band * 0.35, missing_text, "start", "chart-missing"))
            continue
        x0, x1 = sorted((x(0), x(value)))
        body.append(_bar(x0, y0, x1 - x0, band * 0.7, value, f"{label}: {y_format(value)}", first))
        first = False
    body.append("</g>")
    body.append('<g class="chart-axis chart-axis-y">')
    for index, (label, _) in enumerate(bars):
        body.append(_text(left - 6, _TOP + (index + 0.5) * band, _fit(label, left - 10), "end"))
    body.append("</g>")
    return body


def _value_grid(ticks, labels, scale, start, end, *, vertical: bool) -> list[str]:
    """Draw the value axis: y for vertical bars, x for horizontal ones."""
    body = ['<g class="chart-grid">']
    for tick in ticks:
        zero = " chart-grid-zero" if tick == 0 else ""
        at = scale(tick)
        coords = (start, at, end, at) if vertical else (at, start, at, end)
        body.append(_line(*coords, f"chart-grid-line{zero}"))
    body.append("</g>")
    axis = "y" if vertical else "x"
    body.append(f'<g class="chart-axis chart-axis-{axis}">')
    for tick, label in zip(ticks, labels, strict=True):
        if vertical:
            body.append(_text(start - 6, scale(tick), label, "end"))
        else:
            body.append(_text(scale(tick), end + 6 + FONT_SIZE / 2, label))
    body.append("</g>")
    return body


def heat_levels(grid: Sequence[Sequence[float | None]], scale: str = "quantile") -> list[list[int]]:
    """Return the heat class (0..5) of every cell.

    0 is a cell without data (``None``) or with a value of 0 or less. The
    other cells get 1..5:

    * ``"quantile"`` (default): by rank among the positive cells, in fifths
      (``ceil(5 × share of positive cells <= value)``). View counts are
      heavy-tailed, and one viral video would otherwise leave every other
      cell at level 1; the tooltip still gives the exact number.
    * ``"linear"``: ``ceil(5 × value / max)``, proportional to the value.

    The largest value is always 5; equal values share a level.
    """
    if scale not in HEAT_SCALES:
        raise ValueError(f"scale must be one of {HEAT_SCALES}, not {scale!r}")
    positive = sorted(v for row in grid for v in row if _finite(v) and v > 0)

    def level(value: float | None) -> int:
        if not (_finite(value) and value > 0):
            return 0
        if scale == "linear":
            share = value / positive[-1]
        else:
            share = bisect.bisect_right(positive, value) / len(positive)
        return min(HEAT_LEVELS, max(1, math.ceil(HEAT_LEVELS * share - 1e-9)))

    return [[level(v) for v in row] for row in grid]


def heatmap(
    grid: Sequence[Sequence[float | None]],
    *,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    aria_label: str,
    value_format: Callable[[float], str] = format_number,
    cell_title: Callable[[str, str, float | None], str] | None = None,
    scale: str = "quantile",
    width: float = 640,
    empty_text: str = DEFAULT_EMPTY_TEXT,
    none_text: str = "–",
) -> Markup:
    """Draw a grid of cells, e.g. ``analytics.weekday_hour_heatmap``'s 7 × 24.

    Each cell is a ``<rect class="chart-heat-N">`` with N from
    :func:`heat_levels` (``scale`` is "quantile" or "linear") and a title from
    ``cell_title(row_label, col_label, value)``; the default is
    ``"Mon 09: 1,234"`` or ``"Mon 09: –"`` for a cell without data. Cells are
    square; the height follows from ``width``. Column labels are thinned out
    when they would overlap. A grid without cells is :func:`empty_chart`.
    Under the grid, a legend (``chart-heat-legend``) shows each level's colour
    with the smallest value it holds ("≥1.2K"), ``none_text`` for level 0.
    """
    if len(grid) != len(row_labels) or any(len(row) != len(col_labels) for row in grid):
        raise ValueError("grid must have one row per row label and one cell per column label")
    if not grid or not col_labels:
        return empty_chart(aria_label, empty_text, width)
    row_labels, col_labels = list(map(_plain, row_labels)), list(map(_plain, col_labels))

    def default_title(row: str, col: str, value: float | None) -> str:
        return f"{row} {col}: {value_format(value) if _finite(value) else '–'}"

    title = cell_title or default_title
    levels = heat_levels(grid, scale)
    left = _label_margin(row_labels, width)
    top, gap = FONT_SIZE + 8, 2
    cell = (width - left - 4) / len(col_labels)
    grid_bottom = top + cell * len(row_labels) + 4
    height = grid_bottom + 2 * FONT_SIZE + 18
    every = _label_every(len(col_labels), cell, max(map(_text_width, col_labels)))

    body = ['<g class="chart-axis chart-axis-x">']
    body += [
        _text(left + (i + 0.5) * cell, top / 2, label) for i, label in enumerate(col_labels) if i % every == 0
    ]
    body.append('</g><g class="chart-axis chart-axis-y">')
    body += [
        _text(left - 6, top + (r + 0.5) * cell, _fit(label, left - 10), "end")
        for r, label in enumerate(row_labels)
    ]
    body.append('</g><g class="chart-cells">')
    for r, (row_label, row) in enumerate(zip(row_labels, grid, strict=True)):
        for c, (col_label, value) in enumerate(zip(col_labels, row, strict=True)):
            x0, y0, size = left + c * cell + gap / 2, top + r * cell + gap / 2, cell - gap
            tooltip = title(row_label, col_label, value)
            body.append(_rect(f"chart-heat-{levels[r][c]}", x0, y0, size, size, tooltip, r == c == 0))
    body.append("</g>")
    body += _heat_legend(grid, levels, value_format, none_text, left, grid_bottom + 6, width)
    return _svg("heatmap", width, height, aria_label, body, marks=True)


def _heat_legend(grid, levels, value_format, none_text, left, top, width) -> list[str]:
    """A ramp of the levels in use, each labelled with its smallest value."""
    smallest: dict[int, float] = {}
    for row, row_levels in zip(grid, levels, strict=True):
        for value, level in zip(row, row_levels, strict=True):
            if level and (level not in smallest or value < smallest[level]):
                smallest[level] = value
    entries = [(0, none_text)] + [(level, f"≥{value_format(smallest[level])}") for level in sorted(smallest)]
    widest = max(_text_width(text) for _, text in entries)
    box = min(max(56, widest + CHAR_WIDTH), (width - left - 4) / len(entries))
    every = _label_every(len(entries), box, widest)
    body = ['<g class="chart-legend chart-heat-legend">']
    for index, (level, text) in enumerate(entries):
        x0 = left + index * box
        body.append(f'<rect class="chart-heat-{level}" x="{_n(x0)}" y="{_n(top)}" '
                    f'width="{_n(box - 2)}" height="10"/>')
        if index % every == 0:
            body.append(_text(x0 + box / 2, top + 16 + FONT_SIZE / 2, _fit(text, box * every - 2)))
    body.append("</g>")
    return body


def sparkline(
    values: Sequence[float | None],
    *,
    aria_label: str,
    width: float = 100,
    height: float = 24,
    value_format: Callable[[float], str] = format_number,
    empty_text: str = "",
) -> Markup:
    """Draw a small line of ``values`` (oldest first) for tables and cards.

    No axes; the y range is the data's own (a flat series is a level line in
    the middle). ``None`` entries are gaps in time: they keep their slot but
    draw nothing. The line sits in a ``chart-series-1`` group like a one-series
    line chart; each point is a ``chart-point`` with the formatted value as
    its title, the newest also ``chart-point-last``. Unlike the other charts
    the root has a fixed ``width``/``height`` so it sits inline in text; it
    still carries a ``viewBox``.
    """
    present = [(i, v) for i, v in enumerate(values) if _finite(v)]
    if not present:
        return empty_chart(aria_label, empty_text, width, height, fixed_size=True)
    pad = 2
    lo, hi = min(v for _, v in present), max(v for _, v in present)
    x = _Scale(0, max(len(values) - 1, 1), pad, width - pad)
    y = _Scale(lo, hi, height - pad, pad) if hi > lo else (lambda _: height / 2)
    coords = [(x(i) if len(values) > 1 else width / 2, y(v)) for i, v in present]
    body = ['<g class="chart-series chart-series-1">', _path(coords)]
    for number, ((_, value), (cx, cy)) in enumerate(zip(present, coords, strict=True), start=1):
        last = " chart-point-last" if number == len(present) else ""
        body.append(
            f'<circle class="chart-point{last}" cx="{_n(cx)}" cy="{_n(cy)}" r="1.5">'
            f"{_title(value_format(value))}</circle>"
        )
    body.append("</g>")
    return _svg("sparkline", width, height, aria_label, body, fixed_size=True)


def responsive(render: Callable[..., Markup], *args, narrow_width: float = NARROW_WIDTH, **kwargs) -> Markup:
    """Draw a chart for wide and for narrow screens, e.g.
    ``responsive(line_chart, series, aria_label=...)``.

    A 640-unit chart squeezed onto a phone shrinks its 11-unit labels to 6 px,
    so the chart is drawn a second time at ``narrow_width`` (its ticks and
    labels thinned out for that width). The stylesheet shows one of the two
    (``chart-wide`` / ``chart-narrow``); the hidden one is ``display: none``,
    out of the accessibility tree and the tab order.
    """
    wide = render(*args, **kwargs)
    narrow = render(*args, **{**kwargs, "width": narrow_width})
    return Markup(f'<div class="chart-wide">{wide}</div><div class="chart-narrow">{narrow}</div>')
