"""The e-mailed digest: a real SMTP server on loopback (aiosmtpd) receives it.

Each test reads the MIME parts as a mail client would: the plain and HTML
parts, the PNG charts the HTML shows, the attached PDF (read with pypdf), and
the headers (``List-Unsubscribe``, ``Message-ID``, ``Date``).
"""

from __future__ import annotations

import email
import email.policy
import io
import re
import socket
import time
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime

import pypdf
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

import config
from dashboard.core import digest as core_digest
from dashboard.core.mail import Mailer, build_message, parse_smtp_url, valid_address
from dashboard.storage.models import DigestSend, MailAddress, Report
from tests.conftest import login
from tests.flow_helpers import csrf_token
from tests.sync_helpers import DAY, open_id, store, sync_at


class Sink:
    """An SMTP server's message handler: keeps what arrives, or refuses it when told."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []
        self.refuse: str | None = None

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.original_content,
                                                      policy=email.policy.default))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
    controller.start()
    sink.url = f"smtp://127.0.0.1:{controller.port}"
    yield sink
    controller.stop()


@pytest.fixture
def mail_app(make_app, smtp, sandbox_state):
    """A logged-in person whose account has two syncs, e-mail through the loopback server."""
    app = make_app(SMTP_URL=smtp.url, MAIL_FROM="reports@dashboard.example", SYNC_ON_CONNECT=False,
                   PUBLIC_BASE_URL="https://dash.example.org")
    client = app.test_client()
    assert login(client).status_code == 200
    account_id = store(app).accounts.by_open_id(open_id()).id
    now = time.time()
    # One sync inside last week (Monday to Sunday): the weekly digest has numbers.
    for days in (20, date.today().weekday() + 3, 1):
        assert sync_at(app, sandbox_state, account_id, now - days * DAY).ok
    sandbox_state.clock.reset()
    return app, client, account_id


def save_settings(client, account_id: int, **fields):
    data = {"email": "creator@example.com", "lang": "en", "tz": "UTC", "frequency": "weekly",
            "weekday": "0", "hour": "8", **fields, "csrf_token": csrf_token(client, "/settings/")}
    return client.post(f"/settings/email/{account_id}", data=data)


def confirm_by_link(client, message) -> None:
    link = re.search(r"https://dash\.example\.org(/settings/confirm/\S+)", message.get_content())
    assert link, message.get_content()
    page = client.get(link.group(1))
    assert page.status_code == 200 and "Confirm" in page.get_data(as_text=True)
    done = client.post(link.group(1) + "/done", data={"csrf_token": csrf_token(client, link.group(1))})
    assert done.status_code == 200 and "is confirmed" in done.get_data(as_text=True)


def subscribed(mail_app, smtp, **fields):
    app, client, account_id = mail_app
    assert save_settings(client, account_id, **fields).status_code == 303
    assert len(smtp.messages) == 1, "the confirmation e-mail"
    confirm_by_link(client, smtp.messages.pop())
    return store(app).mail.address(store(app).accounts.get(account_id).person_id, account_id)


def run_digest(app, *args):
    return app.test_cli_runner().invoke(args=["report", "digest", *args])


def parts(message) -> dict[str, list]:
    found: dict[str, list] = {}
    for part in message.walk():
        if not part.is_multipart():
            found.setdefault(part.get_content_type(), []).append(part)
    return found


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)


# --- confirmation --------------------------------------------------------------------------


def test_nothing_is_sent_to_an_address_before_its_link_is_opened(mail_app, smtp):
    app, client, account_id = mail_app
    assert save_settings(client, account_id).status_code == 303
    assert len(smtp.messages) == 1
    confirmation = smtp.messages[0]
    assert confirmation["To"] == "creator@example.com"
    assert "Confirm" in confirmation["Subject"]
    assert "is not confirmed yet" in client.get("/settings/").get_data(as_text=True)

    result = run_digest(app)
    assert result.exit_code == 0, result.output
    assert "0 confirmed addresses" in result.output
    assert len(smtp.messages) == 1, "no digest to an unconfirmed address"

    link = re.search(r"(/settings/confirm/\S+)", confirmation.get_content()).group(1)
    assert client.get(link).status_code == 200
    assert store(app).mail.confirmed() == [], "a GET (a link scanner) confirms nothing"
    confirm_by_link(client, confirmation)
    assert len(store(app).mail.confirmed()) == 1
    again = client.post(link + "/done", data={"csrf_token": csrf_token(client, "/settings/")})
    assert again.status_code == 404, "a link works once"


def test_a_confirmation_link_older_than_a_week_is_refused(mail_app, smtp):
    app, client, account_id = mail_app
    save_settings(client, account_id)
    with store(app).session() as db:
        db.execute(update(MailAddress).values(confirm_sent_at=datetime.now(UTC) - timedelta(days=8)))
    link = re.search(r"(/settings/confirm/\S+)", smtp.messages[0].get_content()).group(1)
    answer = client.post(link + "/done", data={"csrf_token": csrf_token(client, "/settings/")})
    assert answer.status_code == 404
    assert "older than seven days" in answer.get_data(as_text=True)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("email", "not-an-address", "Enter an e-mail address"),
    ("email", "a@b.example\r\nBcc: victim@example.com", "Enter an e-mail address"),
    ("email", "Name <a@b.example>", "Enter an e-mail address"),
    ("tz", "Mars/Base", "Choose a time zone"),
    ("frequency", "daily", "Choose how often"),
    ("hour", "24", "Choose a weekday and an hour"),
    ("weekday", "-1", "Choose a weekday and an hour"),
    ("lang", "fr", "Choose a language"),
])
def test_bad_settings_are_refused_in_words_and_nothing_is_sent(mail_app, smtp, field, value, message):
    app, client, account_id = mail_app
    answer = save_settings(client, account_id, **{field: value})
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert smtp.messages == []
    assert store(app).mail.confirmed() == []


def test_settings_of_another_persons_account_are_404(mail_app, smtp):
    app, _client, account_id = mail_app
    other = app.test_client()
    assert login(other, account="second").status_code == 200
    assert save_settings(other, account_id).status_code == 404
    assert smtp.messages == []


# --- the digest ----------------------------------------------------------------------------


def test_the_digest_arrives_with_text_html_png_charts_the_pdf_and_the_list_headers(mail_app, smtp):
    app, client, _account_id = mail_app
    address = subscribed(mail_app, smtp)

    result = run_digest(app, "--account", open_id())

    assert result.exit_code == 0, result.output
    assert "1 sent" in result.output
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "creator@example.com"
    assert message["From"] == "reports@dashboard.example"
    assert message["Subject"].startswith("Weekly TikTok digest: Lin Mei 林美")
    assert re.fullmatch(r"<[^@>]+@dashboard\.example>", message["Message-ID"])
    assert abs(parsedate_to_datetime(message["Date"]) - datetime.now(UTC)) < timedelta(minutes=5)
    unsubscribe = f"https://dash.example.org/settings/unsubscribe/{address.unsubscribe_token}"
    assert message["List-Unsubscribe"] == f"<{unsubscribe}/one-click>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = parts(message)
    text = found["text/plain"][0].get_content()
    html = found["text/html"][0].get_content()
    assert "Key numbers" in text and "Followers" in text
    assert "https://dash.example.org/settings/" in text and unsubscribe in text
    assert f'href="{unsubscribe}"' in html and 'href="https://dash.example.org/settings/"' in html
    pngs = found["image/png"]
    assert len(pngs) == 3
    for png in pngs:
        assert png.get_content().startswith(b"\x89PNG\r\n\x1a\n")
        assert f'src="cid:{png["Content-ID"].strip("<>")}"' in html
    assert "<svg" not in html, "e-mail clients strip SVG"
    pdf = found["application/pdf"][0]
    assert pdf.get_filename().endswith(".pdf")
    monday = date.today() - timedelta(days=date.today().weekday())
    assert pdf.get_filename() == (f"tiktok-report-{monday - timedelta(days=7)}-"
                                  f"{monday - timedelta(days=1)}.pdf")
    attached = pdf_text(pdf.get_content())
    assert "TikTok report: Lin Mei 林美" in attached
    assert "There is no stored data" not in attached


def test_the_digest_comes_in_the_readers_language(mail_app, smtp):
    app, _client, _account_id = mail_app
    subscribed(mail_app, smtp, lang="zh", frequency="monthly")

    assert run_digest(app).exit_code == 0

    message = smtp.messages[0]
    assert message["Subject"].startswith("TikTok 每月摘要：Lin Mei 林美")
    found = parts(message)
    assert "关键数据" in found["text/plain"][0].get_content()
    assert "退订" in found["text/html"][0].get_content()
    text = pdf_text(found["application/pdf"][0].get_content())
    assert "关键数据" in text and "Key numbers" not in text


def test_the_digest_command_run_twice_sends_the_period_once(mail_app, smtp):
    app, _client, _account_id = mail_app
    subscribed(mail_app, smtp)
    assert "1 sent" in run_digest(app).output
    second = run_digest(app)
    assert second.exit_code == 0 and "0 sent, 1 already sent" in second.output
    assert len(smtp.messages) == 1


def test_the_worker_sends_a_due_digest_once_even_after_a_restart(mail_app, smtp, make_app):
    app, _client, _account_id = mail_app
    address = subscribed(mail_app, smtp)
    now = datetime.now(UTC)
    # Due at this hour, on today's weekday, confirmed long ago: last week's digest is due.
    with store(app).session() as db:
        db.execute(update(MailAddress).values(weekday=now.weekday(), hour=0,
                                              confirmed_at=now - timedelta(days=30)))
    assert app.extensions["jobs"].tick()["digests"] == 1
    assert len(smtp.messages) == 1
    assert app.extensions["jobs"].tick()["digests"] == 0
    restarted = make_app(SMTP_URL=smtp.url, MAIL_FROM="reports@dashboard.example")
    assert restarted.extensions["jobs"].tick()["digests"] == 0
    assert len(smtp.messages) == 1
    sent = store(app).mail.sends_of(address.id)
    assert [s.status for s in sent] == ["sent"]
    assert sent[0].message_id == smtp.messages[0]["Message-ID"]


def test_a_refusing_smtp_server_is_retried_later_and_shown_on_the_settings_page(mail_app, smtp):
    app, client, _account_id = mail_app
    address = subscribed(mail_app, smtp)
    smtp.refuse = "451 4.3.0 Try again later"

    result = run_digest(app)

    assert result.exit_code == 1
    assert "FAILED" in result.output and "451" in result.output
    page = client.get("/settings/").get_data(as_text=True)
    assert "could not be sent (1 attempts)" in page and "451" in page and "It is tried again at" in page
    assert app.extensions["jobs"].tick()["digests"] == 0, "not before its retry time"

    smtp.refuse = None
    with store(app).session() as db:
        db.execute(update(DigestSend).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert app.extensions["jobs"].tick()["digests"] == 1
    assert len(smtp.messages) == 1
    assert [(s.status, s.attempts) for s in store(app).mail.sends_of(address.id)] == [("sent", 2)]
    assert "could not be sent" not in client.get("/settings/").get_data(as_text=True)
    assert "0 sent, 1 already sent" in run_digest(app).output


def test_an_smtp_server_that_is_down_leaves_the_digest_for_a_retry(mail_app, smtp):
    app, _client, account_id = mail_app
    address = subscribed(mail_app, smtp)
    app.extensions["jobs"].mailer = Mailer(f"smtp://127.0.0.1:{_free_port()}", "reports@dashboard.example",
                                           timeout=2)
    assert run_digest(app).exit_code == 1
    [failed] = store(app).mail.sends_of(address.id)
    assert failed.status == "failed" and failed.next_attempt_at > datetime.now(UTC)
    assert "ConnectionRefusedError" in failed.error


def test_one_click_unsubscribe_stops_the_digest_without_a_login(mail_app, smtp):
    app, _client, _account_id = mail_app
    address = subscribed(mail_app, smtp)
    page = f"/settings/unsubscribe/{address.unsubscribe_token}"
    one_click = smtp_one_click_path(app, address)
    browser = app.test_client()  # the mail provider: no cookie, no CSRF token
    shown = browser.get(page)
    assert shown.status_code == 200 and f'action="{one_click}"' in shown.get_data(as_text=True)
    assert browser.get(one_click).status_code == 405
    assert store(app).mail.confirmed(), "a GET changes nothing"
    assert browser.post(one_click, data={}).status_code == 400
    answer = browser.post(one_click, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200 and "is unsubscribed" in answer.get_data(as_text=True)
    assert store(app).mail.confirmed() == []
    assert "0 confirmed addresses" in run_digest(app).output
    assert smtp.messages == []
    unknown = browser.post("/settings/unsubscribe/nope/one-click", data={"List-Unsubscribe": "One-Click"})
    assert unknown.status_code == 404


def test_without_smtp_the_settings_page_says_email_is_off(logged_in, app):
    page = logged_in.get("/settings/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "E-mail is off on this dashboard" in text and "SMTP_URL" in text
    account_id = store(app).accounts.all()[0].id
    assert save_settings(logged_in, account_id).status_code == 400
    assert app.extensions["jobs"].tick()["digests"] == 0
    result = run_digest(app)
    assert result.exit_code != 0 and "E-mail is off" in result.output


def smtp_one_click_path(app, address) -> str:
    return f"/settings/unsubscribe/{address.unsubscribe_token}/one-click"


# --- pure parts ----------------------------------------------------------------------------


def test_periods_are_whole_weeks_and_months_due_at_the_chosen_weekday_and_hour():
    assert core_digest.last_complete_period("weekly", date(2026, 12, 2)) == (date(2026, 11, 23),
                                                                            date(2026, 11, 29))
    assert core_digest.last_complete_period("monthly", date(2026, 3, 1)) == (date(2026, 2, 1),
                                                                             date(2026, 2, 28))
    address = MailAddress(weekday=2, hour=9, tz="Asia/Shanghai", frequency="weekly",
                          confirmed_at=datetime(2026, 1, 1, tzinfo=UTC))
    # The week of 23–29 Nov is due on Wednesday 2 Dec at 09:00 in Shanghai (01:00 UTC).
    assert core_digest.due_at(address, date(2026, 11, 29)) == datetime(2026, 12, 2, 1, tzinfo=UTC)
    assert core_digest.due_period(address, datetime(2026, 12, 2, 0, 59, tzinfo=UTC)) is None
    assert core_digest.due_period(address, datetime(2026, 12, 2, 1, 0, tzinfo=UTC)) == (
        date(2026, 11, 23), date(2026, 11, 29))
    address.confirmed_at = datetime(2026, 12, 2, 2, tzinfo=UTC)
    assert core_digest.due_period(address, datetime(2026, 12, 2, 3, tzinfo=UTC)) is None, \
        "a new subscriber waits for the next period"


def test_retries_back_off_and_give_up_after_about_a_day():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    waits = [core_digest.retry_at(n, now) - now for n in range(1, len(core_digest.RETRY_DELAYS) + 1)]
    assert waits == sorted(waits) and waits[0] == timedelta(minutes=5)
    assert timedelta(hours=20) < sum(waits, timedelta()) < timedelta(days=2)
    assert core_digest.retry_at(len(core_digest.RETRY_DELAYS) + 1, now) is None


@pytest.mark.parametrize("url", ["smtp://mail.example.com:587", "smtps://u:p%40ss@mail.example.com",
                                 "smtp://127.0.0.1:2525"])
def test_smtp_urls_name_the_server_and_its_tls(url):
    server = parse_smtp_url(url)
    assert server.tls == ("ssl" if url.startswith("smtps") else "starttls")
    assert "p@ss" not in repr(server)


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "smtp://host:99999",
                                 "smtp://host/path", "mail.example.com:587"])
def test_malformed_smtp_urls_are_refused(url):
    with pytest.raises(ValueError):
        parse_smtp_url(url)


def test_addresses_with_line_breaks_or_display_names_are_not_addresses():
    assert valid_address("someone@example.com")
    for bad in ("someone@example.com\n", "a@b", "<a@b.c>", "a b@c.d", "a@b.c,d@e.f", "@b.c", "a@.b.c"):
        assert not valid_address(bad), bad


@pytest.mark.parametrize(("settings", "named"), [
    ({"SMTP_URL": "smtp//mail.example.com", "MAIL_FROM": "a@b.example"}, "SMTP_URL"),
    ({"SMTP_URL": "smtp://mail.example.com:notaport", "MAIL_FROM": "a@b.example"}, "SMTP_URL"),
    ({"SMTP_URL": "smtp://mail.example.com"}, "MAIL_FROM"),
    ({"SMTP_URL": "smtps://mail.example.com", "MAIL_FROM": "Reports <a@b.example>"}, "MAIL_FROM"),
    ({"PUBLIC_BASE_URL": "dash.example.org"}, "PUBLIC_BASE_URL"),
])
def test_the_app_refuses_to_start_with_malformed_mail_settings(settings, named):
    problems = config.problems({"TESTING": True, **settings})
    assert any(p.startswith(named) for p in problems), problems
    assert not any("secret" in p.lower() and "pass" in p for p in problems)


def test_a_subject_with_line_breaks_cannot_add_headers():
    message = build_message(sender="a@b.example", to="c@d.example", subject="Lin\r\nBcc: x@y.example",
                            text="t")
    assert message["Subject"] == "Lin Bcc: x@y.example" and "Bcc" not in message


def test_disconnecting_deletes_the_reports_addresses_and_digests_of_the_account(mail_app, smtp):
    app, client, account_id = mail_app
    address = subscribed(mail_app, smtp)
    store(app).mail.claim(address.id, date(2026, 1, 5), date(2026, 1, 11), timedelta(minutes=15))
    store(app).reports.create(account_id, address.person_id, date(2026, 1, 5), date(2026, 1, 11), "en", "UTC")
    with store(app).session() as db:
        assert db.query(MailAddress).count() == db.query(DigestSend).count() == db.query(Report).count() == 1
    client.post("/account/delete", data={"csrf_token": csrf_token(client)})
    with store(app).session() as db:
        assert db.query(MailAddress).count() == db.query(DigestSend).count() == db.query(Report).count() == 0


def test_a_message_has_the_one_click_unsubscribe_headers_only_when_asked():
    plain = build_message(sender="a@b.example", to="c@d.example", subject="s", text="t")
    assert "List-Unsubscribe" not in plain and plain["Message-ID"].endswith("@b.example>")
    listed = build_message(sender="a@b.example", to="c@d.example", subject="s", text="t",
                           unsubscribe_url="https://x.example/u/1")
    assert listed["List-Unsubscribe"] == "<https://x.example/u/1>"
    assert listed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_an_alert_reaches_each_confirmed_address_by_e_mail_once(mail_app, smtp, sandbox_state):
    app, client, account_id = mail_app
    subscribed(mail_app, smtp, lang="zh")
    core = app.extensions["core"]
    video = core.store.history.videos_page(account_id, limit=1)[0]
    sandbox_state.hide_video("creator", video.video_id)

    assert sync_at(app, sandbox_state, account_id).ok  # the video is gone: an alert
    assert sync_at(app, sandbox_state, account_id).ok  # evaluated again: nothing new

    [message] = smtp.messages
    assert message["To"] == "creator@example.com"
    assert message["Subject"] == "有视频已从 TikTok 消失"  # in the address's language
    text = message.get_body(("plain",)).get_content()
    assert video.title in text and "https://dash.example.org/alerts#alert-" in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/settings/unsubscribe/" in message["List-Unsubscribe"]
