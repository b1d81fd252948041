"""Login with TikTok: ``/auth``, ``/callback`` and ``POST /logout``.

The routes are thin: ``oauth_handler`` makes the state, PKCE and authorize
URL and exchanges the code; ``dashboard.core.accounts`` stores the tokens and
queues the first sync in the background, so the callback answers at once.
"""

from __future__ import annotations

import hmac
import logging
import time
from urllib.parse import urljoin

from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _

import oauth_handler
from dashboard.core import accounts
from tiktok_official_api import TikTokAPIError

from ..context import get_core, get_jobs
from ..errors import render_error
from ..security import rate_limited, safe_next_path
from ..sessions import regenerate_session

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

#: Session key of the pending authorization (state, PKCE verifier, redirect URI).
PENDING_KEY = "oauth_pending"
#: Longest callback parameter we accept; TikTok's codes and states are far shorter.
MAX_PARAM_LENGTH = 2048


def auth_url() -> str:
    """TikTok's authorize page; in sandbox mode the built-in one on this host."""
    cfg = current_app.config
    if cfg["SANDBOX_MODE"] and not cfg.get("TIKTOK_AUTH_URL"):
        return urljoin(request.host_url, "sandbox/v2/auth/authorize/")
    return cfg["TIKTOK_AUTH_URL"]


def redirect_uri() -> str:
    return current_app.config.get("TIKTOK_REDIRECT_URI") or url_for("auth.callback", _external=True)


def _auth_limit() -> str:
    return current_app.config["AUTH_RATE_LIMIT"]


@bp.get("/auth")
@rate_limited(_auth_limit)
def auth():
    """Start a login: remember a fresh state (and verifier), go to TikTok."""
    url, pending = oauth_handler.begin_login(get_core().provider, auth_url(), redirect_uri())
    pending["next"] = safe_next_path(request.args.get("next"))
    session[PENDING_KEY] = pending
    return redirect(url)


@bp.get("/callback")
@rate_limited(_auth_limit)
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
    if oauth_handler.pending_expired(pending):
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
    core = get_core()
    try:
        token = core.tokens.exchange(code, pending["redirect_uri"], pending.get("verifier"))
    except TikTokAPIError as exc:
        log.warning("code exchange failed: code=%s log_id=%s", exc.code, exc.log_id)
        # A code TikTok refuses (expired, used, PKCE mismatch) is a bad request
        # from the browser; a fault on TikTok's side is a bad gateway.
        refused = exc.code in oauth_handler.REFUSED_CODE_ERRORS
        return render_error(
            400 if refused else 502,
            _("Could not finish the login"),
            _("TikTok did not accept the login. Please try again."),
            error=exc,
        )
    person_id, account_id = accounts.connect(
        core, get_jobs(), session.get("person_id"), token, granted=granted,
        first_sync=current_app.config.get("SYNC_ON_CONNECT", True))
    regenerate_session()
    session["person_id"] = person_id
    session["account_id"] = account_id
    session["login_at"] = time.time()
    return redirect(pending.get("next") or url_for("dashboard.overview"))


@bp.post("/logout")
def logout():
    """End this browser's session only: the token stays, so scheduled syncs go on
    (disconnecting, which revokes and deletes, is its own button)."""
    session.clear()
    regenerate_session()
    flash(_("You are logged out."), "info")
    return redirect(url_for("dashboard.overview"))
