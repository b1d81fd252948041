"""Login Kit: the authorize page, the token endpoint and revoke (spec §1–§2)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, redirect, request, url_for

from . import research
from .data import DEFAULT_ACCOUNT, open_id
from .media import avatar_url
from .wire import HTML, OAUTH, endpoint, error_page, html_page, json_response, log_id, oauth_error, sandbox

SCOPES = {
    "user.info.basic": ("Your profile picture and display name", "你的头像和昵称"),
    "user.info.profile": (
        "Your bio, profile link, username and verified badge",
        "你的简介、主页链接、用户名和认证标识",
    ),
    "user.info.stats": (
        "Your follower, following, like and video counts",
        "你的粉丝数、关注数、获赞数和视频数",
    ),
    "video.list": ("Your public videos and their statistics", "你的公开视频及其数据"),
}
BASIC_SCOPE = "user.info.basic"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
HEX_CHALLENGE = re.compile(r"[0-9a-f]{64}")
VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
PKCE_INVALID = "Code verifier or code challenge is invalid."
AUTH_PARAMS = (
    "client_key",
    "response_type",
    "scope",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "disable_auto_auth",
)


@dataclass(frozen=True)
class AuthRequest:
    """A validated authorize request."""

    params: dict[str, str]
    scopes: tuple[str, ...]
    desktop: bool

    @property
    def redirect_uri(self) -> str:
        return self.params["redirect_uri"]

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.params, sort_keys=True).encode()).hexdigest()


class RedirectError(Exception):
    """An authorize error reported to the client on its redirect_uri."""

    def __init__(self, error: str, description: str, **extra: str):
        super().__init__(description)
        self.query = {"error": error, "error_description": description, **extra}


class PageError(Exception):
    """An authorize error shown on TikTok's own page (no redirect)."""

    def __init__(self, field: str, detail: str):
        super().__init__(detail)
        self.field = field
        self.detail = detail


def redirect_kind(uri: str) -> str | None:
    """ "desktop" (loopback with a port), "web" (https) or None (not acceptable)."""
    if not uri or len(uri) >= 512:
        return None
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.query or parts.fragment or "?" in uri or "#" in uri or not parts.hostname or parts.username:
        return None
    if parts.scheme in ("http", "https") and parts.hostname in LOOPBACK_HOSTS and port is not None:
        return "desktop"
    if parts.scheme == "https" and parts.hostname not in LOOPBACK_HOSTS:
        return "web"
    return None


def parse_authorize(params) -> AuthRequest:
    """Validate authorize parameters; raises PageError or RedirectError."""
    values = {name: params.get(name, "") for name in AUTH_PARAMS}
    if not values["client_key"] or sandbox().state.client_secret(values["client_key"]) is None:
        raise PageError("client_key", "Unknown client_key.")
    kind = redirect_kind(values["redirect_uri"])
    if kind is None:
        raise PageError(
            "redirect_uri",
            "redirect_uri must be an https URL, or http(s) on localhost/127.0.0.1/[::1] with a port;"
            " no query string or fragment.",
        )
    if not values["state"]:
        raise PageError("state", "state is required.")
    if values["response_type"] != "code":
        raise RedirectError("unsupported_response_type", "response_type must be code.")
    scopes = _parse_scopes(values["scope"])
    _check_challenge(values, desktop=kind == "desktop")
    return AuthRequest(values, scopes, kind == "desktop")


def _parse_scopes(scope: str) -> tuple[str, ...]:
    requested = scope.split(",") if scope else []
    unknown = [s for s in requested if s not in SCOPES]
    if not requested or unknown:
        raise RedirectError(
            "invalid_scope",
            f"Invalid scope: {', '.join(unknown) or '(empty)'}. Scopes are comma-separated.",
            error_type="scope",
        )
    return tuple(dict.fromkeys(requested))


def _check_challenge(values: dict[str, str], *, desktop: bool) -> None:
    challenge, method = values["code_challenge"], values["code_challenge_method"]
    if not challenge and not method and not desktop:
        return
    if not challenge:
        raise RedirectError("invalid_request", "code_challenge is required for desktop apps.")
    if method != "S256":
        raise RedirectError("invalid_request", "code_challenge_method must be S256.")
    if not HEX_CHALLENGE.fullmatch(challenge):
        raise RedirectError("invalid_request", PKCE_INVALID + " Expected hex(sha256(code_verifier)).")


