"""Outcomes of the core, in the reader's language.

The core returns codes (a sync's ``code``, TikTok's error code); this is the
one place that turns them into sentences: in the reader's language on a
page, in the default language (English) on the terminal, where there is no
request to choose another.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext

from tiktok_official_api import (
    TikTokAPIError,
    TikTokConnectionError,
    TikTokRateLimitError,
    TikTokResponseError,
    TikTokScopeError,
)

from .errors import describe_api_error


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


#: Codes of failed syncs whose sentence is not the generic one.
_FAILURE_KINDS = {
    "rate_limit_exceeded": TikTokRateLimitError,
    "http_429": TikTokRateLimitError,
    "timeout": TikTokConnectionError,
    "connection_error": TikTokConnectionError,
    "request_error": TikTokConnectionError,
    "malformed_response": TikTokResponseError,
    "scope_not_authorized": TikTokScopeError,
    "scope_permission_missed": TikTokScopeError,
}

_OWN_CODES = {
    "interrupted": N_("The sync stopped before it finished."),
    "reauth_required": N_("TikTok no longer accepts this connection. Please log in again."),
    "sync_in_progress": N_("A sync of this account is already running."),
    "budget_timeout": N_("This dashboard's calls to TikTok are paused (TikTok asked it to slow down). "
                         "The sync will be tried again."),
}


def failure_reason(code: str | None) -> str:
    """Why a sync failed, in the viewer's language."""
    if code in _OWN_CODES:
        return _(_OWN_CODES[code])
    kind = _FAILURE_KINDS.get(code or "", TikTokAPIError)
    _status, _title, sentence = describe_api_error(kind("", code=code))
    return sentence


def synced_sentence(videos: int) -> str:
    return ngettext("Synced %(num)d video.", "Synced %(num)d videos.", videos)
