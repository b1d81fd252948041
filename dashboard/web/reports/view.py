"""A report's numbers in words: what the PDF and the digest e-mail show.

The same chart functions (``dashboard.charts``) and number formats
(``dashboard.web.i18n``) as the pages, so a report never disagrees with the
dashboard. Runs inside an app context with the reader's language forced
(Flask-Babel's ``force_locale``): in the worker there is no request.
"""

from __future__ import annotations

import base64
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask_babel import format_date, format_decimal, get_locale, ngettext
from flask_babel import gettext as _
from markupsafe import Markup

from dashboard import charts
from dashboard.core.compare import Comparison
from dashboard.core.reports import Metric, ReportData

from ..compare import shape as comparison_shape
from ..engagement import formula_words, left_out_words
from ..i18n import compact, duration, percent
from ..outcomes import N_
from ..pages.viewmodels import WEEKDAYS, duration_bucket_labels

#: The charts' looks without the app stylesheet (PDF and PNG have no CSS
#: variables, and e-mail clients strip stylesheets): the app's colours.
CHART_CSS = """
.chart-axis-line, .chart-tick { stroke: #9aa1ab; stroke-width: 1; }
.chart-grid-line { stroke: #e2e5ea; stroke-width: 1; } .chart-grid-zero { stroke: #9aa1ab; }
.chart-label, .chart-axis text, .chart-legend text, .chart-empty { fill: #5d6470; font-size: 11px;
  font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "DejaVu Sans", sans-serif; }
.chart-line { fill: none; stroke-width: 2; }
.chart-point { stroke: #fff; stroke-width: 1; }
.chart-series-1 .chart-line { stroke: #fe2c55; } .chart-series-2 .chart-line { stroke: #1a9fb0; }
.chart-series-3 .chart-line { stroke: #7a5af8; } .chart-series-4 .chart-line { stroke: #e08a00; }
.chart-series-1 .chart-point { fill: #fe2c55; } .chart-series-2 .chart-point { fill: #1a9fb0; }
.chart-series-3 .chart-point { fill: #7a5af8; } .chart-series-4 .chart-point { fill: #e08a00; }
.chart-bar { fill: #1a9fb0; } .chart-bar-negative { fill: #b3261e; }
.chart-heat-0 { fill: #eef0f3; } .chart-heat-1 { fill: #c7f1f5; } .chart-heat-2 { fill: #8be3ec; }
.chart-heat-3 { fill: #3fc7d6; } .chart-heat-4 { fill: #1a9fb0; } .chart-heat-5 { fill: #0d6b78; }
"""

#: The ten series of a comparison chart, in the app's colours (``--s1``..``--s10``).
SERIES_COLOURS = ("#e0103f", "#0e7c8a", "#7a5af8", "#a86200", "#2e7d32", "#c2185b", "#1565c0", "#6d4c41",
                  "#37474f", "#827717")
COMPARE_CHART_CSS = CHART_CSS + "".join(
    f".chart-series-{i} {{ color: {c}; }} .chart-series-{i} .chart-line {{ stroke: {c}; }} "
    f".chart-series-{i} .chart-point, rect.chart-legend-swatch.chart-series-{i} {{ fill: {c}; }}\n"
    for i, c in enumerate(SERIES_COLOURS, 1)) + \
    ".chart-series .chart-direct-label { fill: currentColor; font-weight: 600; }\n"

METRIC_LABELS = {
    "followers": N_("Followers"),
    "likes": N_("Likes"),
    "videos": N_("Videos"),
    "views": N_("Views"),
    "posted": N_("Videos posted"),
    "engagement": N_("Engagement rate"),
}


def styled(svg: str, css: str = CHART_CSS) -> Markup:
    """The chart with its looks inside (a ``<style>`` after the root tag)."""
    head, _sep, rest = str(svg).partition(">")
    return Markup(f"{head}><style>{css}</style>{rest}")


def data_uri(path: Path | None) -> str | None:
    """A stored picture inlined (the PDF fetches nothing)."""
    if path is None:
        return None
    try:
        return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode()
    except OSError:
        return None


def _signed(value) -> str:
    return ("+" if value > 0 else "") + format_decimal(value)


def metric_view(metric: Metric) -> dict:
    """A key number: its level, its change in the period, and against the period before."""
    rate = metric.key == "engagement"
    if rate:
        value = percent(metric.change)
        change = None
        previous = (_("Previous period: %(value)s", value=percent(metric.previous))
                    if metric.previous is not None else None)
    else:
        value = compact(metric.level) if metric.level is not None else (
            format_decimal(metric.change) if metric.change is not None else "—")
        change = (_("%(value)s in this period", value=_signed(metric.change))
                  if metric.change is not None and metric.level is not None else None)
        previous = None
        if metric.previous is not None:
            shown = format_decimal(metric.previous) if metric.key == "posted" else _signed(metric.previous)
            previous = _("Previous period: %(value)s", value=shown)
    pct = metric.change_pct
    css = "flat" if not pct else "up" if pct > 0 else "down"
    versus = (_("%(pct)s against the previous period", pct=("+" if pct > 0 else "") + percent(pct))
              if pct is not None else None)
    return {"key": metric.key, "label": _(METRIC_LABELS[metric.key]), "value": value,
            "change": change, "previous": previous, "versus": versus, "css": css}


def _line(title: str, label: str, points, css: str, width: float = 640, height: float = 220) -> dict:
    svg = charts.line_chart([{"name": label, "points": points, "class": css}], aria_label=title,
                            width=width, height=height,
                            x_format=lambda d: format_date(d, format="medium"), y_format=compact,
                            empty_text=_("No history in this range."))
    return {"key": css, "title": title, "svg": styled(svg), "raw": svg}


