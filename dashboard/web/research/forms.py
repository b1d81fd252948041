"""The query builder's form: rows of conditions to a query and back, and the
words for every problem the core finds (next to the field it concerns)."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import ngettext

from dashboard.core.research_query import (
    CONDITION_FIELDS,
    DEFAULT_FIELDS,
    GROUPS,
    RETURN_FIELDS,
    Problem,
    check_video_query,
)

#: Condition rows shown at least, and at most (more is a hand-edited form).
MIN_ROWS = 3
MAX_ROWS = 20

def group_labels() -> dict:
    return {"and": _("must match (and)"), "or": _("may match (or)"), "not": _("must not match (not)")}


def field_labels() -> dict:
    return {
        "create_date": _("Posted on (YYYYMMDD)"), "username": _("Username"), "region_code": _("Region code"),
        "video_id": _("Video id"), "hashtag_name": _("Hashtag"), "keyword": _("Keyword in description"),
        "music_id": _("Music id"), "effect_id": _("Effect id"),
        "video_length": _("Length (SHORT, MID, LONG, EXTRA_LONG)"),
    }


def operation_labels() -> dict:
    return {"EQ": _("is"), "IN": _("is one of"), "GT": _("after"), "GTE": _("on or after"),
            "LT": _("before"), "LTE": _("on or before")}


def problem_text(problem: Problem) -> str:
    """A problem in the reader's language."""
    d = problem.detail
    texts = {
        "unknown_key": lambda: _("Unknown key %(key)s.", key=d.get("key", "")),
        "required": lambda: _("This is required."),
        "not_object": lambda: _("This must be an object."),
        "not_list": lambda: _("This must be a list."),
        "not_string": lambda: _("This must be text."),
        "not_bool": lambda: _("This must be true or false."),
        "not_int": lambda: _("This must be a whole number."),
        "empty_query": lambda: _("Add at least one condition."),
        "unknown_field": lambda: _("%(field)s is not a field you can search on.", field=d.get("field", "")),
        "bad_operation": lambda: _("%(field)s cannot be compared with %(operation)s.",
                                   field=d.get("field", ""), operation=d.get("operation", "")),
        "one_value": lambda: _("Give exactly one value, or choose “is one of”."),
        "no_values": lambda: _("Give at least one value."),
        "too_many_values": lambda: _("Give at most %(max)s values.", max=d.get("max", "")),
        "bad_value": lambda: _("“%(value)s” is not a valid value for this field.", value=d.get("value", "")),
        "bad_date": lambda: _("Give a date as YYYY-MM-DD."),
        "date_too_early": lambda: _("The Research API has no data before 2016."),
        "end_before_start": lambda: _("The end date is before the start date."),
        "range_too_long": lambda: ngettext("A query may cover at most %(num)d day.",
                                           "A query may cover at most %(num)d days.",
                                           int(d.get("max_days") or 0)),
        "count_range": lambda: _("Give a number from %(low)s to %(high)s.",
                                 low=d.get("low"), high=d.get("high")),
        "unknown_return_field": lambda: _("%(field)s is not a video field.", field=d.get("field", "")),
        "no_fields": lambda: _("Choose at least one field to return."),
    }
    return texts.get(problem.code, lambda: problem.english())()


def lookup_problem_text(code: str) -> str:
    return {
        "bad_video_id": _("A video id is a number of up to 20 digits."),
        "bad_username": _("A username has letters, digits, dots and underscores only (up to 64)."),
        "bad_search_term": _("Give a search term of 1 to 50 characters."),
        "bad_date": _("Give a date as YYYY-MM-DD."),
        "date_too_early": _("The ad library starts on 2022-10-01."),
        "end_before_start": _("The end date is before the start date."),
        "bad_country": _("Give a two-letter country code, or ALL."),
        "bad_advertiser": _("An advertiser id is a number."),
    }.get(code, _("This value is not accepted."))


