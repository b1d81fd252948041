"""Errors caught once, at the boundary, and shown as a plain sentence.

TikTok's faults become a page with the right status (502 upstream, 429 rate
limited, 401 login needed), TikTok's error code and its ``log_id``; never a
traceback. The next request starts clean.
"""

from __future__ import annotations

import logging

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

from oauth_handler import ReauthRequired
from tiktok_official_api import (
    TikTokAPIError,
    TikTokConnectionError,
    TikTokRateLimitError,
    TikTokResponseError,
    TikTokScopeError,
)

from .security import safe_next_path

log = logging.getLogger(__name__)


def render_error(status: int, title: str, message: str, *, error: TikTokAPIError | None = None,
                 headers: dict | None = None):
    body = render_template(
        "errors/error.html",
        status=status,
        title=title,
        message=message,
        code=getattr(error, "code", None),
        log_id=getattr(error, "log_id", None),
        return_to=_return_address() if status == 401 else None,
    )
    return body, status, headers or {}


def _return_address() -> str | None:
    """The page a logged-out visitor asked for, to come back to after login."""
    if request.method not in ("GET", "HEAD") or request.blueprint not in {"dashboard", "exports"}:
        return None
    return safe_next_path(request.full_path.rstrip("?"))


def describe_api_error(error: TikTokAPIError) -> tuple[int, str, str]:
    """Status, title and sentence for a TikTok fault."""
    if isinstance(error, TikTokRateLimitError):
        return 429, _("TikTok is busy"), _("TikTok asked us to slow down. Please try again in a minute.")
    if isinstance(error, TikTokConnectionError):
        return 504, _("TikTok did not answer"), _("TikTok could not be reached in time. Please try again.")
    if isinstance(error, TikTokResponseError):
        return 502, _("TikTok sent a broken answer"), _("TikTok's reply could not be read. Please try again.")
    if isinstance(error, TikTokScopeError):
        return 403, _("Permission missing"), _(
            "Your TikTok login did not grant the permission this needs. Log in again and allow it."
        )
    return 502, _("TikTok reported an error"), _("TikTok could not complete the request. Please try again.")


def _api_error(error: TikTokAPIError):
    status, title, message = describe_api_error(error)
    log.warning("TikTok error on %s: code=%s log_id=%s", request.path, error.code, error.log_id)
    headers = {}
    if isinstance(error, TikTokRateLimitError) and error.retry_after:
        headers["Retry-After"] = str(int(error.retry_after))
    return render_error(status, title, message, error=error, headers=headers)


def _http_error(error: HTTPException):
    # The exception's own headers (Allow on a 405, Retry-After on a 429), not its Content-Type.
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    if error.code == 429:
        return render_error(429, _("Too many requests"), _("Please wait a moment before trying again."),
                            headers=headers)
    messages = {
        400: (_("Bad request"), _("The request was not understood. Check the link and try again.")),
        401: (_("Please log in"), _("Log in with TikTok to see this page.")),
        403: (_("Not allowed"), _("You do not have access to this.")),
        404: (_("Page not found"), _("There is nothing at this address.")),
        405: (_("Not allowed"), _("This address does not accept that kind of request.")),
    }
    title, message = messages.get(
        error.code, (_("Error"), _("The request could not be completed. Please try again.")))
    return render_error(error.code or 500, title, message, headers=headers)


def _untrusted_host(error: SecurityError):
    """A ``Host`` header not in ``TRUSTED_HOSTS``: no URL can be built for it, so
    the answer is plain text, naming the setting for whoever runs the server."""
    log.warning("request for an untrusted host refused (see TRUSTED_HOSTS)")
    return (_("This server does not answer to that host name. Its operator can add it to "
              "TRUSTED_HOSTS."), 400, {"Content-Type": "text/plain; charset=utf-8"})


def _csrf_error(error: CSRFError):
    return render_error(
        400, _("Form expired"),
        _("The form was stale or came from elsewhere. Reload the page and try again."))


def _reauth(error):
    return redirect(url_for("dashboard.overview", reauth=1))


def _server_error(error):
    log.exception("unhandled error on %s", request.path)
    return render_error(500, _("Something went wrong"), _("An unexpected error happened. Please try again."))


def init_app(app) -> None:
    app.register_error_handler(TikTokAPIError, _api_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(SecurityError, _untrusted_host)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ReauthRequired, _reauth)
    app.register_error_handler(Exception, _server_error)
