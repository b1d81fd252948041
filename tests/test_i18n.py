"""The dashboard in English and Simplified Chinese.

The catalog tests keep the translation complete: a string added to a
template or a view without a Chinese translation, a translation that drops a
placeholder, or a .po edited without recompiling the committed .mo fails
here. The page tests check what a Chinese-speaking visitor sees.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask_babel import force_locale

from dashboard.web.i18n import compact
from tests.conftest import login

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
#: The README's ``pybabel extract`` options, less the output file.
EXTRACT_OPTIONS = ["-F", str(ROOT / "babel.cfg"),
                   "--ignore-dirs=.* _* sandbox tests bench migrations docs", str(ROOT)]
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def _read_po():
    with PO.open("rb") as f:
        return read_po(f, locale="zh")


def _messages(catalog) -> dict:
    """msgid → msgstr of every message a running app would use."""
    def plain(value):
        return tuple(value) if isinstance(value, list | tuple) else value

    return {plain(m.id): plain(m.string) for m in catalog if m.id and not m.fuzzy}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    out = tmp_path_factory.mktemp("i18n") / "messages.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-o", str(out), *EXTRACT_OPTIONS])
    with out.open("rb") as f:
        return read_po(f)


def test_committed_mo_matches_the_po():
    compiled = io.BytesIO()
    write_mo(compiled, _read_po())
    compiled.seek(0)
    with MO.open("rb") as f:
        committed = read_mo(f)
    assert _messages(committed) == _messages(read_mo(compiled)), (
        "messages.mo is out of date: run `pybabel compile -d translations` and commit it")


def test_every_extracted_string_has_a_chinese_translation(extracted):
    catalog = _read_po()
    assert len(extracted) > 100  # the extraction really read the app
    missing, empty, fuzzy = [], [], []
    for message in extracted:
        if not message.id:
            continue
        translated = catalog.get(message.id)
        if translated is None:
            missing.append(message.id)
        elif translated.fuzzy:
            fuzzy.append(message.id)
        elif not all(translated.string) if isinstance(translated.string, tuple) else not translated.string:
            empty.append(message.id)
    assert not missing, f"not in messages.po (run pybabel update): {missing}"
    assert not empty, f"no Chinese translation yet: {empty}"
    assert not fuzzy, f"fuzzy (check, then remove the flag): {fuzzy}"


def test_po_holds_no_fuzzy_or_obsolete_entries():
    catalog = _read_po()
    assert not [m.id for m in catalog if m.id and m.fuzzy]
    assert not catalog.obsolete, "obsolete #~ entries: remove them"


def _placeholders(text: str) -> Counter:
    return Counter(PLACEHOLDER.findall(text))


def test_translations_keep_every_placeholder():
    wrong = []
    for message in _read_po():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        # Chinese has one plural form: it must fit the plural msgid.
        if _placeholders(strings[0]) != _placeholders(ids[-1]):
            wrong.append((ids[-1], strings[0]))
        if strings[0].count("%") != ids[-1].count("%"):
            wrong.append((ids[-1], strings[0]))
    assert not wrong


def test_placeholder_check_catches_a_dropped_name():
    assert _placeholders("同步了 %(num)d 个视频") != _placeholders("Synced %(count)d videos.")
    assert _placeholders("%(days)d 天内 %(value)s") == _placeholders("%(value)s in %(days)d days")


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_chinese_browser_gets_the_chinese_landing_page_and_can_switch_to_english(client):
    chinese = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
    page = client.get("/", headers=chinese).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert "使用 TikTok 登录" in page
    assert "Log in with TikTok" not in page

    answer = client.post("/language", headers=chinese,
                         data={"lang": "en", "next": "/", "csrf_token": _csrf(page)})
    assert answer.status_code == 302
    page = client.get("/", headers=chinese).get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Log in with TikTok" in page
    assert "使用 TikTok 登录" not in page


def test_english_browser_can_switch_to_chinese(client):
    page = client.get("/", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert "Log in with TikTok" in page
    client.post("/language", data={"lang": "zh", "next": "/", "csrf_token": _csrf(page)})
    page = client.get("/", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "使用 TikTok 登录" in page


def test_language_switch_refuses_an_unknown_language(client):
    page = client.get("/").get_data(as_text=True)
    answer = client.post("/language", data={"lang": "fr", "csrf_token": _csrf(page)})
    assert answer.status_code == 400


@pytest.mark.parametrize(("locale", "number", "shown"), [
    ("zh", 12345, "1.2万"),
    ("en", 12345, "12.3K"),
    ("zh", 1234567, "123.5万"),
    ("en", 1234567, "1.2M"),
    ("zh", 1839.5, "1840"),
    ("en", 999, "999"),
    ("zh", None, "—"),
])
def test_counts_are_compacted_per_language(app, locale, number, shown):
    with app.app_context(), force_locale(locale):
        assert compact(number) == shown


def test_dashboard_pages_are_chinese_for_a_chinese_viewer(make_app):
    """Counts, weekdays, video-length buckets and the engagement formula."""
    client = make_app().test_client()
    login(client)
    page = client.get("/").get_data(as_text=True)
    client.post("/language", data={"lang": "zh", "next": "/", "csrf_token": _csrf(page)})
    overview = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in overview
    assert "粉丝" in overview and "立即同步" in overview and "Sync now" not in overview
    analytics = client.get("/analytics").get_data(as_text=True)
    assert "周一" in analytics and ">Mon<" not in analytics
    assert "&lt; 15 秒" in analytics and "15–30 秒" in analytics
    assert "互动率（按播放量加权）" in analytics
    assert "播放量." not in analytics  # no English full stop after the formula
    assert re.search(r"\d{4}年\d{1,2}月", analytics)  # months as 2025年4月, not 4月 2025


def test_failed_sync_reason_is_shown_in_the_viewers_language(make_app):
    """A run stores its reason in English (here: a sync killed half-way);
    a Chinese viewer still reads it in Chinese."""
    app = make_app()
    client = app.test_client()
    login(client)
    store = app.extensions["core"].store
    (account,) = store.accounts.all()
    store.runs.start(account.id)
    store.runs.abandon_stale(account.id)
    english = client.get("/").get_data(as_text=True)
    assert "The sync stopped before it finished." in english
    client.post("/language", data={"lang": "zh", "next": "/", "csrf_token": _csrf(english)})
    chinese = client.get("/").get_data(as_text=True)
    assert "上次同步失败：同步在完成前中断了。" in chinese
    assert "The sync stopped before it finished." not in chinese


def test_distinct_english_labels_keep_distinct_chinese_ones():
    """"Last synced" (a time) and "Last run" (what the run did) once both read
    "上次同步：": two labels that differ in English differ in Chinese too."""
    messages = _messages(_read_po())
    synced = messages["Last synced: %(when)s"].split("%(")[0]
    run = messages["Last run: %(videos)s, %(calls)s."].split("%(")[0]
    assert synced and run and synced != run


def test_counted_messages_go_through_ngettext(extracted):
    """"1 calls to TikTok": a message that counts something has a plural form."""
    counted = re.compile(r"%\((num|count|total|done|days)\)[sd] (videos?|calls?|days?)\b")
    singular_only = [m.id for m in extracted if isinstance(m.id, str) and counted.search(m.id)]
    assert singular_only == []
