"""TikTok Studio import: files read strictly, a preview, then stored with their source.

The files are the sandbox's own Studio-style exports (``flask sandbox
studio-export``), and hand-broken copies of them.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dashboard.commands.studio_export import csv_bytes, export_files, export_rows
from dashboard.core import summaries
from dashboard.core.studio_files import Limits, StudioFileError, read_upload
from dashboard.storage.models import ProfileSnapshot, StudioDaily, StudioImport
from sandbox import ACCOUNTS
from tests.flow_helpers import csrf_token
from tests.sync_helpers import open_id, store

TODAY = date(2026, 12, 2)
CREATOR = ACCOUNTS["creator"].username


def _csv(*lines: str) -> bytes:
    return ("\ufeff" + "\n".join(lines)).encode()


def _zip(files: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _read(name: str, content: bytes, today: date = TODAY, **kwargs):
    return read_upload([(name, content)], today=today, username=CREATOR, **kwargs)


# --- reading files -----------------------------------------------------------------------


def test_each_kind_of_studio_file_is_told_by_its_header_in_english_csv():
    files = export_files("creator", today=TODAY, days=70)
    parsed = {f.kind: f for f in read_upload(list(files.items()), today=TODAY, username=CREATOR)}
    assert set(parsed) == {"overview", "follower_history", "follower_activity", "viewers", "content",
                           "follower_gender", "follower_territories"}
    history = parsed["follower_history"]
    assert (history.first_day, history.last_day) == (TODAY - timedelta(days=70), TODAY - timedelta(days=1))
    assert parsed["viewers"].rows[0]["total_viewers"] is None  # "undefined"
    assert all(r["video_id"].isdigit() for r in parsed["content"].rows)
    assert len(parsed["follower_activity"].rows) == 7 * 24


def test_chinese_xlsx_exports_read_like_the_english_csv_ones():
    english = export_files("creator", today=TODAY, days=60)
    chinese = export_files("creator", today=TODAY, days=60, lang="zh", fmt="xlsx")
    wanted = ("Overview", "FollowerHistory", "Content")
    en = {f.kind: f for f in read_upload([(f"{n}.csv", english[f"{n}.csv"]) for n in wanted],
                                          today=TODAY, username=CREATOR)}
    zh = {f.kind: f for f in read_upload([(f"{n}.xlsx", chinese[f"{n}.xlsx"]) for n in wanted],
                                          today=TODAY, username=CREATOR)}
    assert {f.language for f in zh.values()} == {"zh"}
    for kind in en:
        assert [_no_line(r) for r in zh[kind].rows] == [_no_line(r) for r in en[kind].rows]


def _no_line(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("line", "title", "time")}


def test_the_year_is_that_of_the_latest_day_no_later_than_today():
    content = _csv('"Date","Followers","Difference in followers from previous day"',
                   '"December 30","1,200","3"', '"December 31","1,204","4"', '"January 1","1,210","6"')
    rows = _read("FollowerHistory.csv", content, today=date(2027, 1, 5))[0].rows
    assert [r["day"] for r in rows] == [date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1)]
    assert [r["followers"] for r in rows] == [1200, 1204, 1210]
    # The same file read in March of the year after: still the closest past dates.
    rows = _read("FollowerHistory.csv", content, today=date(2027, 3, 1))[0].rows
    assert rows[-1]["day"] == date(2027, 1, 1)


def test_chinese_month_day_dates_are_read():
    content = _csv('"日期","粉丝数","与前一天相比的粉丝变化"', '"11月30日","10","0"', '"12月1日","12","2"')
    rows = _read("FollowerHistory.csv", content)[0].rows
    assert [r["day"] for r in rows] == [date(2026, 11, 30), date(2026, 12, 1)]


OVERVIEW = '"Date","Video Views","Profile Views","Likes","Comments","Shares"'


def test_a_csv_title_that_starts_with_an_equals_sign_is_text_not_a_formula():
    content = _csv('"Time","Video title","Video link","Post time","Total likes","Total comments",'
                   '"Total shares","Total views"',
                   f'"x","=SUM(1) is my title","https://www.tiktok.com/@{CREATOR}/video/7300000000000000001",'
                   '"November 3","1","2","3","4"')
    parsed = _read("Content.csv", content)
    assert "=SUM(1) is my title" in repr(parsed)


@pytest.mark.parametrize(("name", "content", "code", "line", "column"), [
    ("notes.csv", _csv('"Name","Age"', '"a","1"'), "not_studio", 1, 1),
    ("Overview.csv", _csv('"Date","Video Views","Profile Views","Likes","Comments","Saves"'),
     "unknown_layout", 1, 6),
    ("Overview.csv", _csv(OVERVIEW, '"November 3","1","2","3","4","5"', '"November 4","1","2'),
     "truncated", 3, 3),
    ("Overview.csv", _csv(OVERVIEW, '"November 3","1","2","3"'), "truncated", 2, 5),
    ("Overview.csv", _csv(OVERVIEW, '"2026-12-05","1","2","3","4","5"'), "future_date", 2, 1),
    ("Overview.csv", _csv(OVERVIEW, '"November 3","1","-2","3","4","5"'), "negative", 2, 3),
    ("Overview.csv", _csv(OVERVIEW, '"November 3","1","2","lots","4","5"'), "bad_number", 2, 4),
    ("Overview.csv", _csv(OVERVIEW, '"November 3","=1+1","2","3","4","5"'), "formula", 2, 2),
    ("Overview.csv", _csv(OVERVIEW, '"Smarch 3","1","2","3","4","5"'), "bad_date", 2, 1),
    ("Overview.csv", _csv(OVERVIEW, '"November 4","1","2","3","4","5"', '"November 3","1","2","3","4","5"'),
     "out_of_order", 3, 1),
    ("Content.csv", _csv('"Time","Video title","Video link","Post time","Total likes","Total comments",'
                         '"Total shares","Total views"',
                         '"x","t","https://www.tiktok.com/@someone.else/video/7300000000000000001",'
                         '"November 3","1","2","3","4"'), "other_account", 2, 3),
    ("Overview.csv", b"\xff\xfe\x00junk", "not_studio", 1, 0),
])
def test_a_bad_file_is_refused_naming_the_file_line_and_column(name, content, code, line, column):
    with pytest.raises(StudioFileError) as caught:
        _read(name, content)
    assert (caught.value.code, caught.value.file, caught.value.line, caught.value.column) == (
        code, name, line, column)


def test_an_xlsx_with_a_formula_cell_is_refused_and_never_evaluated():
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Date", "Followers", "Difference in followers from previous day"])
    sheet.append(["November 3", "=10*1000", "0"])
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(StudioFileError) as caught:
        _read("FollowerHistory.xlsx", buffer.getvalue())
    assert (caught.value.code, caught.value.line, caught.value.column) == ("formula", 2, 2)


def test_a_zip_of_exports_is_read_and_a_zip_bomb_is_refused_before_it_is_read():
    files = export_files("creator", today=TODAY, days=60)
    parsed = _read("Followers_creator.zip", _zip({"FollowerHistory.csv": files["FollowerHistory.csv"],
                                                 "FollowerActivity.csv": files["FollowerActivity.csv"]}))
    assert [f.name for f in parsed] == ["Followers_creator.zip/FollowerHistory.csv",
                                        "Followers_creator.zip/FollowerActivity.csv"]
    bomb = _zip({"Overview.csv": OVERVIEW.encode() + b"\n" + b" " * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    with pytest.raises(StudioFileError) as caught:
        _read("Overview.zip", bomb, limits=Limits(file_bytes=1024 * 1024, upload_bytes=4 * 1024 * 1024))
    assert caught.value.code == "file_too_large"


# --- the page flow and what is stored ------------------------------------------------------


def _account(app) -> int:
    return store(app).accounts.by_open_id(open_id()).id


def _snapshots(app, account_id):
    with store(app).session() as db:
        return list(db.execute(select(ProfileSnapshot.taken_at, ProfileSnapshot.source,
                                      ProfileSnapshot.follower_count)
                               .where(ProfileSnapshot.account_id == account_id)
                               .order_by(ProfileSnapshot.taken_at)).all())


def _count(app, model) -> int:
    with store(app).session() as db:
        return db.scalar(select(func.count()).select_from(model))


def _upload(client, files: dict[str, bytes]):
    data = {"csrf_token": csrf_token(client, "/import"),
            "files": [(io.BytesIO(content), name) for name, content in files.items()]}
    return client.post("/import/preview", data=data, content_type="multipart/form-data")


def _confirm(client, preview_page: str):
    token = re.search(r'name="token" value="([^"]+)"', preview_page).group(1)
    return client.post("/import/confirm", data={"csrf_token": csrf_token(client, "/import"),
                                                "token": token})


def _today() -> date:
    return datetime.now(UTC).date()


def test_an_import_previews_then_extends_the_growth_history_back_before_the_first_sync(logged_in, app):
    account_id = _account(app)
    first_sync = _snapshots(app, account_id)[0].taken_at
    files = export_files("creator", today=_today(), days=70)
    chosen = {"Overview.csv": files["Overview.csv"], "FollowerHistory.csv": files["FollowerHistory.csv"]}
    preview = _upload(logged_in, {"Studio.zip": _zip(chosen)})
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "@" + CREATOR in page and "Studio.zip/FollowerHistory.csv" in page
    assert _count(app, StudioImport) == 0  # a preview stores nothing

    done = _confirm(logged_in, page)
    assert done.status_code == 302
    snapshots = _snapshots(app, account_id)
    imported = [s for s in snapshots if s.source == "studio_import"]
    assert len(imported) == 70 and imported[0].taken_at < first_sync - timedelta(days=60)
    assert _count(app, StudioDaily) == 70
    with app.app_context():
        history = summaries.load(app.extensions["core"], account_id, "UTC").profile["follower_count"]
    assert history[0][0] == imported[0].taken_at  # the chart's series starts at the import

    overview = logged_in.get("/").get_data(as_text=True)
    assert "from a TikTok Studio import (Studio.zip/FollowerHistory.csv" in overview
    exported = logged_in.get("/export/history.csv").get_data(as_text=True).splitlines()
    assert exported[0].split(",")[-2:] == ["source", "source_file"]
    assert sum(",studio_import,Studio.zip/FollowerHistory.csv" in line for line in exported) == 70


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_whole_sandbox_export_imports_as_a_new_user_makes_it(logged_in, app, runner, tmp_path, fmt):
    """``flask sandbox studio-export`` as the README says, every file uploaded at once."""
    out = tmp_path / "studio"
    done = runner.invoke(args=["sandbox", "studio-export", "--account", "creator", "--out", str(out),
                               "--format", fmt])
    assert done.exit_code == 0, done.output
    files = {path.name: path.read_bytes() for path in sorted(out.iterdir())}
    assert len(files) == 7 and any(name.startswith("Content") for name in files)
    preview = _upload(logged_in, files)
    assert preview.status_code == 200, preview.get_data(as_text=True)[-2000:]
    assert _confirm(logged_in, preview.get_data(as_text=True)).status_code == 302
    account_id = _account(app)
    first_sync = min(s.taken_at for s in _snapshots(app, account_id) if s.source == "api")
    imported = [s for s in _snapshots(app, account_id) if s.source == "studio_import"]
    assert imported and imported[0].taken_at < first_sync - timedelta(days=300)  # 365 days back
    again = _upload(logged_in, files).get_data(as_text=True)
    assert 'name="token"' not in again  # every file known: nothing to confirm


def test_importing_the_same_file_twice_stores_nothing_new(logged_in, app):
    files = {"FollowerHistory.csv": export_files("creator", today=_today(), days=60)["FollowerHistory.csv"]}
    _confirm(logged_in, _upload(logged_in, files).get_data(as_text=True))
    before = len(_snapshots(app, _account(app)))
    again = _upload(logged_in, files)
    page = again.get_data(as_text=True)
    assert "this file was imported before" in page and 'name="token"' not in page
    assert len(_snapshots(app, _account(app))) == before
    assert _count(app, StudioImport) == 1


def test_a_day_the_api_synced_keeps_the_synced_count(logged_in, app):
    account_id = _account(app)
    synced = [s for s in _snapshots(app, account_id) if s.source == "api"]
    # A file that ends today, the day of the sync: that day is the API's.
    rows = export_rows("creator", today=_today() + timedelta(days=1), days=5, lang="en")
    rows["follower_history"][-1][1] = 1  # a different count for the synced day
    page = _upload(logged_in, {"FollowerHistory.csv": csv_bytes(rows["follower_history"])})
    assert page.status_code == 200
    _confirm(logged_in, page.get_data(as_text=True))
    today = [s for s in _snapshots(app, account_id) if s.taken_at.date() == _today()]
    assert [s.source for s in today] == ["api"] * len(synced)
    assert 1 not in [s.follower_count for s in today]
    assert len([s for s in _snapshots(app, account_id) if s.source == "studio_import"]) == 4


def test_a_bad_file_among_good_ones_stores_nothing_and_is_named(logged_in, app):
    files = export_files("creator", today=_today(), days=60)
    broken = files["FollowerHistory.csv"][:-2]  # the last quoted field cut off
    response = _upload(logged_in, {"Overview.csv": files["Overview.csv"], "FollowerHistory.csv": broken})
    assert response.status_code == 400
    assert "FollowerHistory.csv, line 61, column 3" in response.get_data(as_text=True)
    assert _count(app, StudioImport) == 0 and _count(app, StudioDaily) == 0


def test_another_accounts_export_is_refused(logged_in, app):
    content = export_files("second", today=_today(), days=60)["Content.csv"]
    response = _upload(logged_in, {"Content.csv": content})
    assert response.status_code == 400
    assert "Content.csv, line 2, column 3" in response.get_data(as_text=True)


def test_a_preview_cannot_be_confirmed_twice(logged_in, app):
    page = _upload(logged_in, {"Overview.csv": export_files("creator", today=_today(), days=60)[
        "Overview.csv"]}).get_data(as_text=True)
    assert _confirm(logged_in, page).status_code == 302
    assert _confirm(logged_in, page).status_code == 400


def test_an_upload_over_the_cap_gets_413_and_stores_nothing(make_app):
    from tests.conftest import login

    app = make_app(STUDIO_MAX_UPLOAD_MB=1, MAX_CONTENT_LENGTH=1024 * 1024)
    client = app.test_client()
    login(client)
    response = _upload(client, {"Overview.csv": OVERVIEW.encode() + b"\n" + b"x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "larger than 1 MB" in response.get_data(as_text=True)
    assert _count(app, StudioImport) == 0


def test_the_import_page_needs_a_login(client):
    assert client.get("/import").status_code == 401


def test_the_sandbox_writes_studio_exports_to_try_the_import(app, runner, tmp_path):
    result = runner.invoke(args=["sandbox", "studio-export", "--out", str(tmp_path / "out"),
                                 "--lang", "zh", "--format", "xlsx", "--days", "61"])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "FollowerHistory.xlsx" in written and len(written) == 7
    parsed = read_upload([("FollowerHistory.xlsx", (tmp_path / "out" / "FollowerHistory.xlsx").read_bytes())],
                         today=_today(), username=CREATOR)
    assert parsed[0].language == "zh" and len(parsed[0].rows) == 61


def test_a_sync_on_a_day_an_import_filled_replaces_the_imported_count(logged_in, app, sandbox_state):
    from tests.sync_helpers import sync_at

    account_id = _account(app)
    rows = export_rows("creator", today=_today() + timedelta(days=2), days=3, lang="en")
    # Tomorrow is in the future: the file ends today, whose count the sync holds; so
    # import only the days up to yesterday, then sync "tomorrow" over an imported day.
    with store(app).session() as db:
        db.query(ProfileSnapshot).filter(ProfileSnapshot.account_id == account_id).delete()
    page = _upload(logged_in, {"FollowerHistory.csv": csv_bytes(rows["follower_history"][:-1])})
    _confirm(logged_in, page.get_data(as_text=True))
    imported = [s for s in _snapshots(app, account_id) if s.source == "studio_import"]
    assert len(imported) == 2
    sync_at(app, sandbox_state, account_id, imported[-1].taken_at.timestamp() - 3600)
    last_day = [s for s in _snapshots(app, account_id)
                if imported[-1].taken_at - timedelta(hours=24) < s.taken_at <= imported[-1].taken_at]
    assert [s.source for s in last_day] == ["api"]


def test_a_preview_is_bound_to_the_person_who_made_it(logged_in, app):
    from tests.conftest import login

    page = _upload(logged_in, {"Overview.csv": export_files("creator", today=_today(), days=60)[
        "Overview.csv"]}).get_data(as_text=True)
    stranger = app.test_client()
    login(stranger, account="second")
    assert _confirm(stranger, page).status_code == 400
    assert _count(app, StudioImport) == 0
    assert _confirm(logged_in, page).status_code == 302  # still theirs to confirm
