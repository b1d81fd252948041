"""Research queries: checked before anything is sent, split into windows, estimated.

A query is the body TikTok's ``/v2/research/video/query/`` takes (``query``,
``start_date``, ``end_date``, ``is_random``, ``max_count``) plus ``fields``,
except that ``end_date`` may be any distance after ``start_date``: a run
splits the range into windows of at most :data:`WINDOW_DAYS` days.

``end_date`` is taken as inclusive: TikTok's own examples and the
integrators' tools query one day as ``start_date == end_date`` (the API
reference marks this unconfirmed), so windows never overlap and a day is
never asked for twice. Records are keyed by id in storage anyway.

Every problem is a :class:`Problem` with the path of the offending value
(``query.and[0].field_values``) and a code; the web layer and the CLI turn
codes into words. Nothing here imports Flask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from tiktok_research_api import RESEARCH_VIDEO_FIELDS

#: TikTok refuses windows where end_date is more than 30 days after start_date;
#: 30 days, both ends included, stays inside that whatever TikTok counts.
WINDOW_DAYS = 30
#: Longest range one query may cover (about five years, 61 windows).
MAX_RANGE_DAYS = 5 * 366
MAX_PAGE = 100
MAX_VALUES = 100
MAX_VALUE_LENGTH = 200
#: The Research API's data starts in 2016 (TikTok's launch outside China).
EARLIEST = date(2016, 1, 1)

GROUPS = ("and", "or", "not")
OPERATIONS = ("EQ", "IN", "GT", "GTE", "LT", "LTE")
VIDEO_LENGTHS = ("SHORT", "MID", "LONG", "EXTRA_LONG")
#: The documented condition fields and the operations each takes.
CONDITION_FIELDS = {
    "create_date": OPERATIONS,
    "username": ("EQ", "IN"),
    "region_code": ("EQ", "IN"),
    "video_id": ("EQ", "IN"),
    "hashtag_name": ("EQ", "IN"),
    "keyword": ("EQ", "IN"),
    "music_id": ("EQ", "IN"),
    "effect_id": ("EQ", "IN"),
    "video_length": ("EQ", "IN"),
}
_FORMATS = {
    "create_date": re.compile(r"\d{8}"),
    "username": re.compile(r"[A-Za-z0-9._]{1,64}"),
    "region_code": re.compile(r"[A-Z]{2}"),
    "video_id": re.compile(r"\d{1,20}"),
    "music_id": re.compile(r"\d{1,20}"),
    "effect_id": re.compile(r"\d{1,20}"),
    "hashtag_name": re.compile(r"[^\s#]{1,100}"),
}
TOP_KEYS = ("query", "start_date", "end_date", "is_random", "max_count", "fields")
RETURN_FIELDS = RESEARCH_VIDEO_FIELDS
DEFAULT_FIELDS = ("id", "create_time", "username", "region_code", "video_description", "view_count",
                  "like_count", "comment_count", "share_count", "hashtag_names")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a query: where (``path``), what (``code``), and details."""

    path: str
    code: str
    detail: dict = field(default_factory=dict)

    def english(self) -> str:
        return f"{self.path}: {ENGLISH[self.code].format(**self.detail)}"


#: English wording for the terminal; the web layer has its own, translated.
ENGLISH = {
    "unknown_key": "unknown key {key!r}",
    "required": "is required",
    "not_object": "must be an object",
    "not_list": "must be a list",
    "not_string": "must be a string",
    "not_bool": "must be true or false",
    "not_int": "must be a whole number",
    "empty_query": "needs at least one condition in and, or or not",
    "unknown_field": "{field!r} is not a condition field",
    "bad_operation": "{field} does not take the operation {operation!r}",
    "one_value": "this operation takes exactly one value",
    "no_values": "needs at least one value",
    "too_many_values": "takes at most {max} values",
    "bad_value": "{value!r} is not a valid value here",
    "bad_date": "must be a date as YYYYMMDD",
    "date_too_early": "must be on or after 20160101",
    "end_before_start": "must not be before start_date",
    "range_too_long": "the range may cover at most {max_days} days",
    "count_range": "must be from {low} to {high}",
    "unknown_return_field": "{field!r} is not a video field",
    "no_fields": "choose at least one field",
}


