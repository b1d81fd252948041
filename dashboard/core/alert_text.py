"""Alerts in words, in one language, with or without a request.

The pages pass Flask-Babel's ``gettext``; the worker (webhook texts) passes
:func:`translator`'s, for the language the webhook's owner chose. Either
way the sentences are the ones below, so a page and a Slack message never
disagree.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from dashboard.storage.alerts import StoredAlert

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "translations"
LANGUAGES = ("en", "zh")

Gettext = Callable[[str], str]


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


TITLES = {
    "video_takeoff": N_("A video is taking off"),
    "follower_drop": N_("Followers dropped"),
    "sync_failing": N_("Syncs keep failing"),
    "connection_expiring": N_("The connection to TikTok is about to expire"),
    "connection_refused": N_("TikTok refused the connection"),
    "video_gone": N_("A video is gone from TikTok"),
    "authorization_removed": N_("Access was removed on TikTok"),
}

BODIES = {
    "video_takeoff": N_("“%(title)s” gained %(views)s views in 24 hours, %(factor)s× the usual "
                        "for the account's videos at that age."),
    "follower_drop": N_("%(lost)s followers lost in 24 hours (%(before)s → %(after)s)."),
    "sync_failing": N_("The last %(failures)s syncs failed (last reason: %(code)s)."),
    "connection_refused": N_("TikTok no longer accepts this dashboard's login for this account: "
                             "log in with TikTok again to keep syncing."),
    "video_gone": N_("“%(title)s” is no longer listed on TikTok."),
    "authorization_removed": N_("The account's access was removed on TikTok (%(reason)s). Syncs "
                                "have stopped: log in with TikTok again, or delete its data."),
}

#: TikTok's ``reason`` of ``authorization.removed`` (API reference, section 9).
REASONS = {
    0: N_("reason unknown"),
    1: N_("disconnected in the TikTok app"),
    2: N_("the TikTok account was deleted"),
    3: N_("the account holder's age changed"),
    4: N_("the TikTok account was banned"),
    5: N_("the app's developer revoked it"),
}


@functools.cache
def _translations(language: str) -> NullTranslations:
    if language == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [language])


def translator(language: str) -> Gettext:
    """``gettext`` for ``language`` outside a request (English if unknown)."""
    return _translations(language if language in LANGUAGES else "en").gettext


def reason_text(reason, gettext: Gettext) -> str:
    return gettext(REASONS.get(reason if isinstance(reason, int) else 0, REASONS[0]))


def title(alert: StoredAlert, gettext: Gettext) -> str:
    return gettext(TITLES.get(alert.rule, N_("Alert")))


def body(alert: StoredAlert, gettext: Gettext, language: str = "en") -> str:
    """The alert's sentence; numbers formatted for ``language``."""
    n = alert.numbers

    def num(value) -> str:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return "—"
        return format_decimal(value, locale="zh_Hans_CN" if language == "zh" else "en")

    values = {
        "title": alert.subject or n.get("video_id", ""),
        "views": num(n.get("views_24h")), "factor": num(n.get("factor")),
        "lost": num(n.get("lost")), "before": num(n.get("before")), "after": num(n.get("after")),
        "failures": num(n.get("failures")), "code": str(n.get("last_code") or "—"),
        "days": num(n.get("days_left")),
        "reason": reason_text(n.get("reason"), gettext),
    }
    if alert.rule == "connection_expiring":
        days = n.get("days_left") if isinstance(n.get("days_left"), int) else 0
        text = _translations(language if language in LANGUAGES else "en").ngettext(
            "TikTok's login for this account ends in %(days)s day: log in with TikTok again to "
            "keep syncing.",
            "TikTok's login for this account ends in %(days)s days: log in with TikTok again to "
            "keep syncing.", days)
        return text % values
    template = BODIES.get(alert.rule)
    return gettext(template) % values if template else ""
