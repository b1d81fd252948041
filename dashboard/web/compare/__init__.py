"""``/compare``: two to ten accounts side by side over one date range, and its exports.

``?accounts=1,2`` (or the form's checkboxes, ``accounts=1&accounts=2``) picks
the accounts, ``preset`` or ``from``/``to`` the range (whole days in the
viewer's zone), and ``vs=previous`` (the period of the same length just
before) or ``vs=custom`` with ``vs_from``/``vs_to`` a second range to compare
with; no ``vs``, no second range. The core computes
(:mod:`dashboard.core.compare`); this module reads the request and words it.
``POST /compare/pdf`` (the same fields, in a form) queues the comparison as a
PDF report, made by the worker and fetched through ``/reports/status/<token>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import format_date, format_decimal, get_locale, ngettext
from flask_babel import gettext as _

from dashboard import charts, comparison
from dashboard.core import compare as core_compare
from dashboard.core.reports import RangeError
from dashboard.storage.reports import Compared

from .. import engagement
from ..context import get_core, get_jobs, get_store, logged_in_person
from ..errors import render_error
from ..exports import iso, stream_csv
from ..i18n import compact, percent, viewer_zone_name
from ..pages.routes import drop_empty_parameters

bp = Blueprint("compare", __name__)
bp.before_request(drop_empty_parameters)  # the GET form sends its empty fields too

DEFAULT_PRESET = "last_28"
VS_CHOICES = ("", "previous", "custom")
CSV_COLUMNS = (
    "period", "date_from", "date_to", "account_id", "username", "display_name", "followers_start",
    "followers_end", "net_change", "growth_rate", "videos_posted", "videos_per_week", "median_views",
    "views", "likes", "comments", "shares", "engagement_rate", "engagement_formula",
)


@dataclass
class Asked:
    """What the request asks for, and what is wrong with it (per form field)."""

    ids: list[int] | None = None
    start: date | None = None
    end: date | None = None
    vs: tuple[date, date] | None = None
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 200


def preset_labels() -> dict[str, str]:
    return {"last_7": _("Last 7 days"), "last_28": _("Last 28 days"), "last_90": _("Last 90 days"),
            "last_month": _("Last month"), "custom": _("These dates")}


def selection_message(code: str) -> str:
    return {
        "not_a_number": _("Accounts are chosen by their number, for example accounts=3,7."),
        "duplicate": _("An account is chosen twice: choose each one once."),
        "too_few": ngettext("Choose at least %(num)d accounts to compare.",
                            "Choose at least %(num)d accounts to compare.", core_compare.MIN_ACCOUNTS),
        "too_many": ngettext("Choose at most %(num)d accounts to compare.",
                             "Choose at most %(num)d accounts to compare.", core_compare.MAX_ACCOUNTS),
        "not_visible": _("One of the chosen accounts is not one you can see."),
    }[code]


def range_message(error: RangeError) -> str:
    return {
        "bad_date": _("Dates must be written as YYYY-MM-DD, for example 2026-05-31."),
        "bad_preset": _("Choose one of the listed periods."),
        "reversed": _("This date is before the start date."),
        "future": _("The end date is in the future: choose a day that has passed."),
        "too_long": ngettext("A comparison covers at most %(num)d day.",
                             "A comparison covers at most %(num)d days.", core_compare.MAX_DAYS),
    }.get(error.code, _("This date range cannot be compared."))


def formula_text(formula: str) -> str:
    """The engagement formula in words, under every table and beside every export's number."""
    return " ".join((engagement.formula_words(formula),
                     _("Over the videos posted in the range, with their latest synced counts.")))