@dataclass(frozen=True)
class VideoQuery:
    """A checked query: what a run stores and sends, window by window."""

    query: dict
    start: date
    end: date
    is_random: bool = False
    max_count: int = MAX_PAGE
    fields: tuple[str, ...] = DEFAULT_FIELDS

    def as_json(self) -> dict:
        """The same shape as the input (QUERY.json), normalised."""
        return {"query": self.query, "start_date": ymd(self.start), "end_date": ymd(self.end),
                "is_random": self.is_random, "max_count": self.max_count, "fields": list(self.fields)}

    def windows(self) -> list[tuple[date, date]]:
        return split_windows(self.start, self.end)

    def body(self, start: date, end: date) -> dict:
        """The request body for one window (without cursor or search_id)."""
        body = {"query": self.query, "start_date": ymd(start), "end_date": ymd(end),
                "max_count": self.max_count}
        if self.is_random:
            body["is_random"] = True
        return body


def ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def parse_ymd(value: Any) -> date | None:
    """``YYYYMMDD`` (or ``YYYY-MM-DD``, what a date input sends) as a date, else None."""
    if not isinstance(value, str):
        return None
    text = value.strip().replace("-", "")
    if not re.fullmatch(r"\d{8}", text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def split_windows(start: date, end: date) -> list[tuple[date, date]]:
    """``[start, end]`` (both included) as consecutive windows of at most 30 days."""
    windows = []
    while start <= end:
        last = min(end, start + timedelta(days=WINDOW_DAYS - 1))
        windows.append((start, last))
        start = last + timedelta(days=1)
    return windows


def halves(start: date, end: date) -> list[tuple[date, date]]:
    """A window split in two (for a window TikTok answered with HTTP 500)."""
    middle = start + timedelta(days=(end - start).days // 2)
    return [(start, middle), (middle + timedelta(days=1), end)]


def check_condition(condition: Any, path: str) -> list[Problem]:
    """The problems of one ``{"operation", "field_name", "field_values"}``."""
    if not isinstance(condition, dict):
        return [Problem(path, "not_object")]
    problems = [Problem(f"{path}.{k}", "unknown_key", {"key": k}) for k in condition
                if k not in ("operation", "field_name", "field_values")]
    name, operation, values = (condition.get(k) for k in ("field_name", "operation", "field_values"))
    if name is None:
        problems.append(Problem(f"{path}.field_name", "required"))
    elif name not in CONDITION_FIELDS:
        problems.append(Problem(f"{path}.field_name", "unknown_field", {"field": str(name)[:50]}))
    if operation is None:
        problems.append(Problem(f"{path}.operation", "required"))
    elif name in CONDITION_FIELDS and operation not in CONDITION_FIELDS[name]:
        problems.append(Problem(f"{path}.operation", "bad_operation",
                                {"field": name, "operation": str(operation)[:20]}))
    problems.extend(_check_values(name, operation, values, f"{path}.field_values"))
    return problems


def _check_values(name, operation, values, path) -> list[Problem]:
    if values is None:
        return [Problem(path, "required")]
    if not isinstance(values, list):
        return [Problem(path, "not_list")]
    if not values:
        return [Problem(path, "no_values")]
    if len(values) > MAX_VALUES:
        return [Problem(path, "too_many_values", {"max": MAX_VALUES})]
    if operation in OPERATIONS and operation != "IN" and len(values) != 1:
        return [Problem(path, "one_value")]
    for index, value in enumerate(values):
        where = f"{path}[{index}]"
        if not isinstance(value, str):
            return [Problem(where, "not_string")]
        if not _value_ok(name, value):
            return [Problem(where, "bad_value", {"value": value[:50]})]
    return []


def _value_ok(name, value: str) -> bool:
    if not value.strip() or len(value) > MAX_VALUE_LENGTH:
        return False
    if name == "create_date":
        return parse_ymd(value) is not None and "-" not in value
    if name == "video_length":
        return value in VIDEO_LENGTHS
    pattern = _FORMATS.get(name)
    return pattern is None or bool(pattern.fullmatch(value))


def check_video_query(raw: Any) -> tuple[VideoQuery | None, list[Problem]]:
    """A :class:`VideoQuery` from a QUERY.json object, or every problem found."""
    if not isinstance(raw, dict):
        return None, [Problem("$", "not_object")]
    problems = [Problem(str(k)[:50], "unknown_key", {"key": str(k)[:50]}) for k in raw if k not in TOP_KEYS]
    problems.extend(_check_query(raw.get("query")))
    start, end, date_problems = _check_dates(raw.get("start_date"), raw.get("end_date"))
    problems.extend(date_problems)
    is_random = raw.get("is_random", False)
    if not isinstance(is_random, bool):
        problems.append(Problem("is_random", "not_bool"))
    max_count = raw.get("max_count", MAX_PAGE)
    if isinstance(max_count, bool) or not isinstance(max_count, int):
        problems.append(Problem("max_count", "not_int"))
    elif not 1 <= max_count <= MAX_PAGE:
        problems.append(Problem("max_count", "count_range", {"low": 1, "high": MAX_PAGE}))
    fields, field_problems = _check_fields(raw.get("fields", list(DEFAULT_FIELDS)))
    problems.extend(field_problems)
    if problems:
        return None, problems
    return VideoQuery(query=_clean_query(raw["query"]), start=start, end=end, is_random=is_random,
                      max_count=max_count, fields=fields), []


def _check_query(query) -> list[Problem]:
    if query is None:
        return [Problem("query", "required")]
    if not isinstance(query, dict):
        return [Problem("query", "not_object")]
    problems = [Problem(f"query.{k}", "unknown_key", {"key": str(k)[:50]}) for k in query if k not in GROUPS]
    for group in GROUPS:
        conditions = query.get(group, [])
        if not isinstance(conditions, list):
            problems.append(Problem(f"query.{group}", "not_list"))
            continue
        for index, condition in enumerate(conditions):
            problems.extend(check_condition(condition, f"query.{group}[{index}]"))
    if not problems and not any(query.get(g) for g in GROUPS):
        problems.append(Problem("query", "empty_query"))
    return problems


def _clean_query(query: dict) -> dict:
    return {g: [dict(operation=c["operation"], field_name=c["field_name"], field_values=c["field_values"])
                for c in query[g]] for g in GROUPS if query.get(g)}


def _check_dates(raw_start, raw_end) -> tuple[date | None, date | None, list[Problem]]:
    problems = []
    start, end = parse_ymd(raw_start), parse_ymd(raw_end)
    for name, raw, day in (("start_date", raw_start, start), ("end_date", raw_end, end)):
        if raw is None:
            problems.append(Problem(name, "required"))
        elif day is None:
            problems.append(Problem(name, "bad_date"))
        elif day < EARLIEST:
            problems.append(Problem(name, "date_too_early"))
    if not problems and end < start:
        problems.append(Problem("end_date", "end_before_start"))
    elif not problems and (end - start).days + 1 > MAX_RANGE_DAYS:
        problems.append(Problem("end_date", "range_too_long", {"max_days": MAX_RANGE_DAYS}))
    return start, end, problems


def _check_fields(fields) -> tuple[tuple[str, ...], list[Problem]]:
    if not isinstance(fields, list):
        return (), [Problem("fields", "not_list")]
    if not fields:
        return (), [Problem("fields", "no_fields")]
    for index, name in enumerate(fields):
        if not isinstance(name, str):
            return (), [Problem(f"fields[{index}]", "not_string")]
        if name not in RETURN_FIELDS:
            return (), [Problem(f"fields[{index}]", "unknown_return_field", {"field": name[:50]})]
    chosen = list(dict.fromkeys(fields))
    if "id" not in chosen:
        chosen.insert(0, "id")  # rows are keyed by id: without it a resumed run could not tell duplicates
    return tuple(chosen), []


@dataclass(frozen=True)
class Estimate:
    """What a query costs at least, against what is left of today's quota."""

    windows: int
    min_requests: int
    requests_left: int
    records_left: int

    @property
    def fits_today(self) -> bool:
        return self.min_requests <= self.requests_left
