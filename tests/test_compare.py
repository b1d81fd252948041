"""/compare: accounts side by side over a date range, its exports, and period over period."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from dashboard import charts, comparison
from dashboard.core import compare as core_compare
from dashboard.storage.models import ProfileSnapshot, Report, SyncRun, Video
from dashboard.storage.reports import Compared
from dashboard.web import engagement
from tests.flow_helpers import csrf_token

# --- pure numbers --------------------------------------------------------------------------------


def test_an_indexed_series_starts_at_100_and_moves_with_the_level():
    points = [(date(2025, 10, 1), 1000), (date(2025, 10, 2), 1100), (date(2025, 10, 3), 950)]
    assert comparison.indexed(points, 1000) == [(date(2025, 10, 1), 100), (date(2025, 10, 2), 110),
                                                (date(2025, 10, 3), 95)]


@pytest.mark.parametrize("base", [0, None])
def test_an_account_with_no_followers_at_the_start_has_no_index(base):
    assert comparison.indexed([(date(2025, 10, 1), 5)], base) is None


@pytest.mark.parametrize("start, end, rate", [(1000, 1200, 0.2), (200, 150, -0.25), (0, 50, None),
                                              (None, 50, None), (10, None, None)])
def test_growth_rate_is_the_net_change_over_the_start(start, end, rate):
    assert comparison.growth_rate(start, end) == rate


def test_cadence_is_videos_per_week():
    assert comparison.cadence(3, 28) == 0.75
    assert comparison.cadence(10, 7) == 10
    assert comparison.cadence(1, 0) is None


def test_median_of_odd_and_even_counts_and_of_none():
    assert comparison.median([100, 1000, 300]) == 300
    assert comparison.median([10, 30]) == 20
    assert comparison.median([]) is None


def test_a_change_against_an_earlier_zero_has_no_percentage():
    assert comparison.Delta(200, 100).change == 100
    assert comparison.Delta(200, 100).pct == 1.0
    assert comparison.Delta(5, 0).pct is None
    assert comparison.Delta(5, None).change is None


def test_the_previous_period_has_the_same_length_and_ends_the_day_before():
    assert comparison.previous_range(date(2025, 10, 1), date(2025, 10, 28)) == (date(2025, 9, 3),
                                                                                date(2025, 9, 30))


@pytest.mark.parametrize("raw, code", [
    (["1,x"], "not_a_number"), (["1,-2"], "not_a_number"), (["1,99999999999"], "not_a_number"),
    (["1,1"], "duplicate"), (["1"], "too_few"), ([",".join(map(str, range(1, 12)))], "too_many"),
    (["1,3"], "not_visible"),
])
def test_a_selection_that_cannot_be_compared_says_why(raw, code):
    with pytest.raises(core_compare.SelectionError) as caught:
        core_compare.parse_selection(raw, [1, 2, *range(4, 12)])
    assert caught.value.code == code
    assert caught.value.status == (404 if code == "not_visible" else 400)


def test_a_selection_comes_from_commas_or_repeated_checkboxes():
    assert core_compare.parse_selection(["2,1"], [1, 2]) == [2, 1]
    assert core_compare.parse_selection(["1", "2"], [1, 2]) == [1, 2]


def test_the_comparison_chart_has_one_series_per_account_with_its_own_dash_and_a_named_legend():
    series = [{"name": f"<b>acct {i}</b>", "points": [(date(2025, 10, 1), i), (date(2025, 10, 9), i * 2)],
               **charts.series_style(i)} for i in range(10)]
    svg = str(charts.line_chart(series, aria_label="Followers", direct_labels=True))
    groups = re.findall(r'<g class="chart-series (chart-series-\d+)"><path ([^>]*)>', svg)
    assert [g[0] for g in groups] == [f"chart-series-{i}" for i in range(1, 11)]
    dashes = [re.search(r'stroke-dasharray="([^"]*)"', attrs) for _c, attrs in groups]
    patterns = ["solid" if d is None else d.group(1) for d in dashes]
    assert len(set(patterns)) == 10
    legend = svg[svg.index('<g class="chart-legend">'):]
    for i in range(10):
        assert f"&lt;b&gt;acct {i}&lt;/b&gt;" in legend  # names as text, never markup
    assert svg.count('class="chart-label chart-direct-label"') == 10
    assert "style=" not in svg and "<script" not in svg


# --- pages and exports over a known history -------------------------------------------------------


def _at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def seed_account(store, person_id, open_id: str, name: str, followers: dict[str, int],
                 videos: list[tuple[str, int, int, int, int]]) -> int:
    """An account with these follower counts (by day) and videos (posted day, views, likes,
    comments, shares), written through the stores."""
    person_id, account_id = store.accounts.connect(person_id, open_id, "user.info.basic,video.list")
    store.accounts.update_profile(account_id, {"display_name": name, "username": open_id})
    with store.session() as db:
        for day, count in followers.items():
            db.add(ProfileSnapshot(account_id=account_id, taken_at=_at(day), follower_count=count))
        for n, (day, views, likes, comments, shares) in enumerate(videos):
            db.add(Video(account_id=account_id, video_id=f"{account_id}{n:04d}", create_time=_at(day, 9),
                         title=f"{name} video {n}", view_count=views, like_count=likes,
                         comment_count=comments, share_count=shares, first_seen_at=_at(day),
                         last_seen_at=_at(day)))
    return person_id, account_id


@pytest.fixture
def two_accounts(app):
    store = app.extensions["core"].store
    person, big = seed_account(store, None, "big", "Big <script>", {
        "2025-09-01": 900, "2025-09-30": 1000, "2025-10-10": 1100, "2025-10-28": 1200},
        [("2025-09-10", 50, 5, 0, 0), ("2025-10-02", 100, 10, 2, 1), ("2025-10-05", 1000, 50, 5, 5),
         ("2025-10-20", 300, 20, 3, 2)])
    _, small = seed_account(store, person, "small", "Small", {"2025-09-29": 0, "2025-10-15": 50},
                            [("2025-10-03", 10, 1, 0, 0), ("2025-10-12", 30, 2, 1, 0)])
    _, foreign = seed_account(store, None, "stranger", "Stranger", {"2025-10-01": 5}, [])
    client = app.test_client()
    with client.session_transaction() as session:
        session["person_id"], session["account_id"] = person, big
    return client, big, small, foreign


RANGE = "from=2025-10-01&to=2025-10-28"


def _table(html: str, css: str) -> list[list[str]]:
    body = html[html.index(f'<table class="{css}">'):]
    body = body[:body.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
            for r in rows]


def test_the_table_shows_each_accounts_numbers_and_the_exports_hold_the_same(two_accounts):
    client, big, small, _ = two_accounts
    page = client.get(f"/compare?accounts={big},{small}&{RANGE}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Big <script>" not in html
    assert not re.search(r"\sstyle=|<style|<script(?![^>]*\bsrc=)|\son[a-z]+=", html)  # the strict CSP
    head, big_row, small_row = _table(html, "compare-table")
    assert head[:3] == ["Account", "Followers at the start", "Followers at the end"]
    assert big_row == ["Big &lt;script&gt;", "1,000", "1,200", "+200", "+20.0%", "3", "0.8", "300",
                       "7.0%"]
    # Small's history starts inside the range, at 0 followers: no growth rate, no index.
    assert small_row[0] == "Small" and small_row[1].startswith("0") and small_row[3:5] == ["+50", "—"]
    assert small_row[5:] == ["2", "0.5", "20", "10.0%"]
    assert "Over the videos posted in the range" in html

    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/compare.csv?accounts={big},{small}&{RANGE}").get_data(as_text=True).lstrip("\ufeff"))))
    data = client.get(f"/compare.json?accounts={big},{small}&{RANGE}").get_json()
    for row, table_row in ((rows[0], big_row), (rows[1], small_row)):
        assert row["followers_end"] == table_row[2].replace(",", "")
        assert row["videos_posted"] == table_row[5]
        assert row["engagement_formula"] == "views"
    assert float(rows[0]["growth_rate"]) == 0.2 and rows[1]["growth_rate"] == ""
    assert float(rows[0]["median_views"]) == 300
    assert float(rows[0]["engagement_rate"]) == pytest.approx(98 / 1400)
    big_json, small_json = data["accounts"]
    assert (big_json["followers_start"], big_json["net_change"]) == (1000, 200)
    assert big_json["videos_per_week"] == 0.75
    assert big_json["engagement_rate"] == pytest.approx(98 / 1400) and small_json["growth_rate"] is None
    assert data["engagement_formula"] == "views" and data["compared"] is None
    assert [v["view_count"] for v in big_json["top_videos"]] == [1000, 300, 100]


@pytest.mark.parametrize("formula, expected", [("median", 25 / 300), ("followers", 98 / 3100)])
def test_the_persons_engagement_formula_is_the_comparisons(two_accounts, app, formula, expected):
    client, big, small, _ = two_accounts
    store = app.extensions["core"].store
    with client.session_transaction() as session:
        person = session["person_id"]
    assert store.accounts.set_engagement_formula(person, formula)
    data = client.get(f"/compare.json?accounts={big},{small}&{RANGE}").get_json()
    assert data["engagement_formula"] == formula
    assert data["accounts"][0]["engagement_rate"] == pytest.approx(expected, abs=1e-6)  # rounded to 6
    row = next(csv.DictReader(io.StringIO(client.get(
        f"/compare.csv?accounts={big},{small}&{RANGE}").get_data(as_text=True).lstrip("\ufeff"))))
    assert row["engagement_formula"] == formula
    assert float(row["engagement_rate"]) == pytest.approx(expected, abs=1e-6)
    html = client.get(f"/compare?accounts={big},{small}&{RANGE}").get_data(as_text=True)
    with app.test_request_context():
        words = str(engagement.formula_words(formula))
    assert words.split(":")[0] in html


def test_the_exports_are_named_by_the_range_and_neutralise_formulas(two_accounts, app):
    client, big, small, _ = two_accounts
    app.extensions["core"].store.accounts.update_profile(small, {"display_name": "=HYPERLINK(1)"})
    response = client.get(f"/compare.csv?accounts={big},{small}&{RANGE}")
    disposition = response.headers["Content-Disposition"]
    assert disposition == 'attachment; filename="compare-2025-10-01-2025-10-28.csv"'
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "'=HYPERLINK(1)" in response.get_data(as_text=True)


def test_period_over_period_shows_both_values_and_the_change(two_accounts):
    client, big, small, _ = two_accounts
    html = client.get(f"/compare?accounts={big},{small}&{RANGE}&vs=previous").get_data(as_text=True)
    rows = {(r[0], r[1]): r[2:] for r in _table(html, "compare-vs")[1:]}
    assert rows[("Big &lt;script&gt;", "Net change")] == ["+200", "+100", "+100", "+100.0%"]
    assert rows[("Big &lt;script&gt;", "Videos posted")] == ["3", "1", "+2", "+200.0%"]
    # Small had no videos before: the change has no percentage.
    assert rows[("Small", "Videos posted")] == ["2", "0", "+2", "—"]
    data = client.get(f"/compare.json?accounts={big},{small}&{RANGE}&vs=custom"
                      "&vs_from=2025-09-03&vs_to=2025-09-30").get_json()
    assert [(r["date_from"], r["net_change"]) for r in data["compared"]] == [("2025-09-03", 100),
                                                                              ("2025-09-03", 0)]


@pytest.mark.parametrize("query, status, message", [
    ("accounts={big}", 400, "Choose at least 2 accounts"),
    ("accounts={big},{big}", 400, "chosen twice"),
    ("accounts={big},abc", 400, "by their number"),
    ("accounts={big},{foreign}", 404, "not one you can see"),
    ("accounts={big},999999", 404, "not one you can see"),
    ("accounts={big},{small}&from=2025-10-28&to=2025-10-01", 400, "before the start date"),
    ("accounts={big},{small}&from=2025-10-01&to=2999-01-01", 400, "in the future"),
    ("accounts={big},{small}&from=1990-01-01&to=2025-01-01", 400, "at most 3660 days"),
    ("accounts={big},{small}&from=2025-13-01&to=2025-10-01", 400, "YYYY-MM-DD"),
    ("accounts={big},{small}&preset=forever", 400, "listed periods"),
    ("accounts={big},{small}&vs=custom&vs_from=2025-09-30&vs_to=2025-09-01", 400, "before the start date"),
])
def test_a_refused_choice_gets_its_message_beside_the_field_and_the_right_status(two_accounts, query,
                                                                                  status, message):
    client, big, small, foreign = two_accounts
    url = "/compare?" + query.format(big=big, small=small, foreign=foreign)
    response = client.get(url)
    assert response.status_code == status
    assert message in response.get_data(as_text=True).replace("&#34;", '"')
    assert 'class="field-error"' in response.get_data(as_text=True)
    export = client.get(url.replace("/compare?", "/compare.csv?"))
    assert export.status_code == status and message in export.get_data(as_text=True)
    assert export.mimetype == "text/plain"
    answer = client.get(url.replace("/compare?", "/compare.json?"))
    assert answer.status_code == status and answer.mimetype == "application/json"
    assert message in answer.get_json()["error"] and answer.get_json()["fields"]


def test_the_form_lists_only_the_persons_accounts_and_needs_a_login(two_accounts, app):
    client, big, small, foreign = two_accounts
    html = client.get("/compare").get_data(as_text=True)
    assert f'value="{big}"' in html and f'value="{small}"' in html and "Stranger" not in html
    assert app.test_client().get("/compare").status_code == 401
    with client.session_transaction() as session:
        session["lang"] = "zh"
    html = client.get(f"/compare?accounts={big},{small}&{RANGE}").get_data(as_text=True)
    assert "对比账号" in html and "期末粉丝数" in html and "互动率（按播放量加权）" in html


def test_the_videos_filter_compares_its_range_with_the_previous_period_or_any_other(two_accounts):
    client, *_ = two_accounts
    html = client.get(f"/videos?{RANGE}&vs=previous").get_data(as_text=True)
    assert re.search(r"3 in this range, 1 from .*Sep 3, 2025.* to .*Sep 30, 2025.*; change \+2 \(\+200.0%\)",
                     html)
    html = client.get(f"/videos?{RANGE}&vs_from=2025-08-01&vs_to=2025-08-31").get_data(as_text=True)
    assert "3 in this range, 0 from" in html and "change +3 (—)" in html
    assert "in this range" not in client.get(f"/videos?{RANGE}").get_data(as_text=True)


@pytest.mark.parametrize("query, field", [
    ("vs=previous", "vs"), (f"{RANGE}&vs=sometime", "vs"),
    (f"{RANGE}&vs=custom&vs_from=2025-09-30&vs_to=2025-09-01", "vs_to"),
    (f"{RANGE}&vs=custom&vs_from=2025-09-01", "vs_to"),
])
def test_a_bad_range_to_compare_videos_with_is_a_400_beside_its_field(two_accounts, query, field):
    client, *_ = two_accounts
    response = client.get(f"/videos?{query}")
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.get_data(as_text=True)


def test_indexed_followers_start_at_100_on_the_first_day_and_a_zero_start_is_not_indexed(two_accounts, app):
    client, big, small, _ = two_accounts
    core = app.extensions["core"]
    accounts = core_compare.visible_accounts(core.store, core.store.accounts.get(big).person_id)
    data = core_compare.build_comparison(core, accounts, date(2025, 10, 1), date(2025, 10, 28), "UTC")
    big_numbers, small_numbers = data.accounts
    assert big_numbers.indexed == [(date(2025, 10, 1), 100), (date(2025, 10, 10), 110),
                                   (date(2025, 10, 28), 120)]
    assert small_numbers.indexed is None and small_numbers.growth_rate is None
    html = client.get(f"/compare?accounts={big},{small}&{RANGE}").get_data(as_text=True)
    assert "at the start): Small." in html


def test_the_overview_can_compare_each_change_with_the_previous_period(two_accounts, app):
    client, big, *_ = two_accounts
    with app.extensions["core"].store.session() as db:  # the overview counts up to the last sync
        db.add(SyncRun(account_id=big, status="ok", taken_at=_at("2025-10-28"),
                       finished_at=_at("2025-10-28")))
    plain = client.get("/").get_data(as_text=True)
    assert "+200 in 28 days" in plain and "previous 28 days" not in plain and "vs=previous" in plain
    html = client.get("/?vs=previous").get_data(as_text=True)
    assert "previous 28 days: +100; change +100 (+100.0%)" in html
    assert "previous 7 days: —; change — (—)" in html  # no two counts in the 7 days before
    assert "period=week&amp;vs=previous" in html
    assert client.get("/?vs=sometime").status_code == 400


# --- the comparison as a PDF report ----------------------------------------------------------------


def _pdf_text(data: bytes) -> str:
    import pypdf  # why: only these tests read PDFs back

    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def _ask_pdf(client, query: str):
    """Press the page's Download PDF button: post the form's hidden fields with its CSRF token."""
    html = client.get(f"/compare?{query}").get_data(as_text=True)
    form = html[html.index('action="/compare/pdf"'):]
    form = form[:form.index("</form>")]
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
    return client.post("/compare/pdf", data=dict(fields))


def _download(client, answer) -> bytes:
    assert answer.status_code == 303, answer.get_data(as_text=True)
    status = client.get(answer.headers["Location"]).get_data(as_text=True)
    link = re.search(r'href="(/reports/file/[^"]+\.pdf)"', status)
    assert link, status
    pdf = client.get(link.group(1))
    assert pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="compare-2025-10-01-2025-10-28.pdf"'
    return pdf.get_data()


@pytest.mark.parametrize("lang, words", [
    ("en", ("Accounts compared", "Followers at the end", "Compared range", "Engagement rate")),
    ("zh", ("期末粉丝数", "互动率")),
])
def test_the_pdf_of_a_comparison_holds_both_accounts_and_the_exports_numbers(two_accounts, lang, words):
    client, big, small, _ = two_accounts
    with client.session_transaction() as session:
        session["lang"] = lang
    query = f"accounts={big},{small}&{RANGE}&vs=previous"
    text = _pdf_text(_download(client, _ask_pdf(client, query)))
    flat = re.sub(r"\s+", "", text)
    data = client.get(f"/compare.json?{query}").get_json()
    big_json = data["accounts"][0]
    assert "Big <script>" in text and "Small" in text
    assert f"{big_json['followers_end']:,}" in text  # 1,200
    assert f"+{big_json['growth_rate']:.1%}" in text  # +20.0%
    assert f"{big_json['engagement_rate']:.1%}" in text  # 7.0%
    assert "Big <script> video 2" in text  # its most viewed video
    for word in words:
        assert re.sub(r"\s+", "", word) in flat, word
    assert len(data["compared"]) == 2


def test_a_pdf_of_an_account_the_person_cannot_see_is_refused_and_queues_nothing(two_accounts, app):
    client, big, small, foreign = two_accounts
    token = csrf_token(client, "/compare")
    for ids, status in ((f"{big},{foreign}", 404), (f"{big},999999", 404), (str(big), 400)):
        answer = client.post("/compare/pdf", data={"csrf_token": token, "accounts": ids, "from": "2025-10-01",
                                                   "to": "2025-10-28"})
        assert answer.status_code == status, ids
    assert client.post("/compare/pdf", data={"csrf_token": token, "accounts": f"{big},{small}",
                                             "from": "2025-10-28", "to": "2025-10-01"}).status_code == 400
    with app.extensions["core"].store.session() as db:
        assert db.scalar(select(func.count()).select_from(Report)) == 0


def test_a_comparison_is_only_its_askers_and_is_refused_once_an_account_is_unshared(two_accounts, app):
    client, big, small, foreign = two_accounts
    store, jobs = app.extensions["core"].store, app.extensions["jobs"]
    with client.session_transaction() as session:
        person = session["person_id"]
    stranger = store.accounts.get(foreign).person_id
    store.sharing.add_member(foreign, person, "viewer", stranger)

    def queued() -> Report:
        return store.reports.create_comparison(Compared([big, foreign]), person, date(2025, 10, 1),
                                               date(2025, 10, 28), "en", "UTC")

    made = queued()
    jobs.render_report(made.id)
    assert store.reports.get(made.id).status == "ok"
    # The other owner may see `foreign`, not this person's comparison of it.
    other = app.test_client()
    with other.session_transaction() as session:
        session["person_id"], session["account_id"] = stranger, foreign
    assert other.get(f"/reports/status/{made.token}").status_code == 404
    assert other.get(f"/reports/file/{made.token}.pdf").status_code == 404
    assert client.get(f"/reports/file/{made.token}.pdf").mimetype == "application/pdf"

    assert store.sharing.remove_member(foreign, person)
    # Made before, no longer downloadable: the waiting page says why.
    answer = client.get(f"/reports/file/{made.token}.pdf")
    assert answer.status_code == 302 and answer.mimetype != "application/pdf"
    page = client.get(f"/reports/status/{made.token}").get_data(as_text=True)
    assert "no longer shared with you" in page and "/reports/file/" not in page
    # Queued before, rendered after: the worker re-checks and refuses.
    late = queued()
    jobs.render_report(late.id)
    row = store.reports.get(late.id)
    assert (row.status, row.error_code, row.pdf) == ("failed", "not_visible", None)
    assert "no longer shared with you" in client.get(f"/reports/status/{late.token}").get_data(as_text=True)
