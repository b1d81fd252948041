"""The OAuth helper of Login Kit v2: authorize URL, code exchange, refresh, revoke.

No Flask here and no routes (``/auth``, ``/callback`` and ``/logout`` live in
``dashboard.web.auth`` and use this module). The pieces:

* :func:`begin_login` makes the one-time ``state`` and, for loopback redirect
  URIs, TikTok's desktop PKCE (a hex-encoded SHA-256 challenge), and the URL
  of TikTok's authorize page;
* :class:`TokenKeeper` owns the active-token lifecycle of every account: the
  code exchange, refresh before expiry or on ``access_token_invalid`` (one
  refresh per account at a time, under a lease, the rotated refresh token
  saved in the same write), and revocation.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from dashboard.storage import Store, TokenRecord
from dashboard.storage.models import utcnow
from dashboard.urls import is_loopback_uri
from tiktok_official_api import TikTokAPIError, TikTokAuthError, TikTokClient

log = logging.getLogger(__name__)

#: A pending authorization older than this is refused: a consent page left
#: open for longer is better restarted than trusted.
PENDING_MAX_AGE = 15 * 60
#: Refresh this long before the access token expires, so a sync that starts
#: just before expiry does not fail half-way.
REFRESH_LEEWAY = timedelta(minutes=5)
#: How long one process may hold the refresh lease of an account.
REFRESH_LEASE_SECONDS = 30
#: OAuth errors of a code exchange that mean the code itself was refused.
REFUSED_CODE_ERRORS = frozenset({"invalid_grant", "invalid_request"})

PKCE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


class ReauthRequired(Exception):
    """The account's tokens are gone or refused: its owner must log in again."""


@dataclass(frozen=True)
class Provider:
    """Where TikTok (or a TikTok-compatible server) is, and this app's credentials.

    ``api_base`` is a callable so that the built-in sandbox's loopback server
    starts on first use, not when the app is built.
    """

    client_key: str
    client_secret: str
    scopes: str
    api_base: Callable[[], str]
    timeout: tuple[float, float] = (5, 20)
    throttle: object | None = None

    def client(self, access_token: str | None = None) -> TikTokClient:
        return TikTokClient(access_token, base_url=self.api_base(), timeout=self.timeout,
                            throttle=self.throttle)


def make_pkce() -> tuple[str, str]:
    """TikTok's desktop PKCE: a 64-char verifier and the *hex* SHA-256 challenge."""
    verifier = "".join(secrets.choice(PKCE_ALPHABET) for _ in range(64))
    return verifier, hashlib.sha256(verifier.encode()).hexdigest()


def authorize_url(auth_url: str, client_key: str, scopes: str, redirect_uri: str, state: str,
                  challenge: str | None) -> str:
    params = {
        "client_key": client_key,
        "scope": scopes,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if challenge:
        params["code_challenge"] = challenge
        params["code_challenge_method"] = "S256"
    separator = "&" if "?" in auth_url else "?"
    return auth_url + separator + urlencode(params)


def begin_login(provider: Provider, auth_url: str, redirect_uri: str) -> tuple[str, dict]:
    """The authorize URL and the pending login to keep until the callback."""
    state = secrets.token_urlsafe(32)
    verifier = challenge = None
    if is_loopback_uri(redirect_uri):
        verifier, challenge = make_pkce()
    pending = {"state": state, "verifier": verifier, "redirect_uri": redirect_uri, "at": time.time()}
    url = authorize_url(auth_url, provider.client_key, provider.scopes, redirect_uri, state, challenge)
    return url, pending


def pending_expired(pending: dict) -> bool:
    return time.time() - float(pending.get("at", 0)) > PENDING_MAX_AGE


class TokenKeeper:
    """Every account's tokens: exchanged, refreshed and revoked through one path."""

    def __init__(self, provider: Provider, store: Store):
        self.provider = provider
        self.store = store

    def exchange(self, code: str, redirect_uri: str, verifier: str | None) -> dict:
        """Trade a login's code for tokens (TikTok's token response); never retried."""
        return self.provider.client().exchange_code(
            client_key=self.provider.client_key,
            client_secret=self.provider.client_secret,
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=verifier,
        )

    def active(self, account_id: int, *, force_refresh: bool = False) -> TokenRecord:
        """A usable access token: refreshed first when it expires soon (or when forced)."""
        token = self.store.tokens.load(account_id)
        if token is None:
            raise ReauthRequired(account_id)
        if force_refresh or token.expires_at - REFRESH_LEEWAY <= utcnow():
            token = self._refresh(account_id, token)
        return token

    def _refresh(self, account_id: int, stale: TokenRecord) -> TokenRecord:
        """Refresh once per account at a time; a waiter takes the winner's token."""
        runs, tokens = self.store.runs, self.store.tokens
        deadline = time.monotonic() + REFRESH_LEASE_SECONDS
        while not (held := runs.try_lock("refresh", account_id, REFRESH_LEASE_SECONDS)):
            time.sleep(0.2)
            current = tokens.load(account_id)
            if current is None:
                raise ReauthRequired(account_id)
            if current.access_token != stale.access_token:
                return current
            if time.monotonic() > deadline:
                raise ReauthRequired(account_id)
        try:
            current = tokens.load(account_id)
            if current is None:
                raise ReauthRequired(account_id)
            if current.access_token != stale.access_token:
                return current
            if current.refresh_expires_at <= utcnow():
                raise ReauthRequired(account_id)
            try:
                response = self.provider.client().refresh_access_token(
                    client_key=self.provider.client_key,
                    client_secret=self.provider.client_secret,
                    refresh_token=current.refresh_token,
                )
            except TikTokAuthError as exc:
                log.info("refresh refused for account %s: code=%s log_id=%s",
                         account_id, exc.code, exc.log_id)
                tokens.delete(account_id)
                raise ReauthRequired(account_id) from exc
            return tokens.save(account_id, response)
        finally:
            runs.unlock("refresh", account_id, held)

    def call(self, account_id: int, operation):
        """Run ``operation(client)`` with a fresh token; on ``access_token_invalid``
        refresh once and try once more."""
        token = self.active(account_id)
        try:
            return operation(self.provider.client(token.access_token))
        except TikTokAuthError:
            token = self.active(account_id, force_refresh=True)
            return operation(self.provider.client(token.access_token))

    def revoke_access_token(self, access_token: str) -> bool:
        """Revoke a token at TikTok; False (logged) when TikTok did not take it."""
        try:
            self.provider.client().revoke_token(
                client_key=self.provider.client_key,
                client_secret=self.provider.client_secret,
                token=access_token,
            )
        except TikTokAPIError as exc:
            log.warning("revoke failed: code=%s log_id=%s", exc.code, exc.log_id)
            return False
        return True