def growth_charts(data: ReportData) -> list[dict]:
    titles = {"followers": _("Followers over time"), "likes": _("Likes over time"),
              "views": _("Views of all videos over time")}
    return [_line(titles[key], _(METRIC_LABELS[key]), data.series.get(key, []),
                  f"chart-series-{i}") for i, key in enumerate(("followers", "likes", "views"), 1)]


def heatmap_view(data: ReportData) -> dict:
    days = [_(d) for d in WEEKDAYS]
    hours = [f"{h:02d}" for h in range(24)]
    svg = charts.heatmap(data.heatmap, row_labels=days, col_labels=hours,
                         aria_label=_("Average views by posting weekday and hour"),
                         value_format=compact, empty_text=_("No videos posted in this range."))
    return {"title": _("Average views by posting weekday and hour"), "svg": styled(svg),
            "note": _("Hours in the time zone %(tz)s; videos posted in this range.", tz=data.tz)}


def hashtags_view(data: ReportData) -> dict:
    svg = charts.bar_chart([("#" + t["tag"], t["total_views"]) for t in data.hashtags],
                           aria_label=_("Total views by hashtag"), y_format=compact,
                           horizontal=True, empty_text=_("No hashtags in this range."))
    rows = [("#" + t["tag"], format_decimal(t["count"]), compact(t["total_views"]),
             compact(t["median_views"]), percent(_rate(t, data))) for t in data.hashtags]
    return {"svg": styled(svg), "head": [_("Hashtag"), _("Videos"), _("Total views"),
                                         _("Median views"), _("Engagement rate")], "rows": rows}


def _rate(row: dict, data: ReportData) -> float | None:
    """A hashtag's or length bucket's engagement rate by the report's formula."""
    return row["engagement"][data.engagement_formula]["value"]


def engagement_text(data: ReportData) -> str:
    """The report's formula in words, and the videos its rate leaves out."""
    left_out = left_out_words(data.engagement_formula, data.engagement_left_out)
    words = formula_words(data.engagement_formula)
    return f"{words} {left_out}" if left_out else words


def lengths_view(data: ReportData) -> dict:
    labels = duration_bucket_labels()
    svg = charts.bar_chart([(labels[b["label_key"]], b["median_views"] or 0) for b in data.buckets],
                           aria_label=_("Median views by video length"), y_format=compact,
                           empty_text=_("No videos posted in this range."))
    rows = [(labels[b["label_key"]], format_decimal(b["count"]), compact(b["median_views"]),
             percent(_rate(b, data))) for b in data.buckets]
    return {"svg": styled(svg), "head": [_("Length"), _("Videos"), _("Median views"),
                                         _("Engagement rate")], "rows": rows}


def videos_view(data: ReportData, covers: bool = True) -> list[dict]:
    return [{
        "title": v.title or _("(no title)"), "posted": format_date(v.create_time, format="medium"),
        "duration": duration(v.duration), "views": compact(v.view_count),
        "gained": _signed(v.views_gained), "likes": compact(v.like_count),
        "comments": compact(v.comment_count), "shares": compact(v.share_count),
        "engagement": percent(v.engagement), "cover": data_uri(v.cover) if covers else None,
    } for v in data.top_videos]


def range_text(data: ReportData) -> str:
    return ngettext("%(start)s – %(end)s (%(num)d day)", "%(start)s – %(end)s (%(num)d days)",
                    data.days, start=format_date(data.start, format="long"),
                    end=format_date(data.end, format="long"))


def report_view(data: ReportData, *, covers: bool = True) -> dict:
    """Everything the report template places, in the current language."""
    name = data.display_name or data.username or _("TikTok user")
    return {
        "data": data,
        "name": name,
        "title": _("TikTok report: %(name)s", name=name),
        "range_text": range_text(data),
        "previous_text": _("Compared with %(start)s – %(end)s.",
                           start=format_date(data.previous_start, format="long"),
                           end=format_date(data.previous_end, format="long")),
        "tz_text": _("Dates and hours in the time zone %(tz)s.", tz=data.tz),
        "synced_text": (_("Data last synced from TikTok on %(when)s.",
                          when=format_datetime(data.last_synced_at.astimezone(ZoneInfo(data.tz)),
                                               "medium", locale=get_locale()))
                        if data.last_synced_at else _("This account has not been synced yet.")),
        "generated_text": _("Made on %(when)s.", when=format_date(data.generated_at, format="long")),
        "metrics": [metric_view(m) for m in data.metrics],
        "charts": growth_charts(data),
        "videos": videos_view(data, covers),
        "heatmap": heatmap_view(data),
        "hashtags": hashtags_view(data),
        "lengths": lengths_view(data),
        "formula": engagement_text(data),
        "avatar": data_uri(data.avatar) if covers else None,
        "has_data": data.has_data,
    }


def comparison_view(data: Comparison) -> dict:
    """A comparison's PDF: the page's table, charts and compared range, and the top
    videos with their dates in the reader's zone, in the current language."""
    view = comparison_shape(data, screen=False)
    tz = ZoneInfo(data.tz)
    for chart in view["charts"]:
        chart["svg"] = styled(chart["svg"], COMPARE_CHART_CSS)
    top = [(name, [{"title": v.title or _("(untitled)"), "views": compact(v.view_count),
                    "count": v.view_count,
                    "posted": format_date(v.create_time.astimezone(tz).date(), format="medium")}
                   for v in videos]) for name, videos in view["top"]]
    days = ngettext("%(num)d day", "%(num)d days", data.days)
    return {**view, "top": top, "title": _("TikTok accounts compared: %(range)s", range=view["range"]),
            "range_text": f"{view['range']} ({days})",
            "tz_text": _("Dates in the time zone %(tz)s.", tz=data.tz)}