def read_request(args, visible_ids: list[int], today: date) -> Asked:
    """The accounts, the range and the range compared with, each checked."""
    asked = Asked()
    if "accounts" in args:
        try:
            asked.ids = core_compare.parse_selection(args.getlist("accounts"), visible_ids)
        except core_compare.SelectionError as error:
            asked.errors["accounts"], asked.status = selection_message(error.code), error.status
    custom = "from" in args or "to" in args
    preset = args.get("preset", "custom" if custom else DEFAULT_PRESET)
    try:
        asked.start, asked.end = core_compare.requested_range(preset, args.get("from"), args.get("to"), today)
    except RangeError as error:
        asked.errors[error.field] = range_message(error)
    vs = args.get("vs", "custom" if "vs_from" in args or "vs_to" in args else "")
    if vs not in VS_CHOICES:
        asked.errors["vs"] = _("Choose one of the listed comparisons.")
    elif vs == "previous" and asked.start:
        asked.vs = comparison.previous_range(asked.start, asked.end)
    elif vs == "custom":
        try:
            asked.vs = core_compare.requested_range("custom", args.get("vs_from"), args.get("vs_to"), today)
        except RangeError as error:
            asked.errors["vs_" + error.field] = range_message(error)
    if asked.errors and asked.status == 200:
        asked.status = 400
    return asked


def _asked(args=None):
    """The person's visible accounts and the checked request (the query, or ``args``)."""
    visible = core_compare.visible_accounts(get_store(), logged_in_person())
    today = datetime.now(ZoneInfo(viewer_zone_name())).date()
    return visible, read_request(request.args if args is None else args, [a.id for a in visible], today)


def _comparison(visible, asked: Asked) -> core_compare.Comparison:
    by_id = {a.id: a for a in visible}
    return core_compare.build_comparison(get_core(), [by_id[i] for i in asked.ids], asked.start,
                                         asked.end, viewer_zone_name(), vs=asked.vs,
                                         formula=engagement.current_formula())


@bp.get("/compare")
def page():
    visible, asked = _asked()
    data = _comparison(visible, asked) if asked.ids and not asked.errors else None
    form = {k: request.args.get(k, "")[:10] for k in ("from", "to", "vs_from", "vs_to", "preset", "vs")}
    chosen = set(asked.ids or []) or _chosen_ids(request.args)
    context = {
        "accounts": [(a.id, account_name(a), a.id in chosen) for a in visible],
        "presets": preset_labels(), "form": form, "errors": asked.errors,
        "preset": form["preset"] or ("custom" if form["from"] or form["to"] else DEFAULT_PRESET),
        "vs": form["vs"] or ("custom" if form["vs_from"] or form["vs_to"] else ""),
        "view": shape(data) if data else None,
        "exports": {fmt: url_for(f".export_{fmt}", **request.args.to_dict(flat=False))
                    for fmt in ("csv", "json")} if data else None,
        "pdf_fields": _pdf_fields(asked) if data else None,
    }
    return render_template("compare/index.html", **context), asked.status


def _chosen_ids(args) -> set[int]:
    """The ids a refused selection named, to keep its boxes ticked."""
    parts = (p.strip() for raw in args.getlist("accounts") for p in raw.split(","))
    return {int(p) for p in parts if p.isascii() and p.isdigit() and len(p) <= 10}


def account_name(account) -> str:
    if account.display_name:
        return account.display_name
    if account.username:
        return "@" + account.username
    return _("Account %(id)s", id=account.id)


def _name(numbers: core_compare.AccountNumbers) -> str:
    return numbers.display_name or ("@" + numbers.username if numbers.username else
                                    _("Account %(id)s", id=numbers.account_id))


def _range_text(start: date, end: date) -> str:
    return _("%(start)s – %(end)s", start=format_date(start, format="medium"),
             end=format_date(end, format="medium"))


def _signed(value) -> str:
    if value is None:
        return "—"
    return ("+" if value > 0 else "") + format_decimal(value)


def _signed_pct(value) -> str:
    return "—" if value is None else ("+" if value > 0 else "") + percent(value)


def _decimal(value, digits: int = 1) -> str:
    return "—" if value is None else format_decimal(round(value, digits))