def redirect_to_client(uri: str, query: dict[str, str]) -> Response:
    response = redirect(f"{uri}?{urlencode(query)}", 302)
    response.headers["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------- views


@endpoint("authorize", HTML)
def authorize() -> Response:
    params = request.args if request.method == "GET" else request.form
    try:
        auth = parse_authorize(params)
    except PageError as exc:
        return error_page(exc.field, 400, exc.detail)
    except RedirectError as exc:
        return redirect_to_client(params["redirect_uri"], {**exc.query, "state": params.get("state", "")})
    if request.method == "GET":
        return _consent_page(auth)
    if not sandbox().state.consume_nonce(request.form.get("nonce", ""), auth.digest):
        return error_page("nonce", 400, "The page expired or was already submitted. Start again.")
    if request.form.get("action") != "authorize":
        query = {"error": "access_denied", "error_description": "The user denied the authorization request."}
        return redirect_to_client(auth.redirect_uri, {**query, "state": auth.params["state"]})
    return _grant(auth)


def _consent_page(auth: AuthRequest) -> Response:
    sb = sandbox()
    state = sb.state
    accounts = [
        {"key": key, "account": acc, "avatar": avatar_url(acc, state.clock.now(), 100)}
        for key, acc in sb.accounts.items()
    ]
    return html_page(
        "sandbox/consent.html",
        app_name=state.settings.app_name,
        params={k: v for k, v in auth.params.items() if v},
        scopes=[(s, *SCOPES[s]) for s in auth.scopes],
        basic=BASIC_SCOPE,
        accounts=accounts,
        default_account=DEFAULT_ACCOUNT if DEFAULT_ACCOUNT in sb.accounts else next(iter(sb.accounts)),
        nonce=state.new_nonce(auth.digest),
        action=url_for("authorize"),
        redirect_host=urlsplit(auth.redirect_uri).netloc,
        log_id=log_id(),
    )


def _grant(auth: AuthRequest) -> Response:
    sb = sandbox()
    account = request.form.get("account", "")
    if account not in sb.accounts:
        return error_page("account", 400, "Pick one of the sandbox accounts.")
    ticked = set(request.form.getlist("scopes"))
    granted = tuple(s for s in auth.scopes if s == BASIC_SCOPE or s in ticked)
    code = sb.state.issue_code(
        client_key=auth.params["client_key"],
        redirect_uri=auth.redirect_uri,
        code_challenge=auth.params["code_challenge"] or None,
        scopes=granted,
        account=account,
    )
    query = {"code": code, "scopes": ",".join(granted), "state": auth.params["state"]}
    return redirect_to_client(auth.redirect_uri, query)


@endpoint("token", OAUTH)
def token() -> Response:
    if request.mimetype != "application/x-www-form-urlencoded":
        return oauth_error(
            "invalid_request", "The request parameters are malformed. Use application/x-www-form-urlencoded."
        )
    form = request.form
    grant_type = form.get("grant_type", "")
    if not grant_type:
        return oauth_error("invalid_request", "grant_type is missed in request.")
    problem = _client_problem(form)
    if problem is not None:
        return problem
    if grant_type == "authorization_code":
        return _exchange_code(form)
    if grant_type == "refresh_token":
        return _refresh(form)
    if grant_type == "client_credentials":
        return research.issue_client_token(form["client_key"])
    return oauth_error("unsupported_grant_type", f"Unsupported grant_type: {grant_type}.")


def _client_problem(form) -> Response | None:
    client_key = form.get("client_key", "")
    if not client_key:
        return oauth_error("invalid_request", "Client key is missed in request.")
    if "client_secret" not in form or not form["client_secret"]:
        return oauth_error("invalid_request", "Client secret is missed in request.")
    secret = sandbox().state.client_secret(client_key)
    if secret is None or form["client_secret"] != secret:
        return oauth_error("invalid_client", "Client key or secret is invalid.")
    return None


def _exchange_code(form) -> Response:
    state = sandbox().state
    code = form.get("code", "")
    if not code:
        return oauth_error("invalid_request", "Code is missed in request.")
    found = state.peek_code(code)
    if found is None:
        return oauth_error("invalid_grant", "Authorization code is invalid.")
    grant, used = found
    if used:
        return oauth_error("invalid_grant", "Authorization code has been used.")
    if grant.expires_at <= state.clock.now():
        return oauth_error("invalid_grant", "Authorization code is expired.")
    if grant.client_key != form["client_key"]:
        return oauth_error("invalid_grant", "Authorization code was issued to another client.")
    if not form.get("redirect_uri"):
        return oauth_error("invalid_request", "Redirect_uri is missed in request.")
    if form["redirect_uri"] != grant.redirect_uri:
        return oauth_error("invalid_grant", "Redirect_uri is not matched with the uri when requesting code.")
    problem = _verify_pkce(grant.code_challenge, form.get("code_verifier"))
    if problem is not None:
        return problem
    if not state.consume_code(code):
        return oauth_error("invalid_grant", "Authorization code has been used.")
    tokens = state.issue_tokens(client_key=grant.client_key, account=grant.account, scopes=grant.scopes)
    return _token_response(tokens, grant.account, grant.client_key)


def _verify_pkce(challenge: str | None, verifier: str | None) -> Response | None:
    if challenge is None:
        return None
    if not verifier or not VERIFIER.fullmatch(verifier):
        return oauth_error("invalid_request", PKCE_INVALID)
    if hashlib.sha256(verifier.encode()).hexdigest() != challenge:
        return oauth_error("invalid_request", PKCE_INVALID)
    return None


def _refresh(form) -> Response:
    state = sandbox().state
    old = form.get("refresh_token", "")
    if not old:
        return oauth_error("invalid_request", "Refresh token is missed in request.")
    grant = state.refresh_grant(old)
    if grant is None or grant.client_key != form["client_key"]:
        return oauth_error("invalid_grant", "Refresh token is invalid or expired.")
    if not state.rotate_refresh_token(old):
        return oauth_error("invalid_grant", "Refresh token is invalid or expired.")
    tokens = state.issue_tokens(
        client_key=grant.client_key,
        account=grant.account,
        scopes=grant.scopes,
        grant_id=grant.grant_id,
        refresh_expires_at=grant.expires_at,
    )
    return _token_response(tokens, grant.account, grant.client_key)


def _token_response(tokens: dict, account: str, client_key: str) -> Response:
    body = {
        "access_token": tokens["access_token"],
        "expires_in": tokens["expires_in"],
        "open_id": open_id(account, client_key),
        "refresh_expires_in": tokens["refresh_expires_in"],
        "refresh_token": tokens["refresh_token"],
        "scope": tokens["scope"],
        "token_type": "Bearer",
    }
    return json_response(body, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"})


@endpoint("revoke", OAUTH)
def revoke() -> Response:
    if request.mimetype != "application/x-www-form-urlencoded":
        return oauth_error(
            "invalid_request", "The request parameters are malformed. Use application/x-www-form-urlencoded."
        )
    problem = _client_problem(request.form)
    if problem is not None:
        return problem
    token_value = request.form.get("token", "")
    if not token_value:
        return oauth_error("invalid_request", "Token is missed in request.")
    state = sandbox().state
    info = state.token_info(token_value)
    if info is not None and info.kind == "refresh":
        return oauth_error("invalid_request", "token must be an access token.")
    # Unknown, expired or already revoked tokens: nothing to do, still 200 (RFC 7009).
    if info is not None and info.client_key == request.form["client_key"]:
        state.revoke_grant(info.grant_id)
    return Response(b"", 200)


def register(app: Flask) -> None:
    app.add_url_rule("/v2/auth/authorize/", "authorize", authorize, methods=["GET", "POST"])
    app.add_url_rule("/v2/oauth/token/", "token", token, methods=["POST"])
    app.add_url_rule("/v2/oauth/revoke/", "revoke", revoke, methods=["POST"])
