"""Login with TikTok (Login Kit v2): authorize, callback, tokens, logout.

The flow, one way: ``/auth`` sends the browser to TikTok (or the sandbox)
with a one-time ``state`` and, for loopback redirect URIs, TikTok's desktop
PKCE (hex-encoded SHA-256); ``/callback`` checks ``state`` before anything
else, exchanges the code, stores the tokens encrypted on the server and
gives the browser a fresh session that only references them.

Tokens are refreshed here and only here: before they expire, or when the
API says ``access_token_invalid``; one refresh per account at a time, the
rotated refresh token saved in the same write.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from datetime import timedelta
from urllib.parse import urlencode, urljoin

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from config import is_loopback_uri
from dashboard.errors import render_error
from dashboard.models import utcnow
from dashboard.security import limiter, safe_next_path
from dashboard.sessions import regenerate_session
from dashboard.store import TokenRecord, get_store
from tiktok_official_api import TikTokAPIError, TikTokAuthError, TikTokClient

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

#: Session key of the pending authorization (state, PKCE verifier, redirect URI).
PENDING_KEY = "oauth_pending"
#: A pending authorization older than this is refused: a consent page left
#: open for longer is better restarted than trusted.
PENDING_MAX_AGE = 15 * 60
#: Refresh this long before the access token expires, so a sync that starts
#: just before expiry does not fail half-way.
REFRESH_LEEWAY = timedelta(minutes=5)
#: How long one process may hold the refresh lease of an account.
REFRESH_LEASE_SECONDS = 30
#: Longest callback parameter we accept; TikTok's codes and states are far shorter.
MAX_PARAM_LENGTH = 2048

#: OAuth errors of a code exchange that mean the code itself was refused.
REFUSED_CODE_ERRORS = frozenset({"invalid_grant", "invalid_request"})

PKCE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


class ReauthRequired(Exception):
    """The account's tokens are gone or refused: its owner must log in again."""


# --- provider settings -----------------------------------------------------------


def provider() -> dict:
    """Client credentials, authorize URL and scopes in force (the sandbox's in sandbox mode)."""
    cfg = current_app.config
    auth_url = cfg.get("TIKTOK_AUTH_URL")
    if cfg["SANDBOX_MODE"] and not auth_url:
        auth_url = urljoin(request.host_url, "sandbox/v2/auth/authorize/")
    return {**provider_for_api(), "auth_url": auth_url, "scopes": cfg["TIKTOK_SCOPES"]}


def api_base() -> str:
    cfg = current_app.config
    if cfg["SANDBOX_MODE"] and not cfg.get("TIKTOK_API_BASE"):
        from dashboard.sandbox_runtime import sandbox_api_base

        return sandbox_api_base(current_app)
    return cfg["TIKTOK_API_BASE"]


def make_client(access_token: str | None = None) -> TikTokClient:
    return TikTokClient(
        access_token,
        base_url=api_base(),
        timeout=(5, current_app.config["TIKTOK_TIMEOUT"]),
    )


def redirect_uri() -> str:
    return current_app.config.get("TIKTOK_REDIRECT_URI") or url_for("auth.callback", _external=True)


def make_pkce() -> tuple[str, str]:
    """TikTok's desktop PKCE: a 64-char verifier and the *hex* SHA-256 challenge."""
    verifier = "".join(secrets.choice(PKCE_ALPHABET) for _ in range(64))
    return verifier, hashlib.sha256(verifier.encode()).hexdigest()


def authorize_url(settings: dict, uri: str, state: str, challenge: str | None) -> str:
    params = {
        "client_key": settings["client_key"],
        "scope": settings["scopes"],
        "response_type": "code",
        "redirect_uri": uri,
        "state": state,
    }
    if challenge:
        params["code_challenge"] = challenge
        params["code_challenge_method"] = "S256"
    separator = "&" if "?" in settings["auth_url"] else "?"
    return settings["auth_url"] + separator + urlencode(params)


