"""Whole pages served again while nothing they show has changed.

A warm view renders nothing: it reads what the page depends on and serves
the page rendered before, with fresh CSRF tokens. Anything the page shows
that changes (an alert, the profile, a sync, the clock behind "Sync now",
a flash message, another person) gives the page as it is now.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask import template_rendered
from sqlalchemy import bindparam, literal_column, select, update
from sqlalchemy.exc import DBAPIError

from dashboard.storage.database import DriverQuery
from dashboard.storage.models import Account, Alert, utcnow
from dashboard.storage.page_state import PageStateStore
from dashboard.web.pages import page_cache
from dashboard.web.pages import routes as page_routes
from tests.conftest import login
from tests.flow_helpers import post
from tests.sync_helpers import open_id, store, sync_at

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = ("/", "/videos", "/videos?sort=view_count", "/analytics")


@contextmanager
def renders(app):
    """The names of the templates rendered while inside."""
    names: list[str] = []

    def record(_sender, template, **_extra):
        names.append(template.name)

    template_rendered.connect(record, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(record, app)


def _account_id(app, account: str = "creator") -> int:
    return store(app).accounts.by_open_id(open_id(account)).id


@pytest.mark.parametrize("path", PAGES)
def test_a_warm_page_renders_nothing_and_carries_fresh_tokens(logged_in, app, path):
    first = logged_in.get(path).get_data(as_text=True)
    with renders(app) as rendered:
        again = [logged_in.get(path).get_data(as_text=True) for _ in range(2)]
    assert rendered == []
    tokens = [t for page in (first, *again) for t in TOKEN.findall(page)]
    assert len(tokens) >= 3 and len(set(tokens)) == len(tokens)
    assert "csrf-token--" not in "".join(again)  # no placeholder left, not even escaped
    assert [TOKEN.sub("", page) for page in again] == [TOKEN.sub("", first)] * 2
    # A token from a page served again works.
    answer = logged_in.post("/language", data={"lang": "en", "next": "/",
                                                "csrf_token": TOKEN.findall(again[1])[-1]})
    assert answer.status_code in (302, 303)


def test_a_served_page_follows_the_alerts_the_profile_and_each_sync(logged_in, app, sandbox_state):
    account_id = _account_id(app)
    logged_in.get("/")
    with store(app).session() as db:
        db.add(Alert(account_id=account_id, rule="spike", key="k1", occurred_at=utcnow()))
    assert "Alerts: 1 unread" in logged_in.get("/").get_data(as_text=True)
    with store(app).session() as db:
        db.execute(update(Account).where(Account.id == account_id).values(display_name="Renamed <b>"))
    page = logged_in.get("/").get_data(as_text=True)
    assert "Renamed &lt;b&gt;" in page and "Renamed <b>" not in page
    with renders(app) as rendered:
        assert sync_at(app, sandbox_state, account_id).ok
        logged_in.get("/")
    assert "dashboard/overview.html" in rendered


def test_the_sync_now_wait_ends_on_a_served_page(make_app, sandbox_state, monkeypatch):
    app = make_app(SYNC_NOW_INTERVAL_SECONDS=60)
    client = app.test_client()
    login(client)
    post(client, "/sync")
    assert "Can be pressed again at" in client.get("/").get_data(as_text=True)
    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr(page_cache, "utcnow", lambda: later)
    monkeypatch.setattr(page_routes, "utcnow", lambda: later)
    assert "Can be pressed again at" not in client.get("/").get_data(as_text=True)


def test_a_flash_message_is_shown_once_and_never_served_again(logged_in, app):
    logged_in.get("/")
    with logged_in.session_transaction() as session:
        session["_flashes"] = [("info", "Only once, please")]
    assert "Only once, please" in logged_in.get("/").get_data(as_text=True)
    assert "Only once, please" not in logged_in.get("/").get_data(as_text=True)


def test_a_query_the_page_does_not_read_is_rendered_and_not_kept(logged_in, app):
    logged_in.get("/")
    with renders(app) as rendered:
        for n in range(3):
            assert logged_in.get(f"/?junk={n}").status_code == 200
    assert rendered.count("dashboard/overview.html") == 3


def test_nobody_is_served_a_page_of_an_account_they_do_not_own(make_app):
    app = make_app()
    owner, other = app.test_client(), app.test_client()
    login(owner, account="creator")
    login(other, account="second")
    creator_id, second_id = _account_id(app, "creator"), _account_id(app, "second")
    for path in PAGES:
        assert owner.get(path).status_code == 200
    for path in PAGES:  # a forged selection: sent back to their own account, shown nothing
        with other.session_transaction() as session:
            session["account_id"] = creator_id
        answer = other.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/")
        with other.session_transaction() as session:
            assert session["account_id"] == second_id
        assert "@creator" not in other.get("/").get_data(as_text=True)


def test_the_page_state_reads_the_sync_times_as_they_are_stored(logged_in, app):
    """The state is read on the driver's cursor; the two times the clock is
    compared with still come back as date-times, on either database."""
    account_id = _account_id(app)
    pressed = utcnow().replace(microsecond=123456) - timedelta(minutes=3)
    leased = pressed + timedelta(hours=1)
    with store(app).session() as db:
        db.execute(update(Account).where(Account.id == account_id)
                   .values(sync_requested_at=pressed, sync_locked_until=leased))
    with app.app_context():
        person_id = store(app).accounts.get(account_id).person_id
        rows = store(app).page_state.of(person_id, account_id, "UTC")
    assert PageStateStore.sync_times(rows, account_id) == (pressed, leased)
    assert store(app).page_state.of(person_id + 1000, account_id, "UTC") is None


def test_a_driver_query_refuses_a_list_or_a_converted_value_given_per_call(app):
    ids = select(Account.id).where(Account.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="binds"):
        DriverQuery(ids, binds=("ids",)).rows(store(app).engine, ids=[1, 2])
    since = select(Account.id).where(Account.sync_requested_at > bindparam("since"))
    with pytest.raises(ValueError, match="converted"):
        DriverQuery(since, binds=("since",)).rows(store(app).engine, since=utcnow())


def test_a_driver_query_fails_as_sqlalchemy_does_and_the_pool_goes_on(logged_in, app):
    engine = store(app).engine
    missing = select(literal_column("no_such_column")).select_from(Account)
    with pytest.raises(DBAPIError):
        DriverQuery(missing, binds=()).rows(engine)
    ids = DriverQuery(select(Account.id), binds=())
    assert ids.rows(engine) == ((_account_id(app),),)
