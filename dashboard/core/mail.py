"""E-mail over SMTP: one small function builds a message, one sends it.

``SMTP_URL`` names the server: ``smtp://user:pass@host:587`` speaks plain
SMTP and upgrades with STARTTLS (refusing to log in without it, except on
loopback), ``smtps://user:pass@host:465`` speaks TLS from the first byte.
Without ``SMTP_URL`` the :class:`Mailer` is off: callers ask
:attr:`Mailer.enabled` and say so instead of failing.

Every message is built by :func:`build_message`: a plain-text part, an
optional HTML part with inline PNG pictures (``cid:`` references),
attachments, ``Message-ID`` and ``Date``, and, when an unsubscribe URL is
given, ``List-Unsubscribe`` with ``List-Unsubscribe-Post`` (RFC 8058
one-click). Alerts reuse the same two functions.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from dashboard.urls import SmtpServer, is_loopback_host, parse_smtp_url, valid_address

__all__ = ["MailError", "Mailer", "Part", "SmtpServer", "build_message", "parse_smtp_url", "send",
           "valid_address"]

log = logging.getLogger(__name__)

#: Seconds an SMTP connection or reply may take: long enough for a slow
#: relay, short enough that a hung one frees the worker thread.
SMTP_TIMEOUT = 30


class MailError(Exception):
    """The server refused, timed out or dropped the connection; ``temporary`` says whether to retry."""

    def __init__(self, message: str, *, temporary: bool = True):
        super().__init__(message)
        self.temporary = temporary


@dataclass(frozen=True)
class Part:
    """An inline picture (``cid`` set: ``<img src="cid:...">``) or an attachment."""

    filename: str
    content: bytes
    mimetype: str
    cid: str | None = None


def build_message(*, sender: str, to: str, subject: str, text: str, html: str | None = None,
                  images: tuple[Part, ...] = (), attachments: tuple[Part, ...] = (),
                  unsubscribe_url: str | None = None, lang: str | None = None) -> EmailMessage:
    """A complete message: text, HTML with inline pictures, attachments and the list headers."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = " ".join(subject.split())  # a name from TikTok may hold line breaks
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">") or None)
    message["Auto-Submitted"] = "auto-generated"
    if lang:
        message["Content-Language"] = "zh-CN" if lang == "zh" else lang
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
        html_part = message.get_payload()[-1]
        for image in images:
            maintype, subtype = image.mimetype.split("/")
            html_part.add_related(image.content, maintype=maintype, subtype=subtype,
                                  cid=f"<{image.cid}>", filename=image.filename)
    for item in attachments:
        maintype, subtype = item.mimetype.split("/")
        message.add_attachment(item.content, maintype=maintype, subtype=subtype,
                               filename=item.filename)
    return message


class Mailer:
    """Sends messages through ``SMTP_URL``; :attr:`enabled` is False without one."""

    def __init__(self, smtp_url: str | None, sender: str | None, *, timeout: float = SMTP_TIMEOUT):
        self.server = parse_smtp_url(smtp_url) if smtp_url else None
        self.sender = sender
        self.timeout = timeout

    @property
    def enabled(self) -> bool:
        return self.server is not None and bool(self.sender)

    def send(self, message: EmailMessage) -> str:
        """Hand ``message`` to the server; its Message-ID, or :class:`MailError`."""
        if not self.enabled:
            raise MailError("e-mail is off (SMTP_URL or MAIL_FROM is not set)", temporary=False)
        server = self.server
        try:
            with self._connect(server) as smtp:
                if server.tls == "starttls":
                    self._starttls(smtp, server)
                if server.username:
                    smtp.login(server.username, server.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailError(f"the server refused the address: {_codes(exc.recipients)}",
                            temporary=_temporary(exc.recipients)) from exc
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"the server answered {exc.smtp_code}: {_text(exc.smtp_error)}",
                            temporary=exc.smtp_code < 500 or exc.smtp_code in (552,)) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, timed out, dropped, TLS
            raise MailError(f"{type(exc).__name__}: {exc}"[:300]) from exc
        log.info("mail %s sent through %s", message["Message-ID"], server)
        return message["Message-ID"]

    def _connect(self, server: SmtpServer) -> smtplib.SMTP:
        if server.tls == "ssl":
            return smtplib.SMTP_SSL(server.host, server.port, timeout=self.timeout,
                                    context=ssl.create_default_context())
        return smtplib.SMTP(server.host, server.port, timeout=self.timeout)

    @staticmethod
    def _starttls(smtp: smtplib.SMTP, server: SmtpServer) -> None:
        """Upgrade to TLS; a server without STARTTLS is accepted on loopback only."""
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        elif not is_loopback_host(server.host):
            raise MailError(f"{server.host} does not offer STARTTLS; use smtps:// or a server that does",
                            temporary=False)


def send(mailer: Mailer, *, to: str, subject: str, text: str, html: str | None = None,
         images: tuple[Part, ...] = (), attachments: tuple[Part, ...] = (),
         unsubscribe_url: str | None = None, lang: str | None = None) -> str:
    """Build and send one message to one confirmed address; its Message-ID, or :class:`MailError`."""
    return mailer.send(build_message(sender=mailer.sender, to=to, subject=subject, text=text,
                                     html=html, images=images, attachments=attachments,
                                     unsubscribe_url=unsubscribe_url, lang=lang))


def _text(raw) -> str:
    return (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw))[:200]


def _codes(recipients: dict) -> str:
    return ", ".join(f"{code} {_text(text)}" for code, text in recipients.values())


def _temporary(recipients: dict) -> bool:
    return any(code < 500 for code, _ in recipients.values())