def number_formats() -> dict:
    """How each compared number is shown: its label and formatter."""
    return {
        "followers_end": (_("Followers at the end"), lambda v: "—" if v is None else format_decimal(v)),
        "net_change": (_("Net change"), _signed),
        "growth_rate": (_("Growth rate"), _signed_pct),
        "videos_posted": (_("Videos posted"), lambda v: format_decimal(v)),
        "cadence": (_("Videos per week"), _decimal),
        "median_views": (_("Median views per video"), lambda v: "—" if v is None else format_decimal(v)),
        "engagement": (_("Engagement rate"), percent),
    }


def _pdf_fields(asked: Asked) -> list[tuple[str, str]]:
    """The checked choice as the Download PDF form's hidden fields (dates spelt out)."""
    fields = [("accounts", ",".join(map(str, asked.ids))), ("preset", "custom"),
              ("from", asked.start.isoformat()), ("to", asked.end.isoformat())]
    if asked.vs:
        fields += [("vs", "custom"), ("vs_from", asked.vs[0].isoformat()), ("vs_to", asked.vs[1].isoformat())]
    return fields


def shape(data: core_compare.Comparison, *, screen: bool = True) -> dict:
    """The page's charts, table, comparison with the second range and top videos
    (``screen=False``: each chart drawn once, at one width, for a PDF)."""
    names = [_name(a) for a in data.accounts]
    formats = number_formats()
    head = [_("Account"), _("Followers at the start"), *(label for label, _f in formats.values())]
    rows = []
    for name, a in zip(names, data.accounts, strict=True):
        start = "—" if a.followers_start is None else format_decimal(a.followers_start)
        if a.start_measured_at is not None:
            measured = a.start_measured_at.astimezone(ZoneInfo(data.tz)).date()
            start += " " + _("(first measured %(date)s)", date=format_date(measured, format="medium"))
        rows.append([name, start, *(fmt(getattr(a, key)) for key, (_l, fmt) in formats.items())])
    return {
        "range": _range_text(data.start, data.end), "days": data.days,
        "table": {"head": head, "rows": rows},
        "charts": [_chart(_("Followers"), names, [a.followers for a in data.accounts], compact,
                          screen=screen),
                   _chart(_("Followers, indexed to 100 at the start of the range"), names,
                          [a.indexed or [] for a in data.accounts], lambda v: _decimal(v), screen=screen,
                          note=_("Not indexed (no follower count, or 0 followers, at the start): %(names)s.",
                                 names=", ".join(n for n, a in zip(names, data.accounts, strict=True)
                                                 if a.indexed is None))
                          if any(a.indexed is None for a in data.accounts) else None)],
        "vs": _vs(data, names, formats) if data.earlier else None,
        "top": [(name, a.top_videos) for name, a in zip(names, data.accounts, strict=True)],
        "formula": formula_text(data.formula),
    }


def _chart(title: str, names: list[str], lines: list[list], y_format, note: str | None = None, *,
           screen: bool = True) -> dict:
    series = [{"name": name, "points": points, **charts.series_style(i)}
              for i, (name, points) in enumerate(zip(names, lines, strict=True))]
    options = {"aria_label": title, "y_format": y_format, "direct_labels": True,
               "x_format": lambda d: format_date(d, format="medium"),
               "empty_text": _("No follower counts were synced in this range.")}
    svg = (charts.responsive(charts.line_chart, series, **options) if screen else
           charts.line_chart(series, **options))
    days = sorted({d for points in lines for d, _v in points})
    by_name = [dict(points) for points in lines]
    table = {"head": [_("Date"), *names],
             "rows": [[format_date(d, format="medium"), *(y_format(p[d]) if d in p else "—" for p in by_name)]
                      for d in days]}
    return {"title": title, "svg": svg, "table": table, "note": note}


