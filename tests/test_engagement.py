"""The engagement formula a person chooses: the same number, by the same
formula and stated in the same words, on the overview, the analytics page,
a video's page, both export formats and the PDF report's data; and no page
part rendered for one formula is ever shown to someone reading by another."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import g, session

from dashboard import analytics
from dashboard.core import reports as core_reports
from dashboard.storage.models import Account, Person, ProfileSnapshot
from dashboard.web.engagement import FORMULA_WORDS, current_formula
from dashboard.web.pages import viewmodels
from tests.flow_helpers import main_html, post
from tests.sync_helpers import store

SHORT_WORDS = {"views": "Engagement rate by views, weighted",
               "median": "Engagement rate as the median",
               "followers": "Engagement rate by followers"}


def _pct(value: float | None) -> str:
    """A rate as the English pages write it."""
    return "—" if value is None else f"{value * 100:,.1f}%"


@pytest.fixture
def account(logged_in, app):
    """The sandbox creator after one sync, with a follower count stored from
    the middle of its posting history (so some videos have followers at
    posting and the older ones are left out of the "followers" formula)."""
    the_store = store(app)
    with the_store.session() as db:
        account_id = db.query(Account.id).scalar()
    rows = the_store.history.analytics_rows(account_id)
    times = sorted(r["create_time"] for r in rows)
    with the_store.session() as db:
        db.add(ProfileSnapshot(account_id=account_id, taken_at=times[len(times) // 2], follower_count=1000))
    the_store.summaries.discard(account_id)  # the summary is made again, with this history
    viewmodels._cache.clear()
    return {"id": account_id, "client": logged_in, "app": app, "rows": rows}


def _expected(account, formula: str) -> analytics.Engagement:
    followers = store(account["app"]).history.follower_points(account["id"])
    return analytics.engagement(account["rows"], formula, followers)


def _choose(client, formula: str) -> None:
    answer = post(client, "/settings/engagement", {"formula": formula}, token_from="/settings/")
    assert answer.status_code == 303


def test_switching_the_formula_changes_every_page_export_and_report_alike(account):
    client, app, account_id = account["client"], account["app"], account["id"]
    followers = store(app).history.follower_points(account_id)
    seen = {}
    for formula in ("views", "median", "followers", "views"):
        _choose(client, formula)
        expected = _expected(account, formula)
        rate = _pct(expected.value)
        seen[formula] = rate

        overview = main_html(client.get("/"))
        analytics_page = main_html(client.get("/analytics"))
        for page in (overview, analytics_page):
            assert rate in page
            assert SHORT_WORDS[formula] in page
        if formula == "followers":
            assert expected.left_out > 0
            left_out = f"{expected.left_out} videos left out: posted before the first stored follower"
            assert left_out in overview

        videos = json.loads(client.get("/export/videos.json").get_data(as_text=True))
        as_csv = list(csv.DictReader(io.StringIO(
            client.get("/export/videos.csv").get_data(as_text=True).lstrip("\ufeff"))))
        by_id = {r["video_id"]: r for r in account["rows"]}
        for row, csv_row in zip(videos, as_csv, strict=True):
            own = analytics.video_rate(by_id[row["video_id"]], formula, followers)
            assert row["engagement_formula"] == csv_row["engagement_formula"] == formula
            assert row["engagement_rate"] == own
            assert csv_row["engagement_rate"] == ("" if own is None else repr(own))

        # A video's page shows the same per-video number as the export.
        newest = max(account["rows"], key=lambda r: r["create_time"])
        video_page = main_html(client.get(f"/videos/{newest['video_id']}"))
        assert _pct(analytics.video_rate(newest, formula, followers)) in video_page
        assert SHORT_WORDS[formula] in video_page

        # The PDF report is made from this data, by the person's formula.
        person_id = store(app).accounts.get(account_id).person_id
        chosen = core_reports.engagement_formula_of(app.extensions["core"], person_id)
        first = min(r["create_time"] for r in account["rows"]).date()
        data = core_reports.build_report(app.extensions["core"], account_id, first,
                                         datetime.now(UTC).date(), "UTC", formula=chosen)
        assert data.engagement_formula == formula
        engagement = next(m for m in data.metrics if m.key == "engagement")
        assert engagement.change == pytest.approx(expected.value)
    assert len(set(seen.values())) == 3, seen  # three formulas, three different numbers here


def test_a_refused_formula_keeps_the_choice(account):
    client = account["client"]
    _choose(client, "median")
    answer = post(client, "/settings/engagement", {"formula": "likes"}, token_from="/settings/")
    assert answer.status_code == 400
    assert "Choose one of the engagement formulas." in answer.get_data(as_text=True)
    assert 'value="median" checked' in client.get("/settings/").get_data(as_text=True)


def test_the_settings_state_every_formula_in_words_in_both_languages(account):
    client = account["client"]
    page = client.get("/settings/").get_data(as_text=True)
    for words in FORMULA_WORDS.values():
        assert words.replace("'", "&#39;") in page
    post(client, "/language", {"lang": "zh", "next": "/settings/"}, token_from="/settings/")
    chinese = client.get("/settings/").get_data(as_text=True)
    assert "互动率" in chinese and FORMULA_WORDS["views"] not in chinese


def test_two_people_reading_one_account_by_two_formulas_never_share_a_part(account):
    app, account_id = account["app"], account["id"]
    the_store = store(app)
    owner = the_store.accounts.get(account_id).person_id
    with the_store.session() as db:
        other = Person(engagement_formula="followers")
        db.add(other)
        db.flush()
        other_id = other.id
    seen = {}
    for person_id in (owner, other_id):
        with app.test_request_context("/"):
            session.update(person_id=person_id, account_id=account_id)
            formula = current_formula()
            tz = ZoneInfo("UTC")
            key = viewmodels.fragment_key(account_id, tz, "overview", "day",
                                          viewmodels.engagement_part(formula))
            value = viewmodels.overview_data(account_id, tz, "day", formula)["engagement"]["value"]
            seen[person_id] = (formula, key, value)
            g.pop("engagement_formula")
    (f1, key1, v1), (f2, key2, v2) = seen[owner], seen[other_id]
    assert (f1, f2) == ("views", "followers")
    assert key1 != key2
    assert v1 == pytest.approx(_expected(account, "views").value)
    assert v2 == pytest.approx(_expected(account, "followers").value)


def test_a_part_cached_for_one_formula_is_not_shown_after_switching(account):
    client = account["client"]
    _choose(client, "views")
    before = main_html(client.get("/analytics"))
    _choose(client, "median")
    after = main_html(client.get("/analytics"))
    assert _pct(_expected(account, "median").value) in after
    assert SHORT_WORDS["median"] in after and SHORT_WORDS["views"] not in after
    assert before != after


def test_an_account_without_follower_history_shows_a_dash_not_an_error(logged_in, app):
    the_store = store(app)
    with the_store.session() as db:
        account_id = db.query(Account.id).scalar()
        db.query(ProfileSnapshot).filter_by(account_id=account_id).update({"follower_count": 0})
    the_store.summaries.discard(account_id)
    viewmodels._cache.clear()
    _choose(logged_in, "followers")
    page = main_html(logged_in.get("/"))
    assert "Engagement rate" in page and "—" in page
    assert "nan" not in page.lower() and "inf%" not in page
    rows = json.loads(logged_in.get("/export/videos.json").get_data(as_text=True))
    assert rows and all(r["engagement_rate"] is None for r in rows)