# --- routes --------------------------------------------------------------------------


def _auth_limit() -> str:
    return current_app.config["AUTH_RATE_LIMIT"]


@bp.get("/auth")
@limiter.limit(_auth_limit)
def auth():
    """Start a login: remember a fresh state (and verifier), go to TikTok."""
    settings = provider()
    uri = redirect_uri()
    state = secrets.token_urlsafe(32)
    verifier = challenge = None
    if is_loopback_uri(uri):
        verifier, challenge = make_pkce()
    session[PENDING_KEY] = {
        "state": state,
        "verifier": verifier,
        "redirect_uri": uri,
        "next": safe_next_path(request.args.get("next")),
        "at": time.time(),
    }
    return redirect(authorize_url(settings, uri, state, challenge))


@bp.get("/callback")
@limiter.limit(_auth_limit)
def callback():
    """Finish a login: state first, then the provider's error, then the code."""
    args = request.args
    if any(len(v) > MAX_PARAM_LENGTH for v in args.values()):
        return render_error(400, _("Login failed"), _("The login response was malformed."))
    pending = session.pop(PENDING_KEY, None)
    state = args.get("state", "")
    if not pending or not state or not hmac.compare_digest(
        str(pending.get("state", "")).encode(), state.encode()
    ):
        return render_error(
            400,
            _("Login expired or not started here"),
            _("This login link is not valid any more. Please start the login again."),
        )
    if time.time() - float(pending.get("at", 0)) > PENDING_MAX_AGE:
        return render_error(400, _("Login expired"), _("The login took too long. Please try again."))
    if args.get("error"):
        return _provider_refused(args.get("error", ""), args.get("error_description", ""))
    code = args.get("code")
    if not code:
        return render_error(400, _("Login failed"), _("TikTok did not send an authorization code."))
    return _finish_login(code, pending, args.get("scopes"))


def _provider_refused(error: str, description: str):
    if error == "access_denied":
        return render_error(
            403,
            _("Login cancelled"),
            _("You declined to connect your TikTok account. Nothing was stored."),
        )
    log.info("authorization refused by provider: %s", error[:64])
    return render_error(
        400,
        _("TikTok refused the login"),
        _("TikTok could not authorize this app (%(error)s). %(description)s",
          error=error[:64], description=description[:300]),
    )


def _finish_login(code: str, pending: dict, granted: str | None):
    settings = provider()
    try:
        token = make_client().exchange_code(
            client_key=settings["client_key"],
            client_secret=settings["client_secret"],
            code=code,
            redirect_uri=pending["redirect_uri"],
            code_verifier=pending.get("verifier"),
        )
    except TikTokAPIError as exc:
        log.warning("code exchange failed: code=%s log_id=%s", exc.code, exc.log_id)
        # A code TikTok refuses (expired, used, PKCE mismatch) is a bad request
        # from the browser; a fault on TikTok's side is a bad gateway.
        refused = exc.code in REFUSED_CODE_ERRORS
        return render_error(
            400 if refused else 502,
            _("Could not finish the login"),
            _("TikTok did not accept the login. Please try again."),
            error=exc,
        )
    scopes = token.get("scope") or granted or ""
    store = get_store()
    person_id, account_id = store.connect_account(session.get("person_id"), token["open_id"], scopes)
    store.save_token(account_id, token)
    regenerate_session()
    session["person_id"] = person_id
    session["account_id"] = account_id
    session["login_at"] = time.time()
    log.info("account %s connected", account_id)
    _first_sync(account_id)
    return redirect(pending.get("next") or url_for("dashboard.overview"))


def _first_sync(account_id: int) -> None:
    """Connecting runs the first sync at once, so the dashboard is never empty."""
    if not current_app.config.get("SYNC_ON_CONNECT", True):
        return
    from dashboard.sync import run_sync

    result = run_sync(account_id)
    if not result.ok:
        flash(_("Connected, but the first sync failed: %(reason)s", reason=result.message), "error")


