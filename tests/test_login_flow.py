"""The whole login flow against the sandbox over real HTTP, and what it shows."""

from urllib.parse import parse_qs, urlsplit

from tests.conftest import consent, login


def test_login_shows_profile_and_counts(client):
    page = login(client)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Lin Mei" in html
    assert "Sync now" in html
