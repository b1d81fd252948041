"""The engagement formula a person reads by, and each formula in words.

The numbers come from ``dashboard.analytics`` (:func:`analytics.engagement`,
:data:`analytics.ENGAGEMENT_FORMULAS`); this module says which formula the
person viewing chose (read once per request) and states it in their
language, so every page that shows a rate can say how it was made.
"""

from __future__ import annotations

from flask import g, session
from flask_babel import gettext as _
from flask_babel import ngettext

from dashboard import analytics

from .context import get_store
from .outcomes import N_

#: A short name for each formula (the settings' choices, exports' labels).
FORMULA_NAMES = {
    "views": N_("By views, weighted"),
    "median": N_("Median of each video's rate"),
    "followers": N_("By followers at posting"),
}

#: Each formula stated in full, shown beside every rate it makes.
FORMULA_WORDS = {
    "views": N_("Engagement rate by views, weighted: the likes, comments and shares of all the "
                "videos added up, divided by all their views added up (for one video: its "
                "(likes + comments + shares) ÷ views). Videos without views are left out."),
    "median": N_("Engagement rate as the median: each video's own rate, (likes + comments + "
                 "shares) ÷ views, and the middle one of those rates (half the videos do better, "
                 "half worse). Videos without views are left out."),
    "followers": N_("Engagement rate by followers: likes + comments + shares divided by the "
                    "followers the account had when the video was posted (the last count stored "
                    "at or before then); for several videos, all their likes, comments and shares "
                    "added up ÷ those follower counts added up. Videos posted before the first "
                    "stored follower count, or when it was 0, are left out."),
}


def current_formula() -> str:
    """The formula of the person viewing (the default for a visitor or a stale
    value); the worker's prerendering sets ``g.engagement_formula`` to the default."""
    chosen = g.get("engagement_formula")
    if chosen is None:
        person_id = session.get("person_id")
        chosen = get_store().accounts.engagement_formula(person_id) if person_id else None
        if chosen not in analytics.ENGAGEMENT_FORMULAS:
            chosen = analytics.DEFAULT_ENGAGEMENT
        g.engagement_formula = chosen
    return chosen


def formula_name(formula: str) -> str:
    return _(FORMULA_NAMES[formula])


def formula_words(formula: str) -> str:
    return _(FORMULA_WORDS[formula])


def left_out_words(formula: str, left_out: int) -> str | None:
    """How many videos a rate leaves out, and why; None when it leaves none out."""
    if not left_out:
        return None
    if formula == "followers":
        return ngettext(
            "%(num)d video left out: posted before the first stored follower count, or when it was 0.",
            "%(num)d videos left out: posted before the first stored follower count, or when it was 0.",
            left_out)
    return ngettext("%(num)d video left out: it has no views.",
                    "%(num)d videos left out: they have no views.", left_out)


def choices() -> list[tuple[str, str, str]]:
    """(key, name, words) of every formula, the default first."""
    return [(f, formula_name(f), formula_words(f)) for f in analytics.ENGAGEMENT_FORMULAS]
