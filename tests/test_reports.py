"""PDF reports: the Download PDF button, its waiting page, the download, and
``flask report``; the PDF's text is read back with pypdf.

PDFs take a second or more each: the module makes the history once and
each language's report once, and the tests read those.
"""

from __future__ import annotations

import dataclasses
import io
import re
import time
from datetime import UTC, date, datetime, timedelta

import pypdf
import pytest

from app import create_app
from dashboard.core import reports as core_reports
from dashboard.storage.models import Report
from sandbox import SandboxState, create_sandbox_app
from tests.conftest import (
    SECRET,
    TEST_MEDIA_URL_TTL,
    LiveServer,
    _database_url,
    _empty_database,
    login,
)
from tests.flow_helpers import csrf_token
from tests.sync_helpers import DAY, HOUR, open_id, store, sync_at

#: Daily syncs from 40 to 33 days ago and the last three days: a gap in between.
SYNC_DAYS = (40, 38, 36, 34, 33, 2, 1, 0)


def settings_for(tmp, server) -> dict:
    return {
        "TESTING": True, "SECRET_KEY": SECRET, "DATABASE_URL": _database_url(tmp),
        "TIKTOK_CLIENT_KEY": None, "TIKTOK_AUTH_URL": server.url + "/v2/auth/authorize/",
        "TIKTOK_API_BASE": server.url, "SANDBOX_DB": str(tmp / "sandbox.sqlite3"),
        "AUTH_RATE_LIMIT": "1000 per minute", "SERVER_NAME": "localhost:5000",
        "QUEUE_IMMEDIATE": True, "SYNC_NOW_INTERVAL_SECONDS": 0, "STORE_PICTURES": False,
        "SYNC_ON_CONNECT": False, "QUEUE_PATH": str(tmp / "queue.sqlite3"),
        "MEDIA_PATH": str(tmp / "media"),
    }


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """An account with a history (and a gap), a logged-in client, and one PDF per language."""
    tmp = tmp_path_factory.mktemp("reports")
    state = SandboxState(tmp / "sandbox.sqlite3")
    state.settings.update(media_url_ttl=TEST_MEDIA_URL_TTL)
    server = LiveServer(create_sandbox_app(state))
    app = create_app(settings_for(tmp, server))
    client = app.test_client()
    assert login(client).status_code == 200
    account_id = store(app).accounts.by_open_id(open_id()).id
    now = time.time()
    for days in SYNC_DAYS:
        assert sync_at(app, state, account_id, now - days * DAY - HOUR).ok
    state.clock.reset()
    pdfs = {}
    for lang in ("en", "zh"):
        client.post("/language", data={"lang": lang, "csrf_token": csrf_token(client)})
        started = time.perf_counter()
        answer = client.post("/reports/make", data={"preset": "last_28", "csrf_token": csrf_token(client)})
        pdfs[lang] = {"answer": answer, "seconds": time.perf_counter() - started}
    client.post("/language", data={"lang": "en", "csrf_token": csrf_token(client)})
    yield {"app": app, "client": client, "account_id": account_id, "pdfs": pdfs, "state": state,
           "server": server}
    server.stop()
    state.close()
    _empty_database(app)


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def downloaded(reported, lang: str) -> bytes:
    client, answer = reported["client"], reported["pdfs"][lang]["answer"]
    assert answer.status_code == 303
    status = client.get(answer.headers["Location"])
    assert status.status_code == 200
    link = re.search(r'href="(/reports/file/[^"]+\.pdf)"', status.get_data(as_text=True))
    assert link, status.get_data(as_text=True)
    response = client.get(link.group(1))
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return response.data


def fonts_of(data: bytes) -> set[str]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    names = set()
    for page in reader.pages:
        for font in (page.get("/Resources") or {}).get("/Font", {}).values():
            names.add(str(font.get_object().get("/BaseFont")))
    return names


def test_the_overview_and_analytics_offer_the_download_pdf_button(reported):
    client = reported["client"]
    for path in ("/", "/analytics"):
        page = client.get(path).get_data(as_text=True)
        assert 'action="/reports/make"' in page and "Download PDF" in page


