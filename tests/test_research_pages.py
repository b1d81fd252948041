"""The Research API explorer in the browser and on the terminal, over the loopback sandbox.

Runs are worked as they are queued (the test apps' immediate queue), so a
press of Run answers with a finished run.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace

import pytest
from sqlalchemy import func, select, update

from dashboard.core.research_query import check_video_query, split_windows
from dashboard.storage.research_models import ResearchRun
from sandbox import research as sandbox_research
from tests.sync_helpers import csrf_token
from tests.test_research import QUERY, expected_ids


def _browser(app):
    store = app.extensions["core"].store
    person_id, _account = store.accounts.connect(None, "researcher-open-id", "user.info.basic")
    client = app.test_client()
    with client.session_transaction() as session:
        session["person_id"] = person_id
    return client, person_id


def _form(token, **extra):
    data = {"csrf_token": token, "start_date": "2026-03-01", "end_date": "2026-05-29", "max_count": "100",
            "cond-0-group": "and", "cond-0-field": "region_code", "cond-0-op": "IN",
            "cond-0-values": "us, DE", "cond-1-group": "not", "cond-1-field": "hashtag_name",
            "cond-1-op": "EQ", "cond-1-values": "sport",
            "cond-2-group": "and", "cond-2-field": "", "cond-2-op": "EQ", "cond-2-values": "",
            "fields": QUERY["fields"]}
    data.update(extra)
    return data


def _run_id(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return int(re.search(r"/research/runs/(\d+)", response.headers["Location"]).group(1))


def test_a_new_user_runs_a_90_day_query_watches_it_and_exports_and_looks_up_comments(make_app):
    app = make_app()
    client, _person = _browser(app)
    page = client.get("/research/")
    assert page.status_code == 200 and b'name="cond-0-field"' in page.data
    assert b'href="/research/"' in page.data  # the nav link, in sandbox mode
    token = csrf_token(client, "/research/")

    preview = client.post("/research/build", data=_form(token, action="preview"))
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "3 windows of at most 30 days" in text
    assert "&#34;start_date&#34;: &#34;20260301&#34;" in text
    assert "&#34;end_date&#34;: &#34;20260330&#34;" in text

    run_id = _run_id(client.post("/research/build", data=_form(token, action="run", name="Spring")))
    run_page = client.get(f"/research/runs/{run_id}").get_data(as_text=True)
    wanted = expected_ids()
    assert "Done" in run_page and "3 / 3" in run_page and f"{len(wanted)} records match" in run_page
    assert "<script>alert" not in run_page and "&lt;script&gt;alert" in run_page

    export = client.get(f"/research/runs/{run_id}/results.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(export.lstrip("\ufeff"))))
    assert {r["id"] for r in rows} == wanted
    hostile = [r for r in rows if "HYPERLINK" in r["video_description"]]
    assert hostile and all(r["video_description"].startswith("'=HYPERLINK") for r in hostile)
    as_json = json.loads(client.get(f"/research/runs/{run_id}/results.json").data)
    assert {v["id"] for v in as_json} == wanted and all(isinstance(v["id"], str) for v in as_json)

    video = max((v for v in sandbox_research.videos() if str(v["id"]) in wanted),
                key=lambda v: v["comment_count"])
    lookup = client.post("/research/lookup", data={"csrf_token": token, "kind": "comments",
                                                   "value": str(video["id"]), "parent_id": str(run_id)})
    comments_id = _run_id(lookup)
    comments = client.get(f"/research/runs/{comments_id}").get_data(as_text=True)
    newest = min(video["comment_count"], 40) - 1
    assert "Done" in comments and f"comment {newest} on" in comments  # newest first
    assert f"/research/runs/{comments_id}" in client.get(f"/research/runs/{run_id}").get_data(as_text=True)

    quota_page = client.get("/research/").get_data(as_text=True)
    run = app.extensions["research"].store.research.run(run_id)
    assert f"{run.requests + app.extensions['research'].store.research.run(comments_id).requests} / 1000" \
        in quota_page


def test_the_results_table_sorts_filters_and_pages(make_app):
    app = make_app()
    client, _person = _browser(app)
    token = csrf_token(client, "/research/")
    run_id = _run_id(client.post("/research/build", data=_form(token, action="run")))

    by_views = client.get(f"/research/runs/{run_id}?sort=view_count&order=desc").get_data(as_text=True)
    views = [int(v) for v in re.findall(r'text-cell">[^<]*</td>\s*<td>(\d+)</td>', by_views)]
    assert views and views == sorted(views, reverse=True) and len(views) == 50
    only = client.get(f"/research/runs/{run_id}?username=nyc_news").get_data(as_text=True)
    names = set(re.findall(r"<td>([a-z_]+)</td><td>(?:US|DE)</td>", only))
    assert names == {"nyc_news"}
    last = client.get(f"/research/runs/{run_id}?page=999").status_code
    assert last == 200


@pytest.mark.parametrize("change,field,message", [
    ({"cond-0-values": "USA"}, "cond-0-values", "is not a valid value for this field"),
    ({"cond-0-op": "GT"}, "cond-0-op", "cannot be compared with GT"),
    ({"cond-1-values": "sport, news"}, "cond-1-values", "Give exactly one value"),
    ({"cond-0-field": "", "cond-0-values": "", "cond-1-field": "", "cond-1-values": ""}, "conditions",
     "Add at least one condition"),
    ({"end_date": "2026-02-01"}, "end_date", "The end date is before the start date"),
    ({"start_date": "2026-02-30"}, "start_date", "Give a date as YYYY-MM-DD"),
    ({"max_count": "500"}, "max_count", "Give a number from 1 to 100"),
    ({"fields": ["id", "secret_field"]}, "fields", "is not a video field"),
])
def test_a_bad_query_is_refused_with_the_message_next_to_its_field(make_app, change, field, message):
    app = make_app()
    client, _person = _browser(app)
    token = csrf_token(client, "/research/")

    answer = client.post("/research/build", data=_form(token, action="run", **change))

    text = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert re.search(rf'id="err-{field}" role="alert">[^<]*{re.escape(message)}', text), text[-3000:]
    assert app.extensions["research"].store.research.runs(_person) == []


def test_saved_queries_are_named_copied_rerun_and_private(make_app):
    app = make_app()
    client, person_id = _browser(app)
    token = csrf_token(client, "/research/")
    assert client.post("/research/build", data=_form(token, action="save")).status_code == 400  # no name
    saved = client.post("/research/build", data=_form(token, action="save", name="US and DE"))
    query_id = int(saved.headers["Location"].rsplit("=", 1)[1])
    opened = client.get(f"/research/?query={query_id}").get_data(as_text=True)
    assert 'value="US and DE"' in opened and 'value="US, DE"' in opened

    copy = client.post("/research/queries", data={"csrf_token": token, "query_id": query_id,
                                                  "action": "copy"})
    assert "Copy of US and DE" in client.get(copy.headers["Location"]).get_data(as_text=True)
    run_id = _run_id(client.post("/research/queries", data={"csrf_token": token, "query_id": query_id,
                                                            "action": "run"}))
    assert app.extensions["research"].store.research.run(run_id).records == len(expected_ids())

    stranger, _other = _browser_of(app, "someone-else")
    theirs = csrf_token(stranger, "/research/")
    assert stranger.get(f"/research/?query={query_id}").status_code == 404
    assert stranger.get(f"/research/runs/{run_id}").status_code == 404
    assert stranger.get(f"/research/runs/{run_id}/results.csv").status_code == 404
    for action in ("run", "copy", "delete"):
        answer = stranger.post("/research/queries", data={"csrf_token": theirs, "query_id": query_id,
                                                          "action": action})
        assert answer.status_code == 404
    assert stranger.post("/research/runs/control", data={"csrf_token": theirs, "run_id": run_id,
                                                         "action": "stop"}).status_code == 404
    assert stranger.post("/research/lookup", data={"csrf_token": theirs, "kind": "comments", "value": "1",
                                                   "parent_id": run_id}).status_code == 404
    assert app.extensions["research"].store.research.query(person_id, query_id) is not None


def test_a_stopped_run_keeps_its_records_and_resume_finishes_it(make_app):
    app = make_app(QUEUE_IMMEDIATE=False)  # runs wait in the queue: the test works them
    client, person_id = _browser(app)
    token = csrf_token(client, "/research/")
    run_id = _run_id(client.post("/research/build", data=_form(token, action="run")))
    assert "Queued" in client.get(f"/research/runs/{run_id}").get_data(as_text=True)

    stop = client.post("/research/runs/control", data={"csrf_token": token, "run_id": run_id,
                                                       "action": "stop"})
    page = client.get(stop.headers["Location"]).get_data(as_text=True)
    assert "Stopped" in page and 'value="resume"' in page
    client.post("/research/runs/control", data={"csrf_token": token, "run_id": run_id, "action": "resume"})
    from dashboard.core.research import work_run

    assert work_run(app.extensions["research"], run_id).code == "done"
    assert f"{len(expected_ids())} records match" in client.get(f"/research/runs/{run_id}").get_data(
        as_text=True)


def _browser_of(app, open_id):
    store = app.extensions["core"].store
    person_id, _account = store.accounts.connect(None, open_id, "user.info.basic")
    client = app.test_client()
    with client.session_transaction() as session:
        session["person_id"] = person_id
    return client, person_id


def test_without_research_credentials_research_only_says_who_can_apply(make_app):
    app = make_app(TIKTOK_CLIENT_KEY="live-key", TIKTOK_CLIENT_SECRET="live-secret")
    client, _person = _browser(app)

    page = client.get("/research/")

    assert page.status_code == 200 and b"non-profit academic institutions" in page.data
    assert b"RESEARCH_CLIENT_KEY" in page.data and b'name="cond-0-field"' not in page.data
    assert client.get("/research/runs/1").status_code == 404
    assert b'href="/research/"' not in client.get("/research/").data


def test_flask_research_run_gives_the_rows_the_browser_run_gives(make_app, tmp_path):
    app = make_app()
    query_file = tmp_path / "query.json"
    query_file.write_text(json.dumps(QUERY))
    out = tmp_path / "results.csv"

    result = app.test_cli_runner().invoke(args=["research", "run", str(query_file), "--out", str(out)])

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8").lstrip("\ufeff"))))
    assert {r["id"] for r in rows} == expected_ids() and list(rows[0]) == QUERY["fields"]
    client, _person = _browser(app)
    token = csrf_token(client, "/research/")
    run_id = _run_id(client.post("/research/build", data=_form(token, action="run")))
    export = client.get(f"/research/runs/{run_id}/results.csv").get_data(as_text=True)
    assert sorted(csv.DictReader(io.StringIO(export.lstrip("\ufeff"))), key=lambda r: r["id"]) == \
        sorted(rows, key=lambda r: r["id"])


@pytest.mark.parametrize("change,where", [
    ({"colour": "red"}, "colour: unknown key"),
    ({"query": {}}, "query: needs at least one condition"),
    ({"query": {"and": [{"operation": "EQ", "field_name": "region_code", "field_values": "US"}]}},
     "query.and[0].field_values: must be a list"),
    ({"max_count": "100"}, "max_count: must be a whole number"),
    ({"fields": ["id", 3]}, "fields[1]: must be a string"),
])
def test_flask_research_run_refuses_a_bad_query_with_the_path_of_the_first_error(make_app, tmp_path,
                                                                                 change, where):
    app = make_app()
    query_file = tmp_path / "query.json"
    query_file.write_text(json.dumps({**QUERY, **change}))

    result = app.test_cli_runner().invoke(args=["research", "run", str(query_file), "--out",
                                                str(tmp_path / "out.json")])

    assert result.exit_code != 0 and where in result.output
    with app.extensions["core"].store.session() as db:
        assert db.scalar(select(func.count()).select_from(ResearchRun)) == 0  # nothing started


def test_flask_research_run_pauses_at_the_quota_and_resume_finishes_without_duplicates(make_app, tmp_path):
    app = make_app(RESEARCH_DAILY_REQUESTS=2)
    query_file = tmp_path / "query.json"
    query_file.write_text(json.dumps({**QUERY, "max_count": 50}))
    out = tmp_path / "results.json"
    cli = app.test_cli_runner()

    paused = cli.invoke(args=["research", "run", str(query_file), "--out", str(out), "--no-wait"])

    assert paused.exit_code == 3, paused.output
    assert "flask research resume 1" in paused.output
    assert 50 < len(json.loads(out.read_text())) < len(expected_ids())  # what two requests brought
    research = app.extensions["research"]
    research.settings = replace(research.settings, daily_requests=1000)  # the next day
    with app.extensions["core"].store.session() as db:
        db.execute(update(ResearchRun).values(resume_at=None))

    done = cli.invoke(args=["research", "resume", "1", "--out", str(out)])

    assert done.exit_code == 0, done.output
    ids = [v["id"] for v in json.loads(out.read_text())]
    assert sorted(ids) == sorted(expected_ids())


def test_a_90_day_range_is_three_windows_of_at_most_30_days_and_a_day_is_one():
    from datetime import date

    windows = split_windows(date(2026, 3, 1), date(2026, 5, 29))
    assert [(s.isoformat(), e.isoformat()) for s, e in windows] == [
        ("2026-03-01", "2026-03-30"), ("2026-03-31", "2026-04-29"), ("2026-04-30", "2026-05-29")]
    assert split_windows(date(2026, 3, 1), date(2026, 3, 1)) == [(date(2026, 3, 1), date(2026, 3, 1))]
    query, problems = check_video_query({**QUERY, "fields": ["view_count"]})
    assert problems == [] and query.fields == ("id", "view_count")  # rows are keyed by id


def test_the_ad_library_form_searches_ads_and_advertisers_and_refuses_bad_input(make_app):
    app = make_app()
    client, _person = _browser(app)
    token = csrf_token(client, "/research/")

    bad = client.post("/research/ads", data={"csrf_token": token, "start_date": "2022-01-01",
                                              "end_date": "2026-12-31", "country_code": "Italy"})
    page = client.get(bad.headers["Location"]).get_data(as_text=True)
    assert "The ad library starts on 2022-10-01." in page and "two-letter country code" in page

    ads = _run_id(client.post("/research/ads", data={"csrf_token": token, "start_date": "2026-01-01",
                                                      "end_date": "2026-06-30", "country_code": "it",
                                                      "search_term": "coffee"}))
    expected = {str(a["ad"]["id"]) for a in sandbox_research.ad_data()[1]
                if "IT" in a["ad"]["countries"] and "coffee" in a["text"].lower()
                and a["ad"]["first_shown_date"] <= "20260630"}
    rows = json.loads(client.get(f"/research/runs/{ads}/results.json").data)
    assert {r["ad"]["id"] for r in rows} == expected and expected
    export = client.get(f"/research/runs/{ads}/results.csv").get_data(as_text=True)
    assert export.splitlines()[0].lstrip("\ufeff").startswith("ad.id,ad.first_shown_date")

    advertisers = _run_id(client.post("/research/lookup", data={"csrf_token": token, "kind": "advertisers",
                                                                "value": "coffee"}))
    page = client.get(f"/research/runs/{advertisers}").get_data(as_text=True)
    assert "Coffee Works" in page and "Coffee Corner" in page and "2 records match" in page
    works = next(a for a in sandbox_research.ad_data()[0] if a["business_name"] == "Coffee Works")
    assert f'name="advertiser_business_id" value="{works["business_id"]}"' in page

    their_ads = _run_id(client.post("/research/ads", data={
        "csrf_token": token, "parent_id": advertisers, "advertiser_business_id": str(works["business_id"]),
        "start_date": "2022-10-02", "end_date": "2026-12-31", "country_code": "ALL"}))
    rows = json.loads(client.get(f"/research/runs/{their_ads}/results.json").data)
    assert rows and {r["advertiser"]["business_name"] for r in rows} == {"Coffee Works"}
    assert len(rows) == sum(1 for a in sandbox_research.ad_data()[1]
                            if a["advertiser"]["business_id"] == works["business_id"])


@pytest.mark.parametrize("kind,value,message", [
    ("user_info", "not a name!", "A username has letters, digits"),
    ("comments", "12ab", "A video id is a number"),
    ("advertisers", "x" * 51, "Give a search term of 1 to 50 characters."),
])
def test_a_lookup_by_hand_checks_its_input_first(make_app, kind, value, message):
    app = make_app()
    client, person_id = _browser(app)
    token = csrf_token(client, "/research/")

    answer = client.post("/research/lookup", data={"csrf_token": token, "kind": kind, "value": value})

    assert message in client.get(answer.headers["Location"]).get_data(as_text=True)
    assert app.extensions["research"].store.research.runs(person_id) == []


def test_the_explorer_speaks_chinese_to_a_chinese_browser(make_app):
    app = make_app()
    client, _person = _browser(app)
    chinese = {"Accept-Language": "zh-CN,zh;q=0.9"}
    token = csrf_token(client, "/research/")

    page = client.get("/research/", headers=chinese).get_data(as_text=True)
    refused = client.post("/research/build", data=_form(token, action="run", end_date="2026-02-01"),
                          headers=chinese).get_data(as_text=True)

    assert "研究 API" in page and "今日配额" in page and "必须满足（and）" in page
    assert "结束日期早于开始日期。" in refused


@pytest.mark.parametrize("path", ["/research/runs/{}", "/research/runs/{}/results.csv"])
def test_a_run_id_past_the_databases_integers_is_404_not_a_crash(make_app, path):
    # Found by test_fuzz on PostgreSQL: 2147483648 overflowed the integer column (a 500).
    client, _person = _browser(make_app())
    for run_id in (2**31, 2**63, 10**30):
        assert client.get(path.format(run_id)).status_code == 404