def empty_rows(count: int = MIN_ROWS) -> list[dict]:
    return [{"group": "and", "field": "", "op": "EQ", "values": ""} for _ in range(count)]


def rows_from_spec(spec: dict) -> list[dict]:
    """A saved query's conditions as form rows."""
    rows = []
    for group in GROUPS:
        for condition in (spec.get("query") or {}).get(group, []):
            rows.append({"group": group, "field": condition["field_name"], "op": condition["operation"],
                         "values": ", ".join(condition["field_values"])})
    return rows + empty_rows(max(1, MIN_ROWS - len(rows)))


def form_state(spec: dict | None = None) -> dict:
    """What the builder shows: rows, dates, fields, options (from a saved query or empty)."""
    spec = spec or {}
    return {
        "rows": rows_from_spec(spec) if spec else empty_rows(),
        "start_date": _dashed(spec.get("start_date", "")), "end_date": _dashed(spec.get("end_date", "")),
        "fields": list(spec.get("fields") or DEFAULT_FIELDS), "is_random": bool(spec.get("is_random")),
        "max_count": spec.get("max_count", 100), "name": "",
    }


def _dashed(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:]}" if re.fullmatch(r"\d{8}", value or "") else value or ""


def read_form(form) -> tuple[dict, dict, dict]:
    """(state to re-render, the query as JSON, where each condition came from)."""
    rows = []
    for index in range(MAX_ROWS):
        if f"cond-{index}-field" not in form:
            break
        rows.append({key: form.get(f"cond-{index}-{key}", default)
                     for key, default in (("group", "and"), ("field", ""), ("op", "EQ"), ("values", ""))})
    query: dict[str, list] = {}
    origin: dict[str, int] = {}
    for index, row in enumerate(rows):
        if not row["field"] and not row["values"].strip():
            continue
        group = row["group"] if row["group"] in GROUPS else "and"
        values = [v.strip() for v in re.split(r"[,\n]", row["values"]) if v.strip()]
        if row["field"] == "region_code":
            values = [v.upper() for v in values]
        if row["field"] == "create_date":
            values = [v.replace("-", "") for v in values]
        query.setdefault(group, []).append({"operation": row["op"], "field_name": row["field"],
                                            "field_values": values})
        origin[f"query.{group}[{len(query[group]) - 1}]"] = index
    max_count = form.get("max_count", "100").strip()
    spec = {
        "query": query, "start_date": form.get("start_date", "").replace("-", ""),
        "end_date": form.get("end_date", "").replace("-", ""), "is_random": form.get("is_random") == "on",
        "max_count": int(max_count) if max_count.isdigit() else max_count,
        "fields": [f for f in form.getlist("fields") if f],
    }
    state = {"rows": rows or empty_rows(), "start_date": form.get("start_date", ""),
             "end_date": form.get("end_date", ""), "fields": spec["fields"], "is_random": spec["is_random"],
             "max_count": max_count, "name": form.get("name", "")[:200]}
    return state, spec, origin


def check_form(form):
    """The checked query (or None), the state to show, and errors keyed by form field."""
    state, spec, origin = read_form(form)
    query, problems = check_video_query(spec)
    errors: dict[str, str] = {}
    for problem in problems:
        errors.setdefault(_form_field(problem.path, origin), problem_text(problem))
    return query, state, errors


def _form_field(path: str, origin: dict[str, int]) -> str:
    """``query.and[0].field_values[1]`` -> ``cond-3-values`` (the row it came from)."""
    match = re.match(r"(query\.\w+\[\d+\])(?:\.(\w+))?", path)
    if match and match.group(1) in origin:
        part = {"field_name": "field", "operation": "op"}.get(match.group(2) or "", "values")
        return f"cond-{origin[match.group(1)]}-{part}"
    if path.startswith("query"):
        return "conditions"
    return re.split(r"[.\[]", path)[0]


__all__ = ["CONDITION_FIELDS", "RETURN_FIELDS", "field_labels", "group_labels", "operation_labels",
           "check_form", "form_state", "lookup_problem_text"]
