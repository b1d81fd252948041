"""TikTok Studio exports: read strictly, without Flask or a database.

TikTok Studio (the creator's own analytics) downloads CSV or XLSX files,
alone or zipped: ``Overview``, ``FollowerHistory``, ``FollowerActivity``,
``Viewers``, ``Content``, ``FollowerGender``, ``FollowerTopTerritories``
(see ``docs/studio-export.md`` for what is known of each and from where).
A file's kind is told by its header row, in English or Simplified Chinese,
never by its name.

Dates carry no year ("November 3", "11月3日"). The year is inferred with one
rule: the rows of a daily file run oldest to newest and end at the file's
latest day, which is the latest date with that month and day **no later
than today** in the account's time zone; every other row is the latest date
with its month and day no later than that last day (so a file spans at most
365 days, as Studio's exports do). A post time without a year is the latest
such date no later than today. A full date (``2026-11-03``, or a date cell
in XLSX) is taken as it is, and one after today is an error.

Anything that does not fit stops the whole upload with a
:class:`StudioFileError` naming the file, line and column: nothing of it is
stored. Nothing is ever evaluated: CSV through :mod:`csv`, XLSX through
openpyxl in read-only mode, any formula (or text starting with ``=``)
refused; every ZIP's uncompressed size is checked before it is opened.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

#: Lines a CSV or rows a sheet may hold: a year of hourly activity is 8,760.
MAX_ROWS = 20_000
#: Files a ZIP (or an upload) may hold.
MAX_FILES = 20
#: A ZIP member may be this many times smaller than its content, at most.
MAX_RATIO = 200

KINDS = ("overview", "follower_history", "follower_activity", "viewers", "content",
         "follower_gender", "follower_territories")
DAILY_KINDS = ("overview", "follower_history", "viewers")

# Field name -> (type, English header, Chinese header). Types: day, hour, count,
# share (a fraction or a percentage), text, link, post_time.
LAYOUTS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "overview": (
        ("day", "day", "Date", "日期"),
        ("video_views", "count", "Video Views", "视频观看次数"),
        ("profile_views", "count", "Profile Views", "主页访问次数"),
        ("likes", "count", "Likes", "点赞数"),
        ("comments", "count", "Comments", "评论数"),
        ("shares", "count", "Shares", "分享次数"),
    ),
    "follower_history": (
        ("day", "day", "Date", "日期"),
        ("followers", "count", "Followers", "粉丝数"),
        ("difference", "signed", "Difference in followers from previous day", "与前一天相比的粉丝变化"),
    ),
    "follower_activity": (
        ("day", "day", "Date", "日期"),
        ("hour", "hour", "Hour", "小时"),
        ("active_followers", "count", "Active followers", "活跃粉丝数"),
    ),
    "viewers": (
        ("day", "day", "Date", "日期"),
        ("total_viewers", "count", "Total Viewers", "观众总数"),
        ("new_viewers", "count", "New Viewers", "新观众数"),
        ("returning_viewers", "count", "Returning Viewers", "回访观众数"),
    ),
    "content": (
        ("time", "text", "Time", "时间"),
        ("title", "text", "Video title", "视频标题"),
        ("link", "link", "Video link", "视频链接"),
        ("post_time", "post_time", "Post time", "发布时间"),
        ("likes", "count", "Total likes", "总点赞数"),
        ("comments", "count", "Total comments", "总评论数"),
        ("shares", "count", "Total shares", "总分享次数"),
        ("views", "count", "Total views", "总观看次数"),
    ),
    "follower_gender": (
        ("label", "text", "Gender", "性别"),
        ("share", "share", "Distribution", "分布"),
    ),
    "follower_territories": (
        ("label", "text", "Top territories", "热门地区"),
        ("share", "share", "Distribution", "分布"),
    ),
}

MONTHS = {name: i + 1 for i, names in enumerate(
    ("january jan", "february feb", "march mar", "april apr", "may", "june jun", "july jul",
     "august aug", "september sep sept", "october oct", "november nov", "december dec"))
    for name in names.split()}
_EN_DAY = re.compile(r"^([a-z]+)\.?\s+(\d{1,2})$|^(\d{1,2})\s+([a-z]+)\.?$")
_ZH_DAY = re.compile(r"^(\d{1,2})\s*月\s*(\d{1,2})\s*日$")
_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$")
_NUMBER = re.compile(r"^-?\d{1,3}(?:,\d{3})+$|^-?\d+$")
_SHARE = re.compile(r"^(\d+(?:\.\d+)?)\s*(%?)$")
_LINK = re.compile(r"^https://(?:www\.|m\.)?tiktok\.com/@([A-Za-z0-9._-]{1,64})/video/(\d{1,32})/?(?:\?.*)?$")
MISSING = ("", "undefined", "-", "--")


class StudioFileError(Exception):
    """A file that cannot be imported. ``code`` names the problem (the web
    layer words it); ``line`` and ``column`` are 1-based, 0 when unknown."""

    def __init__(self, code: str, file: str, line: int = 0, column: int = 0, **details):
        super().__init__(f"{code} in {file} at line {line}, column {column}: {details}")
        self.code, self.file, self.line, self.column, self.details = code, file, line, column, details


@dataclass
class StudioFile:
    """One parsed file: its kind, hash and rows (each with its line number)."""

    name: str
    kind: str
    sha256: str
    language: str
    rows: list[dict] = field(default_factory=list)

    @property
    def days(self) -> list[date]:
        return sorted({r["day"] for r in self.rows if r.get("day")})

    @property
    def first_day(self) -> date | None:
        days = self.days or sorted(r["post_day"] for r in self.rows if r.get("post_day"))
        return days[0] if days else None

    @property
    def last_day(self) -> date | None:
        days = self.days or sorted(r["post_day"] for r in self.rows if r.get("post_day"))
        return days[-1] if days else None


@dataclass(frozen=True)
class Limits:
    #: Bytes one file may hold, uncompressed (STUDIO_MAX_FILE_MB).
    file_bytes: int = 5 * 1024 * 1024
    #: Bytes all files of one upload may hold, uncompressed.
    upload_bytes: int = 40 * 1024 * 1024


DEFAULT_LIMITS = Limits()


def read_upload(files: list[tuple[str, bytes]], *, today: date, username: str | None,
                limits: Limits | None = None) -> list[StudioFile]:
    """Every Studio file in ``files`` (name, bytes), ZIPs opened; raises
    :class:`StudioFileError` at the first problem. ``username`` is the
    account's: a video link naming another one is refused."""
    limits = limits or DEFAULT_LIMITS
    members = _expand(files, limits)
    if not members:
        raise StudioFileError("empty_upload", "")
    parsed = [read_file(name, data, today=today, username=username, limits=limits)
              for name, data in members]
    return parsed


