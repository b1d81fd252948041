"""TikTok Studio-style exports of a sandbox account, for trying the import offline.

The files have the layout ``dashboard.core.studio_files`` reads (and
``docs/studio-export.md`` describes): a UTF-8 BOM, every field quoted, dates
without a year in the interface's language, ``undefined`` where Studio has
no number, or one sheet per XLSX file with every cell as text. The numbers
are the sandbox's own: the follower count and each video's counts at the
end of each day, so an import agrees with what a sync of the same account
stores.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

from dashboard.core.studio_files import LAYOUTS
from sandbox import data

#: File names as Studio gives them, by kind.
FILE_NAMES = {"overview": "Overview", "follower_history": "FollowerHistory",
              "follower_activity": "FollowerActivity", "viewers": "Viewers", "content": "Content",
              "follower_gender": "FollowerGender", "follower_territories": "FollowerTopTerritories"}
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")
#: Follower activity covers the last week only, as in Studio.
ACTIVITY_DAYS = 7


def day_label(day: date, lang: str) -> str:
    return f"{day.month}月{day.day}日" if lang == "zh" else f"{MONTHS_EN[day.month - 1]} {day.day}"


def _end(day: date) -> float:
    return datetime.combine(day + timedelta(days=1), time(0), UTC).timestamp() - 1


def export_rows(account_key: str, *, today: date, days: int, lang: str) -> dict[str, list[list]]:
    """Rows (header first) of each kind of file, the last day being yesterday."""
    account = data.get_account(account_key)
    last = today - timedelta(days=1)
    span = [last - timedelta(days=n) for n in range(days - 1, -1, -1)]
    header = {kind: [spec[3 if lang == "zh" else 2] for spec in layout]
              for kind, layout in LAYOUTS.items()}
    out = {kind: [list(h)] for kind, h in header.items()}
    previous = data.profile_stats(account, _end(span[0] - timedelta(days=1)))["follower_count"]
    for index, day in enumerate(span):
        t, before = _end(day), _end(day - timedelta(days=1))
        posted = [v for v in account.videos if v.create_time <= t]
        delta = {k: sum(getattr(data, k)(v, t) - getattr(data, k)(v, before) for v in posted)
                 for k in ("view_count", "like_count", "comment_count", "share_count")}
        views = delta["view_count"]
        followers = data.profile_stats(account, t)["follower_count"]
        label = day_label(day, lang)
        out["overview"].append([label, views, views // 25, max(delta["like_count"], 0),
                                delta["comment_count"], delta["share_count"]])
        out["follower_history"].append([label, followers, followers - previous])
        viewers = views // 3
        out["viewers"].append([label, "undefined" if index == 0 else viewers, viewers * 4 // 5,
                               viewers - viewers * 4 // 5])
        if index >= days - ACTIVITY_DAYS:
            for hour in range(24):
                out["follower_activity"].append(
                    [label, hour, followers // 50 * (24 - abs(20 - hour)) // 24])
        previous = followers
    first_t, last_t = _end(span[0] - timedelta(days=1)), _end(last)
    window = f"{day_label(span[0], lang)} - {day_label(last, lang)}"
    for video in sorted((v for v in account.videos if first_t < v.create_time <= last_t
                         and (v.deleted_at is None or v.deleted_at > last_t)),
                        key=lambda v: v.create_time):
        posted_day = datetime.fromtimestamp(video.create_time, UTC).date()
        c = data.counts(video, last_t)
        out["content"].append([window, video.title, f"https://www.tiktok.com/@{account.username}/video/"
                               f"{video.id}", day_label(posted_day, lang), c["like_count"],
                               c["comment_count"], c["share_count"], c["view_count"]])
    genders = (("女性", "Female"), ("男性", "Male"), ("其他", "Other"))
    for (zh, en), share in zip(genders, ("58%", "40%", "2%"), strict=True):
        out["follower_gender"].append([zh if lang == "zh" else en, share])
    for code, share in (("US", "41%"), ("GB", "12%"), ("CN", "9%"), ("DE", "6%"), ("BR", "5%")):
        out["follower_territories"].append([code, share])
    return out


def csv_bytes(rows: list[list]) -> bytes:
    """As Studio writes them: a BOM, every field quoted, no line break at the end."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return ("\ufeff" + buffer.getvalue().rstrip("\n")).encode("utf-8")


def xlsx_bytes(kind: str, rows: list[list]) -> bytes:
    # why: openpyxl is slow to import and only this format needs it.
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(FILE_NAMES[kind])
    for row in rows:
        sheet.append([str(cell) for cell in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def export_files(account_key: str, *, today: date, days: int = 90, lang: str = "en",
                 fmt: str = "csv") -> dict[str, bytes]:
    """File name -> content of every Studio file of the sandbox account."""
    rows = export_rows(account_key, today=today, days=days, lang=lang)
    if fmt == "xlsx":
        return {f"{FILE_NAMES[kind]}.xlsx": xlsx_bytes(kind, r) for kind, r in rows.items()}
    return {f"{FILE_NAMES[kind]}.csv": csv_bytes(r) for kind, r in rows.items()}
