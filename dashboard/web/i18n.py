"""Languages: English and Simplified Chinese, chosen by the browser or the switch.

Every word a person reads goes through gettext (Flask-Babel); numbers and
dates are formatted for the chosen language. The choice made with the
switch is kept in the session.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.numbers import format_compact_decimal
from flask import current_app, has_request_context, request, session
from flask_babel import (
    Babel,
    format_date,
    format_decimal,
    format_percent,
    format_time,
    get_locale,
)
from markupsafe import Markup
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from .security import safe_link

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT_LOCALE = "en"


#: Each language as babel's Locale, parsed once: Flask-Babel parses whatever
#: the selector returns on every request, and a Locale passes through as is.
_LOCALES = {code: Locale.parse(code) for code in LANGUAGES}


def select_locale() -> Locale:
    if not has_request_context():  # the terminal, a job: the default language
        return _LOCALES[DEFAULT_LOCALE]
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return _LOCALES[chosen]
    return _LOCALES[browser_language(request.headers.get("Accept-Language", ""))]


@lru_cache(maxsize=256)
def browser_language(header: str) -> str:
    """The language an ``Accept-Language`` header asks for, of ours; each
    header is read once per process (browsers send the same one every time)."""
    accepted = parse_accept_header(header, LanguageAccept)
    best = accepted.best_match(["en", "zh", "zh-CN", "zh-Hans", "zh-SG"])
    if best and best.lower().startswith("zh"):
        return "zh"
    return DEFAULT_LOCALE


def select_timezone() -> str:
    if not has_request_context():
        return current_app.config.get("DEFAULT_TIMEZONE") or "UTC"
    return session.get("tz") or current_app.config.get("DEFAULT_TIMEZONE") or "UTC"


def viewer_zone_name() -> str:
    """The viewer's time zone name; UTC when the stored one is not a zone."""
    name = select_timezone()
    try:
        ZoneInfo(name)
    except Exception:  # a bad stored name falls back to UTC
        return "UTC"
    return name


def compact(number) -> str:
    """12.3K / 1.2M in English, 1.2万 in Chinese; an em dash for unknown."""
    if number is None:
        return "—"
    if abs(number) < 1000:
        return format_decimal(number)
    # Whole numbers: Chinese compacts only from 万 (10,000), so an average of
    # 1839.5 views would otherwise show its fraction ("1839.5", not "1840").
    return format_compact_decimal(round(number), format_type="short", fraction_digits=1,
                                  locale=str(get_locale() or DEFAULT_LOCALE))


def html_lang() -> str:
    return "zh-CN" if str(get_locale()) == "zh" else "en"


def init_app(app) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    register_filters(app)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, html_lang=html_lang)


def duration(seconds) -> str:
    """``1:05`` for 65 seconds; a dash when unknown."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def percent(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    return format_percent(value, format="#,##0." + "0" * digits + "%")


def date_fmt(moment) -> str:
    """The one date style of every page and chart: "Nov 2, 2026", "2026年11月2日"."""
    return format_date(moment, format="medium")


def datetime_fmt(moment) -> str:
    """A moment in that style plus the short time: "Nov 2, 2026 9:05 AM"."""
    return f"{format_date(moment, format='medium')} {format_time(moment, format='short')}"


def _unbroken(text: str) -> Markup:
    """A date for a page: one unit that never breaks across lines ("2026年10月31日")."""
    return Markup('<span class="nowrap">%s</span>') % text


def register_filters(app) -> None:
    app.jinja_env.filters.update(
        compact=compact,
        number=lambda n: "—" if n is None else format_decimal(n),
        percent=percent,
        signed=lambda n: "—" if n is None else ("+" if n > 0 else "") + format_decimal(n),
        signed_percent=lambda v: "—" if v is None else ("+" if v > 0 else "") + percent(v),
        duration=duration,
        date_fmt=lambda d: _unbroken(date_fmt(d)),
        datetime_fmt=lambda d: _unbroken(datetime_fmt(d)),
        time_fmt=lambda d: _unbroken(format_time(d, format="medium")),
        tiktok_link=safe_link,
    )