def _expand(files: list[tuple[str, bytes]], limits: Limits) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    total = 0
    for name, data in files:
        name = _base(name)
        if name.lower().endswith(".zip"):
            for member, content in _unzip(name, data, limits):
                total += len(content)
                out.append((member, content))
        else:
            if len(data) > limits.file_bytes:
                raise StudioFileError("file_too_large", name, limit=limits.file_bytes)
            total += len(data)
            out.append((name, data))
        if total > limits.upload_bytes:
            raise StudioFileError("upload_too_large", name, limit=limits.upload_bytes)
        if len(out) > MAX_FILES:
            raise StudioFileError("too_many_files", name, limit=MAX_FILES)
    return out


def _base(name: str) -> str:
    return (name or "").replace("\\", "/").rsplit("/", 1)[-1][:200] or "upload"


def _open_zip(name: str, data: bytes, limit: int) -> zipfile.ZipFile:
    """A ZIP whose declared content fits ``limit``: checked before anything is read."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise StudioFileError("bad_zip", name) from error
    infos = archive.infolist()
    size = sum(i.file_size for i in infos)
    if len(infos) > 200 or size > limit:
        raise StudioFileError("file_too_large", name, limit=limit)
    for info in infos:
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise StudioFileError("file_too_large", name, limit=limit)
    return archive


def _unzip(name: str, data: bytes, limits: Limits) -> list[tuple[str, bytes]]:
    archive = _open_zip(name, data, limits.upload_bytes)
    out = []
    for info in archive.infolist():
        member = _base(info.filename)
        if info.is_dir() or info.filename.startswith("__MACOSX/") or member.startswith("."):
            continue
        if not member.lower().endswith((".csv", ".xlsx")):
            raise StudioFileError("not_studio", f"{name}/{member}")
        if info.file_size > limits.file_bytes:
            raise StudioFileError("file_too_large", f"{name}/{member}", limit=limits.file_bytes)
        try:
            content = _read_member(archive, info, limits.file_bytes)
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise StudioFileError("bad_zip", name) from error
        if content is None:
            raise StudioFileError("file_too_large", f"{name}/{member}", limit=limits.file_bytes)
        out.append((f"{name}/{member}", content))
    return out


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes | None:
    """The member's bytes, reading at most ``limit`` + 1 (a lying header is caught too)."""
    with archive.open(info) as stream:
        content = stream.read(limit + 1)
    return None if len(content) > limit else content


