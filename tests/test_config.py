"""Settings: sandbox by default, unsafe live settings refused at start-up."""

import pytest

import config
from config import ConfigError, finalize, normalize_database_url, problems, validate

LIVE = {
    "TIKTOK_CLIENT_KEY": "aw1234live",
    "TIKTOK_CLIENT_SECRET": "live-secret-value",
    "SECRET_KEY": "k" * 40,
    "TIKTOK_SCOPES": config.DEFAULT_SCOPES,
    "TIKTOK_REDIRECT_URI": "https://dash.example.com/callback",
}


def test_no_client_key_means_sandbox_mode(tmp_path):
    settings = finalize({"TIKTOK_CLIENT_KEY": None, "TIKTOK_SCOPES": config.DEFAULT_SCOPES}, str(tmp_path))
    assert settings["SANDBOX_MODE"] is True
    assert settings["TIKTOK_CLIENT_KEY_EFFECTIVE"] == "sandbox-client-key"
    assert len(settings["SECRET_KEY"]) >= 32
    validate(settings)


def test_sandbox_secret_key_survives_a_restart_and_is_private(tmp_path):
    first = finalize({"TIKTOK_SCOPES": config.DEFAULT_SCOPES}, str(tmp_path))["SECRET_KEY"]
    second = finalize({"TIKTOK_SCOPES": config.DEFAULT_SCOPES}, str(tmp_path))["SECRET_KEY"]
    assert first == second
    assert (tmp_path / "sandbox-secret-key").stat().st_mode & 0o077 == 0


def test_client_key_means_live_mode_with_tiktok_defaults(tmp_path):
    settings = finalize(dict(LIVE), str(tmp_path))
    assert settings["SANDBOX_MODE"] is False
    assert settings["TIKTOK_AUTH_URL"] == "https://www.tiktok.com/v2/auth/authorize/"
    assert settings["TIKTOK_API_BASE"] == "https://open.tiktokapis.com"
    validate(settings)


@pytest.mark.parametrize("secret", [None, "", "short", "change-me", "x" * 31])
def test_live_mode_refuses_a_missing_or_weak_secret_key(tmp_path, secret):
    settings = finalize({**LIVE, "SECRET_KEY": secret}, str(tmp_path))
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        validate(settings)


def test_live_mode_names_every_problem_at_once(tmp_path):
    settings = finalize({**LIVE, "SECRET_KEY": "", "TIKTOK_CLIENT_SECRET": None,
                         "TOKEN_ENCRYPTION_KEYS": "not-a-key"}, str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        validate(settings)
    message = str(caught.value)
    for key in ("SECRET_KEY", "TIKTOK_CLIENT_SECRET", "TOKEN_ENCRYPTION_KEYS"):
        assert key in message


def test_debug_on_a_public_interface_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_HOST", "0.0.0.0")
    settings = finalize({**LIVE, "DEBUG": True}, str(tmp_path))
    assert any("Debug" in p for p in problems(settings))
    monkeypatch.setenv("FLASK_RUN_HOST", "127.0.0.1")
    assert problems(settings) == []


def test_plain_http_redirect_uri_on_a_public_host_is_refused(tmp_path):
    settings = finalize({**LIVE, "TIKTOK_REDIRECT_URI": "http://dash.example.com/callback"}, str(tmp_path))
    assert any("TIKTOK_REDIRECT_URI" in p for p in problems(settings))


def test_unknown_scope_is_refused(tmp_path):
    settings = finalize({**LIVE, "TIKTOK_SCOPES": "user.info.basic video.list"}, str(tmp_path))
    assert any("TIKTOK_SCOPES" in p for p in problems(settings))


@pytest.mark.parametrize("url, expected", [
    ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("sqlite:///x.db", "sqlite:///x.db"),
])
def test_database_urls_are_normalised_for_psycopg3(url, expected):
    assert normalize_database_url(url) == expected


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    settings = finalize({"TIKTOK_SCOPES": config.DEFAULT_SCOPES}, str(tmp_path))
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path}/dashboard.sqlite3"


@pytest.mark.parametrize("uri, loopback", [
    ("http://localhost:5000/callback", True),
    ("http://127.0.0.1:8080/callback", True),
    ("http://[::1]:8080/callback", True),
    ("https://dash.example.com/callback", False),
    ("http://localhost.evil.com/callback", False),
])
def test_loopback_redirect_uris_are_recognised(uri, loopback):
    assert config.is_loopback_uri(uri) is loopback