def test_the_pdf_report_holds_the_accounts_numbers_as_the_overview_shows_them(reported):
    app, account_id = reported["app"], reported["account_id"]
    text = pdf_text(downloaded(reported, "en"))
    account = store(app).accounts.get(account_id)
    today = datetime.now(UTC).date()
    assert "TikTok report: Lin Mei 林美" in text
    assert f"{today - timedelta(days=27):%B} {(today - timedelta(days=27)).day}, " in text
    assert "(28 days)" in text
    overview = reported["client"].get("/").get_data(as_text=True)
    followers = re.search(r'title="([\d,]+)">([^<]+)</div>', overview)  # the first stat card
    assert followers.group(1) == f"{account.follower_count:,}"
    assert followers.group(2) in text  # the same compact number as the page
    assert "Engagement rate by views, weighted" in " ".join(text.split())
    assert "Average views by posting weekday and hour" in text
    assert "Dates and hours in the time zone UTC." in text
    pages = len(pypdf.PdfReader(io.BytesIO(downloaded(reported, "en"))).pages)
    assert f"1 / {pages}" in text and f"{pages} / {pages}" in text


def test_the_key_numbers_are_the_change_within_the_range_and_the_one_before(reported):
    app, account_id = reported["app"], reported["account_id"]
    snaps = store(app).history.profile_snapshots(account_id)
    today = datetime.now(UTC).date()
    with app.app_context():
        data = core_reports.build_report(app.extensions["core"], account_id,
                                         today - timedelta(days=27), today, "UTC")
    followers = next(m for m in data.metrics if m.key == "followers")
    # The range starts 27 days ago: its baseline is the last sync before (33 days ago).
    assert followers.level == snaps[-1].follower_count
    assert followers.change == snaps[-1].follower_count - snaps[4].follower_count
    # The 28 days before: from the sync 40 days ago (the history's first) to 33 days ago.
    assert followers.previous == snaps[4].follower_count - snaps[0].follower_count
    assert data.syncs_in_range == 3


def test_the_chinese_report_is_in_chinese_with_the_glyphs_embedded(reported):
    data = downloaded(reported, "zh")
    text = pdf_text(data)
    assert "关键数据" in text and "林美" in text and "互动率" in text
    assert "Key numbers" not in text
    assert any("CJK" in name or "WenQuanYi" in name or "MicroHei" in name for name in fonts_of(data)), \
        fonts_of(data)


