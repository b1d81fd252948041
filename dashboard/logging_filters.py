"""Redaction of secrets in every log line, wherever it comes from.

Werkzeug's access log prints ``/callback?code=...&state=...`` verbatim, and a
library may print a token in an exception. Rather than trusting every
logger, the record factory itself rewrites the message: OAuth parameters,
bearer tokens, TikTok-style tokens, invite links' secrets and the configured secrets become
``[REDACTED]`` before any handler sees them.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[REDACTED]"
# ``code`` and ``state`` only as URL or form parameters (after ``?``, ``&`` or at the start),
# so that log lines such as ``error code=access_token_invalid`` stay readable.
_PARAM = re.compile(
    r"(?i)((?:(?:^|[?&])(?:code|state))|\b(?:access_token|refresh_token|client_secret|token|"
    r"code_verifier|code_challenge))=([^&\s\"']+)"
)
_JSON_FIELD = re.compile(
    r"(?i)([\"'](?:access_token|refresh_token|client_secret|token|code_verifier)[\"']\s*:\s*[\"'])"
    r"([^\"']+)"
)
_BEARER = re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=*!-]+")
_TIKTOK_TOKEN = re.compile(r"\b(?:act|rft|clt)\.[A-Za-z0-9._~*!-]{8,}")
#: An invite link's secret, in its path or in a ``next=`` that carries it (encoded or not).
_INVITE = re.compile(r"(?i)((?:/|%2F)invite(?:/|%2F))[A-Za-z0-9_-]{16,}")

#: A word every one of the patterns above needs, case aside: most lines (the
#: access log's) hold none, and telling so costs a fraction of one search.
#: Only for ASCII text: the patterns' case folding also takes letters such as
#: "ſ" or "K" for "s" or "k", which ``str.lower()`` leaves as they are.
_WORDS = ("code", "state", "token", "secret", "bearer", "act.", "rft.", "clt.", "invite")

_secrets: set[str] = set()
_installed = False


def redact(text: str) -> str:
    if (text.isascii() and not any(word in text.lower() for word in _WORDS)
            and not any(secret in text for secret in _secrets)):
        return text
    text = _PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _JSON_FIELD.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER.sub("Bearer " + REDACTED, text)
    text = _TIKTOK_TOKEN.sub(REDACTED, text)
    text = _INVITE.sub(lambda m: m.group(1) + REDACTED, text)
    for secret in _secrets:
        text = text.replace(secret, REDACTED)
    return text


def install_redaction(config) -> None:
    """Redact from now on in this process; remembers the configured secrets."""
    global _installed
    for key in ("SECRET_KEY", "TIKTOK_CLIENT_SECRET", "TOKEN_ENCRYPTION_KEYS", "RESEARCH_CLIENT_SECRET"):
        value = config.get(key)
        if value:
            _secrets.update(v.strip() for v in str(value).split(",") if len(v.strip()) >= 8)
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call is logged as it is
            return record
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return record

    logging.setLogRecordFactory(factory)
