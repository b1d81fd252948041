"""Time zone names a person may choose (the IANA database's)."""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@cache
def _names() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def valid_timezone(name: str) -> bool:
    if not name or len(name) > 64 or name not in _names():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


COMMON = ("UTC", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo",
          "Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago",
          "America/Los_Angeles", "Australia/Sydney")