def _vs(data: core_compare.Comparison, names: list[str], formats: dict) -> dict:
    deltas = data.deltas()
    rows = []
    for name, a in zip(names, data.accounts, strict=True):
        for key, (label, fmt) in formats.items():
            d = deltas[a.account_id][key]
            change = d.change
            shown = (_signed_pct(change) if key in ("growth_rate", "engagement") else
                     _signed(round(change, 1) if isinstance(change, float) else change))
            rows.append([name, label, fmt(d.current), fmt(d.earlier), shown, _signed_pct(d.pct)])
    return {"range": _range_text(data.earlier.start, data.earlier.end),
            "head": [_("Account"), _("Number"), _("This range"), _("Compared range"), _("Change"),
                     _("Change %")],
            "rows": rows,
            "note": _("The percentage change is against the compared range's value; “—” when that is 0 "
                      "or unknown. A change of a rate is in percentage points.")}


# --- exports ----------------------------------------------------------------------------------


def export_rows(data: core_compare.Comparison):
    """One row per account and range: this range, then the compared one."""
    for period, part in (("current", data), ("compared", data.earlier)):
        if part is None:
            continue
        for a in part.accounts:
            yield {
                "period": period, "date_from": part.start.isoformat(), "date_to": part.end.isoformat(),
                "account_id": a.account_id, "username": a.username, "display_name": a.display_name,
                "followers_start": a.followers_start, "followers_end": a.followers_end,
                "net_change": a.net_change, "growth_rate": _round(a.growth_rate),
                "videos_posted": a.videos_posted, "videos_per_week": _round(a.cadence),
                "median_views": a.median_views, "views": a.views, "likes": a.likes,
                "comments": a.comments, "shares": a.shares, "engagement_rate": _round(a.engagement),
                "engagement_formula": part.formula,
            }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _export_data(fmt: str):
    """The comparison to export, or the refusal in the export's own format:
    JSON for ``.json`` (``error`` and each field's problem), plain text for ``.csv``."""
    visible, asked = _asked()
    if asked.ids is None and not asked.errors:
        asked.errors["accounts"], asked.status = selection_message("too_few"), 400
    if not asked.errors:
        return _comparison(visible, asked), None
    message = " ".join(asked.errors.values())
    if fmt == "json":
        body = json.dumps({"error": message, "fields": asked.errors}, ensure_ascii=False)
        return None, Response(body, status=asked.status, mimetype="application/json")
    return None, Response(message + "\n", status=asked.status, mimetype="text/plain")


def _filename(data: core_compare.Comparison, fmt: str) -> str:
    return f"compare-{data.start.isoformat()}-{data.end.isoformat()}.{fmt}"


@bp.get("/compare.csv")
def export_csv():
    data, refused = _export_data("csv")
    if refused:
        return refused
    response = Response(stream_csv(export_rows(data), CSV_COLUMNS), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{_filename(data, "csv")}"'
    return response


@bp.get("/compare.json")
def export_json():
    data, refused = _export_data("json")
    if refused:
        return refused
    rows = list(export_rows(data))
    tops = {a.account_id: [{"video_id": str(v.video_id), "title": v.title, "create_time": iso(v.create_time),
                            "view_count": v.view_count, "share_url": v.share_url} for v in a.top_videos]
            for a in data.accounts}
    body = {
        "date_from": data.start.isoformat(), "date_to": data.end.isoformat(), "time_zone": data.tz,
        "engagement_formula": data.formula,
        "accounts": [{**r, "top_videos": tops[r["account_id"]]} for r in rows if r["period"] == "current"],
        "compared": [r for r in rows if r["period"] == "compared"] or None,
    }
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{_filename(data, "json")}"'
    return response



# --- the PDF ----------------------------------------------------------------------------------


@bp.post("/compare/pdf")
def make_pdf():
    """Queue the comparison the form carries as a PDF report; the waiting page follows it."""
    visible, asked = _asked(request.form)
    if asked.ids is None and not asked.errors:
        asked.errors["accounts"], asked.status = selection_message("too_few"), 400
    if asked.errors:
        return render_error(asked.status, _("Cannot compare"), " ".join(asked.errors.values()))
    row = get_store().reports.create_comparison(Compared(asked.ids, asked.vs), logged_in_person(),
                                                asked.start, asked.end, str(get_locale() or "en"),
                                                viewer_zone_name())
    get_jobs().request_report(row.id)
    return redirect(url_for("reports.status", token=row.token), code=303)