def read_file(name: str, data: bytes, *, today: date, username: str | None,
              limits: Limits | None = None) -> StudioFile:
    """One CSV or XLSX file, parsed and checked."""
    limits = limits or DEFAULT_LIMITS
    if len(data) > limits.file_bytes:
        raise StudioFileError("file_too_large", name, limit=limits.file_bytes)
    if data[:2] == b"PK":
        rows = _xlsx_rows(name, data, limits)
    else:
        rows = _csv_rows(name, data)
    return _parse(name, hashlib.sha256(data).hexdigest(), rows, today=today, username=username)


# --- rows out of CSV and XLSX ------------------------------------------------------------


def _csv_rows(name: str, data: bytes) -> list[tuple[int, list]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise StudioFileError("not_studio", name, 1) from error
    if "\x00" in text:
        raise StudioFileError("not_studio", name, 1)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        for row in reader:
            if len(rows) > MAX_ROWS:
                raise StudioFileError("too_many_rows", name, reader.line_num, limit=MAX_ROWS)
            if row:
                rows.append((reader.line_num, row))
    except csv.Error as error:  # a quoted field cut off: the last line is the broken one
        tail = text.splitlines()[-1] if text.splitlines() else ""
        column = len(next(csv.reader([tail]), [])) or 1
        raise StudioFileError("truncated", name, reader.line_num, column) from error
    return rows


def _xlsx_rows(name: str, data: bytes, limits: Limits) -> list[tuple[int, list]]:
    # why: openpyxl is imported only when an XLSX arrives (it is slow to import).
    import openpyxl

    _open_zip(name, data, limits.file_bytes).close()  # the uncompressed size, before openpyxl
    try:
        formulas = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        values = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken file
        raise StudioFileError("not_studio", name) from error
    try:
        if not values.worksheets:
            raise StudioFileError("not_studio", name)
        for number, row in enumerate(formulas.worksheets[0].iter_rows(values_only=True), start=1):
            for column, value in enumerate(row, start=1):
                if isinstance(value, str) and value.startswith("="):
                    raise StudioFileError("formula", name, number, column)
            if number > MAX_ROWS:
                raise StudioFileError("too_many_rows", name, number, limit=MAX_ROWS)
        rows = []
        for number, row in enumerate(values.worksheets[0].iter_rows(values_only=True), start=1):
            cells = list(row)
            while cells and cells[-1] is None:
                cells.pop()
            if cells:
                rows.append((number, ["" if c is None else c for c in cells]))
        return rows
    finally:
        formulas.close()
        values.close()


# --- rows into figures -------------------------------------------------------------------


def detect(header: list) -> tuple[str, str] | None:
    """(kind, language) of a header row, or None."""
    cells = [_clean(c).casefold() for c in header]
    for kind, layout in LAYOUTS.items():
        for language, index in (("en", 2), ("zh", 3)):
            if cells == [spec[index].casefold() for spec in layout]:
                return kind, language
    return None


def _clean(value) -> str:
    return str(value).replace("\ufeff", "").strip()


def _parse(name: str, sha256: str, rows: list[tuple[int, list]], *, today: date,
           username: str | None) -> StudioFile:
    if not rows:
        raise StudioFileError("not_studio", name, 1)
    line, header = rows[0]
    found = detect(header)
    if found is None:
        known = {spec[i].casefold() for layout in LAYOUTS.values() for spec in layout for i in (2, 3)}
        cells = [_clean(c).casefold() for c in header]
        if not any(c in known for c in cells):
            raise StudioFileError("not_studio", name, line, 1)
        column = next((i for i, c in enumerate(cells, start=1) if c not in known), len(cells))
        raise StudioFileError("unknown_layout", name, line, column, header=_clean(header[column - 1])
                              if column <= len(header) else "")
    kind, language = found
    layout = LAYOUTS[kind]
    result = StudioFile(name=name, kind=kind, sha256=sha256, language=language)
    for line, cells in rows[1:]:
        if len(cells) != len(layout):
            raise StudioFileError("truncated", name, line, min(len(cells), len(layout)) + 1)
        row: dict = {"line": line}
        for column, ((field_name, kind_of, _en, _zh), cell) in enumerate(zip(layout, cells, strict=True),
                                                                         start=1):
            value = _value(kind_of, cell, name, line, column, today=today, username=username)
            if kind_of == "link":
                row["video_id"] = value
            elif kind_of == "post_time":
                row["post_day"] = value
            else:
                row[field_name] = value
        result.rows.append(row)
    if kind in (*DAILY_KINDS, "follower_activity"):
        _date_rows(result, today)
    return result


def _value(kind_of: str, cell, name: str, line: int, column: int, *, today: date, username):
    if kind_of == "text":  # a title may start with "=": text here, neutralised in exports
        return _clean(cell)[:2000]
    if isinstance(cell, str) and cell.startswith("="):
        raise StudioFileError("formula", name, line, column)
    if kind_of in ("count", "signed"):
        return _number(cell, name, line, column, signed=kind_of == "signed")
    if kind_of == "hour":
        hour = _number(cell, name, line, column)
        if hour is None or hour > 23:
            raise StudioFileError("bad_hour", name, line, column, value=_clean(cell)[:40])
        return hour
    if kind_of == "share":
        return _share(cell, name, line, column)
    if kind_of == "link":
        match = _LINK.match(_clean(cell))
        if match is None:
            raise StudioFileError("bad_link", name, line, column, value=_clean(cell)[:100])
        if username and match.group(1).casefold() != username.casefold():
            raise StudioFileError("other_account", name, line, column, username=match.group(1))
        return match.group(2)
    if kind_of == "post_time":
        return _day(cell, name, line, column, today=today, latest=today)
    # "day": month and day only; the year is set by _date_rows.
    return _day(cell, name, line, column, today=today, latest=None)


def _number(cell, name: str, line: int, column: int, *, signed: bool = False) -> int | None:
    if isinstance(cell, bool):
        raise StudioFileError("bad_number", name, line, column, value=str(cell))
    if isinstance(cell, int):
        value = cell
    elif isinstance(cell, float):
        if not cell.is_integer():
            raise StudioFileError("bad_number", name, line, column, value=str(cell))
        value = int(cell)
    else:
        text = _clean(cell).replace("\u00a0", "").replace(" ", "")
        if text.casefold() in MISSING:
            return None
        if not _NUMBER.match(text) or len(text) > 24:
            raise StudioFileError("bad_number", name, line, column, value=text[:40])
        value = int(text.replace(",", ""))
    if value < 0 and not signed:
        raise StudioFileError("negative", name, line, column, value=value)
    if abs(value) > 2**62:
        raise StudioFileError("bad_number", name, line, column, value=str(value)[:40])
    return value


def _share(cell, name: str, line: int, column: int) -> float | None:
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        value = float(cell)
    else:
        text = _clean(cell)
        if text.casefold() in MISSING:
            return None
        match = _SHARE.match(text)
        if match is None:
            raise StudioFileError("bad_number", name, line, column, value=text[:40])
        value = float(match.group(1)) / (100 if match.group(2) else 1)
    if not 0 <= value <= 1:
        raise StudioFileError("bad_number", name, line, column, value=str(cell)[:40])
    return value


def _day(cell, name: str, line: int, column: int, *, today: date, latest: date | None):
    """A full date (checked against today), or (month, day) when ``latest`` is
    None, or the latest date with that month and day no later than ``latest``."""
    if isinstance(cell, datetime):
        cell = cell.date()
    if isinstance(cell, date):
        full = cell
    else:
        text = _clean(cell)
        month_day = _month_day(text.casefold())
        if month_day is not None:
            return month_day if latest is None else _latest(month_day, latest, name, line, column)
        match = _ISO_DAY.match(text)
        if match is None:
            raise StudioFileError("bad_date", name, line, column, value=text[:40])
        try:
            full = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError as error:
            raise StudioFileError("bad_date", name, line, column, value=text[:40]) from error
    if full > today:
        raise StudioFileError("future_date", name, line, column, value=full.isoformat())
    return full


def _month_day(text: str) -> tuple[int, int] | None:
    match = _ZH_DAY.match(text)
    if match:
        month, day = int(match.group(1)), int(match.group(2))
    else:
        match = _EN_DAY.match(text)
        if not match:
            return None
        word, number = (match.group(1), match.group(2)) if match.group(1) else (match.group(4),
                                                                                  match.group(3))
        if word not in MONTHS:
            return None
        month, day = MONTHS[word], int(number)
    try:
        date(2024, month, day)  # a leap year: 29 February is a day
    except ValueError:
        return None
    return month, day


def _latest(month_day: tuple[int, int], latest: date, name: str, line: int, column: int) -> date:
    """The latest date with this month and day that is no later than ``latest``."""
    month, day = month_day
    for year in range(latest.year, latest.year - 9, -1):
        try:
            candidate = date(year, month, day)
        except ValueError:  # 29 February in a common year
            continue
        if candidate <= latest:
            return candidate
    raise StudioFileError("bad_date", name, line, column)


def _date_rows(result: StudioFile, today: date) -> None:
    """Give each daily row its year (the rule in the module's docstring) and
    check the rows run day after day, oldest first, within 366 days."""
    if not result.rows:
        return
    last_row = result.rows[-1]
    last = last_row["day"] if isinstance(last_row["day"], date) else _latest(
        last_row["day"], today, result.name, last_row["line"], 1)
    previous = None
    for row in result.rows:
        value = row["day"]
        day = value if isinstance(value, date) else _latest(value, last, result.name, row["line"], 1)
        if day > today:
            raise StudioFileError("future_date", result.name, row["line"], 1, value=day.isoformat())
        if (last - day) > timedelta(days=366):
            raise StudioFileError("bad_date", result.name, row["line"], 1, value=day.isoformat())
        # One row a day, every day (hourly activity: 24 rows a day), oldest first.
        steps = (0, 1) if result.kind == "follower_activity" else (1,)
        if previous is not None and (day - previous).days not in steps:
            raise StudioFileError("out_of_order", result.name, row["line"], 1, value=day.isoformat())
        row["day"] = previous = day