@bp.post("/logout")
def logout():
    """Revoke the token at TikTok, delete it here, and clear the session."""
    account_id = session.get("account_id")
    person_id = session.get("person_id")
    if account_id and person_id and get_store().account_for(person_id, account_id):
        revoke(account_id)
    session.clear()
    regenerate_session()
    flash(_("You are logged out."), "info")
    return redirect(url_for("dashboard.overview"))


# --- tokens ----------------------------------------------------------------------------


def revoke(account_id: int) -> None:
    """Revoke at TikTok (best effort) and delete the stored token."""
    store = get_store()
    try:
        token = store.load_token(account_id)
    except Exception:  # an unreadable token is deleted all the same
        token = None
    if token is not None:
        settings = provider_for_api()
        try:
            make_client().revoke_token(
                client_key=settings["client_key"],
                client_secret=settings["client_secret"],
                token=token.access_token,
            )
        except TikTokAPIError as exc:
            log.warning("revoke failed: code=%s log_id=%s", exc.code, exc.log_id)
    store.delete_token(account_id)


def provider_for_api() -> dict:
    """The client key and secret the token endpoints take."""
    cfg = current_app.config
    return {"client_key": cfg["TIKTOK_CLIENT_KEY_EFFECTIVE"], "client_secret": cfg["TIKTOK_CLIENT_SECRET"]}


def active_token(account_id: int, *, force_refresh: bool = False) -> TokenRecord:
    """A usable access token: refreshed first when it expires soon (or when forced)."""
    store = get_store()
    token = store.load_token(account_id)
    if token is None:
        raise ReauthRequired(account_id)
    if force_refresh or token.expires_at - REFRESH_LEEWAY <= utcnow():
        token = _refresh(account_id, token)
    return token


def _refresh(account_id: int, stale: TokenRecord) -> TokenRecord:
    """Refresh once per account at a time; a waiter takes the winner's token."""
    store = get_store()
    deadline = time.monotonic() + REFRESH_LEASE_SECONDS
    while not (held := store.try_lock("refresh", account_id, REFRESH_LEASE_SECONDS)):
        time.sleep(0.2)
        current = store.load_token(account_id)
        if current is None:
            raise ReauthRequired(account_id)
        if current.access_token != stale.access_token:
            return current
        if time.monotonic() > deadline:
            raise ReauthRequired(account_id)
    try:
        current = store.load_token(account_id)
        if current is None:
            raise ReauthRequired(account_id)
        if current.access_token != stale.access_token:
            return current
        if current.refresh_expires_at <= utcnow():
            raise ReauthRequired(account_id)
        settings = provider_for_api()
        try:
            response = make_client().refresh_access_token(
                client_key=settings["client_key"],
                client_secret=settings["client_secret"],
                refresh_token=current.refresh_token,
            )
        except TikTokAuthError as exc:
            log.info("refresh refused for account %s: code=%s log_id=%s", account_id, exc.code, exc.log_id)
            store.delete_token(account_id)
            raise ReauthRequired(account_id) from exc
        return store.save_token(account_id, response)
    finally:
        store.unlock("refresh", account_id, held)


def call_api(account_id: int, operation):
    """Run ``operation(client)`` with a fresh token; on ``access_token_invalid``
    refresh once and try once more."""
    token = active_token(account_id)
    try:
        return operation(make_client(token.access_token))
    except TikTokAuthError:
        token = active_token(account_id, force_refresh=True)
        return operation(make_client(token.access_token))


def current_account_id() -> int:
    """The logged-in person's selected account, or 401."""
    person_id = session.get("person_id")
    account_id = session.get("account_id")
    if not person_id or not account_id or get_store().account_for(person_id, account_id) is None:
        abort(401)
    return account_id
