"""Tokens encrypted at rest with rotation; secrets redacted from every log line."""

import logging

import pytest
from cryptography.fernet import Fernet

from dashboard.logging_filters import install_redaction, redact
from dashboard.storage.crypto import TokenCipher, TokenDecryptError


def test_rotation_keeps_old_tokens_readable_and_writes_with_the_new_key():
    old, new = Fernet.generate_key(), Fernet.generate_key()
    stored = TokenCipher([old]).encrypt("act.secret-token")
    rotated = TokenCipher([new, old])
    assert rotated.decrypt(stored) == "act.secret-token"
    fresh = rotated.encrypt("act.other")
    assert TokenCipher([new]).decrypt(fresh) == "act.other"
    with pytest.raises(TokenDecryptError):
        TokenCipher([old]).decrypt(fresh)
    assert TokenCipher([new]).decrypt(rotated.rotate(stored)) == "act.secret-token"


def test_ciphertext_does_not_contain_the_token():
    cipher = TokenCipher.from_config({"SECRET_KEY": "s" * 40})
    assert "act.secret" not in cipher.encrypt("act.secret-token")


def test_a_key_derived_from_another_secret_cannot_read_tokens():
    stored = TokenCipher.from_config({"SECRET_KEY": "a" * 40}).encrypt("act.x")
    with pytest.raises(TokenDecryptError):
        TokenCipher.from_config({"SECRET_KEY": "b" * 40}).decrypt(stored)


@pytest.mark.parametrize("line", [
    "GET /callback?code=abc*1!2345&state=xyz HTTP/1.1",
    "Authorization: Bearer act.1234567890abcdef",
    '{"access_token": "act.1234567890abcdef", "refresh_token": "rft.abcdefgh12345678"}',
    "refreshing with rft.abcdefgh12345678 now",
    "client_secret=supersecretvalue&grant_type=refresh_token",
    "GET /invite/Zk3_invite-secret-value-9Q/accept HTTP/1.1",
    "GET /auth?next=%2Finvite%2FZk3_invite-secret-value-9Q HTTP/1.1",
    # Letters the patterns' case folding takes for ASCII ones ("ſ" for "s", "ı" for "i").
    "GET /callback?ſtate=xyz HTTP/1.1",
    "client_ſecret=supersecretvalue",
    "GET /ınvıte/Zk3_invite-secret-value-9Q HTTP/1.1",
    "GET /İNVITE/Zk3_invite-secret-value-9Q HTTP/1.1",
    "BEARER act.1234567890abcdef",
])
def test_redaction_removes_codes_tokens_and_secrets(line):
    cleaned = redact(line)
    for secret in ("abc*1!2345", "xyz", "act.1234567890abcdef", "rft.abcdefgh12345678", "supersecretvalue",
                   "Zk3_invite-secret-value-9Q"):
        assert secret not in cleaned


def test_every_log_record_is_redacted_including_configured_secrets(caplog):
    install_redaction({"TIKTOK_CLIENT_SECRET": "my-client-secret-123"})
    with caplog.at_level(logging.INFO):
        logging.getLogger("werkzeug").info('"GET /callback?code=%s&state=s1 HTTP/1.1" 302', "c0de*!")
        logging.getLogger("x").warning("secret is %s", "my-client-secret-123")
    assert "c0de*!" not in caplog.text
    assert "my-client-secret-123" not in caplog.text
    assert "[REDACTED]" in caplog.text
