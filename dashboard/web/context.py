"""The web layer's handles on the app's parts, and who is asking."""

from __future__ import annotations

from flask import abort, current_app, session

from dashboard.core.context import Core
from dashboard.core.jobs import Jobs
from dashboard.storage import Store


def get_core() -> Core:
    return current_app.extensions["core"]


def get_jobs() -> Jobs:
    return current_app.extensions["jobs"]


def get_store() -> Store:
    return current_app.extensions["core"].store


def current_account_id() -> int:
    """The logged-in person's selected account, or 401."""
    person_id = session.get("person_id")
    account_id = session.get("account_id")
    if not person_id or not account_id or get_store().accounts.for_person(person_id, account_id) is None:
        abort(401)
    return account_id
