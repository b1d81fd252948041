"""The web layer's handles on the app's parts, and who is asking.

Routes state what they need in one line: ``current_account_id("manager")``
for the account selected in the session, ``require_role(account_id, "owner")``
for one named in the URL. Roles, weakest first: viewer (reads pages and
exports), manager (also syncs and changes alert, report and e-mail settings),
owner (also disconnects, deletes and shares).
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _

from dashboard.core.context import Core
from dashboard.core.jobs import Jobs
from dashboard.storage import Store
from dashboard.storage.accounts import role_rank


def get_core() -> Core:
    return current_app.extensions["core"]


def get_jobs() -> Jobs:
    return current_app.extensions["jobs"]


def get_store() -> Store:
    return current_app.extensions["core"].store


def logged_in_person() -> int:
    """The logged-in person's id, or 401."""
    person_id = session.get("person_id")
    if not person_id:
        abort(401)
    return person_id


def current_role() -> str | None:
    """The logged-in person's role on the selected account (None: none, or not logged in)."""
    account_id = session.get("account_id")
    if not isinstance(account_id, int):
        return None
    return get_store().accounts.role_of(session.get("person_id"), account_id)


def current_account_id(min_role: str = "viewer") -> int:
    """The logged-in person's selected account, when their role on it is at
    least ``min_role``: 401 when not logged in, 403 when the role is too low.

    An account they lost (removed, left, deleted by its owner) gives way to
    another one they can see, or to the landing page, with a message."""
    person_id = session.get("person_id")
    if not person_id or not session.get("account_id"):
        abort(401)
    role = current_role()
    if role is None:
        _fall_back(person_id)
    if role_rank(role) < role_rank(min_role):
        abort(403)
    return session["account_id"]


def _fall_back(person_id: int):
    """Select another account this person can see (or none) and send them on."""
    visible = get_store().accounts.visible_to(person_id)
    if visible:
        session["account_id"] = visible[0][0].id
    else:
        session.pop("account_id", None)
    flash(_("You no longer have access to that account."), "info")
    if request.method in ("GET", "HEAD"):
        abort(redirect(url_for("dashboard.overview")))
    abort(403)


def require_role(account_id: int, min_role: str = "viewer") -> int:
    """The logged-in person's id when their role on ``account_id`` (named in the
    URL) is at least ``min_role``: 401 when not logged in, 404 when they may not
    see the account at all (whether it exists is not theirs to learn), 403
    when they may see it but not do this."""
    person_id = session.get("person_id")
    if not person_id:
        abort(401)
    role = get_store().accounts.role_of(person_id, account_id)
    if role is None:
        abort(404)
    if role_rank(role) < role_rank(min_role):
        abort(403)
    return person_id