def test_a_range_without_synced_data_says_so_inside_the_pdf(reported, tmp_path):
    app = reported["app"]
    today = datetime.now(UTC).date()
    out = tmp_path / "gap.pdf"
    result = app.test_cli_runner().invoke(args=[
        "report", "--account", open_id(), "--from", (today - timedelta(days=25)).isoformat(),
        "--to", (today - timedelta(days=10)).isoformat(), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "no stored data" in result.output
    text = pdf_text(out.read_bytes())
    assert "There is no stored data for this date range" in text


@pytest.mark.parametrize(("form", "message"), [
    ({"preset": "custom", "from": "2026-13-01", "to": "2026-12-01"}, "Dates must be written as YYYY-MM-DD"),
    ({"preset": "custom", "from": "yesterday", "to": ""}, "Dates must be written as YYYY-MM-DD"),
    ({"preset": "custom", "from": "DAYS-1", "to": "DAYS-5"}, "The start date is after the end date."),
    ({"preset": "custom", "from": "DAYS-1", "to": "DAYS+3"}, "The end date is in the future"),
    ({"preset": "custom", "from": "DAYS-400", "to": "DAYS-1"},
     "The stored history of this account starts on"),
])
def test_an_invalid_or_too_long_range_gets_a_clear_message_and_a_400(reported, form, message):
    client = reported["client"]
    today = datetime.now(UTC).date()
    for key, value in form.items():
        if value.startswith("DAYS"):
            form[key] = (today + timedelta(days=int(value[4:]))).isoformat()
    before = _report_count(reported["app"])
    answer = client.post("/reports/make", data={**form, "csrf_token": csrf_token(client)})
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert _report_count(reported["app"]) == before, "nothing is queued"


def test_an_unknown_preset_is_a_400(reported):
    client = reported["client"]
    answer = client.post("/reports/make", data={"preset": "<x>", "csrf_token": csrf_token(client)})
    assert answer.status_code == 400


def test_the_command_refuses_a_bad_range_in_words(reported, tmp_path):
    runner = reported["app"].test_cli_runner()
    result = runner.invoke(args=["report", "--account", open_id(), "--from", "2026-05-02",
                                 "--to", "2026-05-01", "--out", str(tmp_path / "x.pdf")])
    assert result.exit_code != 0
    assert "--from is after --to" in result.output
    assert not (tmp_path / "x.pdf").exists()
    unknown = runner.invoke(args=["report", "--account", "nobody", "--from", "2026-05-01",
                                  "--to", "2026-05-02", "--out", str(tmp_path / "x.pdf")])
    assert unknown.exit_code != 0 and "No connected account" in unknown.output


def test_a_report_is_only_downloaded_by_the_person_who_may_see_the_account(reported):
    app = reported["app"]
    with store(app).session() as db:
        token = db.query(Report).filter(Report.status == "ok").first().token
    assert reported["client"].get(f"/reports/file/{token}.pdf").status_code == 200
    stranger = app.test_client()
    assert stranger.get(f"/reports/file/{token}.pdf").status_code == 404
    assert stranger.get(f"/reports/status/{token}").status_code == 404
    assert login(stranger, account="second").status_code == 200
    assert stranger.get(f"/reports/file/{token}.pdf").status_code == 404
    assert reported["client"].get("/reports/status/" + "x" * 80).status_code == 404


def test_the_waiting_page_refreshes_itself_until_the_worker_is_done(reported):
    app, client = reported["app"], reported["client"]
    today = date.today()
    row = store(app).reports.create(reported["account_id"], _person(app, reported), today, today,
                                    "en", "UTC")  # queued, not yet taken by a worker
    page = client.get(f"/reports/status/{row.token}")
    assert page.status_code == 200
    assert page.headers["Refresh"] == "2"
    assert "Your report is queued" in page.get_data(as_text=True)
    assert client.get(f"/reports/file/{row.token}.pdf").status_code == 302, "no file yet: back to waiting"
    store(app).reports.mark_running(row.id)
    assert "Making your report" in client.get(f"/reports/status/{row.token}").get_data(as_text=True)


def test_a_report_the_worker_cannot_make_says_so(reported, monkeypatch):
    app, client = reported["app"], reported["client"]

    def broken(data, lang):
        raise RuntimeError("font cache gone")

    monkeypatch.setattr(app.extensions["jobs"].renderer, "report_pdf", broken)
    answer = client.post("/reports/make", data={"preset": "last_7", "csrf_token": csrf_token(client)})
    page = client.get(answer.headers["Location"])
    assert "Refresh" not in page.headers
    assert "The report could not be made" in page.get_data(as_text=True)


def test_the_download_form_needs_the_csrf_token_and_a_login(reported):
    app = reported["app"]
    assert reported["client"].post("/reports/make", data={"preset": "last_7"}).status_code == 400
    assert app.test_client().get("/reports/").status_code == 401


def _report_count(app) -> int:
    with store(app).session() as db:
        return db.query(Report).count()


def _person(app, reported) -> int:
    return store(app).accounts.get(reported["account_id"]).person_id


def test_titles_and_names_from_tiktok_are_text_in_the_report_never_markup(reported):
    app, account_id = reported["app"], reported["account_id"]
    today = datetime.now(UTC).date()
    hostile = '<script>alert(1)</script><img src="https://evil.example/x">'
    core = app.extensions["core"]
    with app.app_context():
        data = core_reports.build_report(core, account_id, today - timedelta(days=27), today, "UTC")
    data = dataclasses.replace(data, display_name=hostile, bio=hostile, top_videos=[
        dataclasses.replace(v, title=hostile) for v in data.top_videos])
    html = app.extensions["jobs"].renderer.report_html(data, "en")
    assert "<script>" not in html and 'src="https://evil.example' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
