"""Numbers for comparing accounts over a date range: data in, numbers out.

Pure, like :mod:`dashboard.analytics` (nothing of the app is imported): the
core (``dashboard.core.compare``) reads the stored history and calls these.
Rates are fractions (0.05 = 5 %); a number that has no base (a start of 0
followers, no views, no earlier value) is ``None``, which pages show as "—".
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

#: Indexed series start at this value.
INDEX_BASE = 100


def indexed(values: Sequence[tuple[date | datetime, float]], base: float | None
            ) -> list[tuple[date | datetime, float]] | None:
    """Each value as a share of ``base`` times 100, so the start of the range is 100
    and a small and a large account can be drawn on one axis; ``None`` when
    there is no base (no level before the range, or 0 followers at its start)."""
    if not base:
        return None
    return [(moment, value * INDEX_BASE / base) for moment, value in values]


def growth_rate(start: float | None, end: float | None) -> float | None:
    """``(end - start) / start``; ``None`` without both ends or from a start of 0."""
    if start is None or end is None or start == 0:
        return None
    return (end - start) / start


def cadence(videos: int, days: int) -> float | None:
    """Videos per week over ``days`` whole days."""
    if days <= 0:
        return None
    return videos * 7 / days


def median(values: Iterable[float | None]) -> float | None:
    """The median of the present values; ``None`` when there are none."""
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None


def start_level(points: Sequence[tuple[datetime, float]], baseline: tuple[datetime, float] | None
                ) -> tuple[datetime, float] | None:
    """The level a range starts from: the last one measured before it, else the
    first one measured inside it (the history begins within the range)."""
    if baseline is not None:
        return baseline
    return points[0] if points else None


def end_level(points: Sequence[tuple[datetime, float]], baseline: tuple[datetime, float] | None
              ) -> tuple[datetime, float] | None:
    """The last level measured by the end of the range."""
    return points[-1] if points else baseline


@dataclass(frozen=True)
class Delta:
    """One number in two periods: both values, the change and the change as a fraction."""

    current: float | None
    earlier: float | None

    @property
    def change(self) -> float | None:
        if self.current is None or self.earlier is None:
            return None
        return self.current - self.earlier

    @property
    def pct(self) -> float | None:
        """The change against the earlier value; ``None`` when that is 0 or unknown."""
        if self.change is None or not self.earlier:
            return None
        return self.change / abs(self.earlier)


def previous_range(start: date, end: date) -> tuple[date, date]:
    """The range of the same length that ends the day before ``start``."""
    length = timedelta(days=(end - start).days + 1)
    return start - length, start - timedelta(days=1)
