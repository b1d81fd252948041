"""Helpers for tests that drive the sandbox through a Flask test client.

They play both sides of the OAuth dance the way a browser and a client would:
open the consent page, submit its form, exchange the code.  ``max_calls_in_window``
(from ``state``) checks a client's request rate against a budget.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from html import unescape
from urllib.parse import parse_qs, urlsplit

from .state import SANDBOX_CLIENT_KEY, SANDBOX_CLIENT_SECRET, max_calls_in_window

__all__ = [
    "ALL_SCOPES",
    "DESKTOP_REDIRECT",
    "WEB_REDIRECT",
    "authorize_query",
    "bearer",
    "callback_params",
    "consent",
    "exchange",
    "form_fields",
    "login",
    "max_calls_in_window",
    "pkce_pair",
    "refresh",
]

ALL_SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.list")
WEB_REDIRECT = "https://dashboard.example.com/callback/"
DESKTOP_REDIRECT = "http://127.0.0.1:5000/callback"

_INPUT = re.compile(r"<input\b[^>]*>", re.S)
_ATTR = re.compile(r'(\w[\w-]*)(?:="([^"]*)")?')


def pkce_pair() -> tuple[str, str]:
    """A TikTok-style PKCE pair: (verifier, hex(sha256(verifier)))."""
    verifier = secrets.token_urlsafe(48)[:64]
    return verifier, hashlib.sha256(verifier.encode()).hexdigest()


def authorize_query(*, scopes=ALL_SCOPES, redirect_uri: str = WEB_REDIRECT, **extra: str) -> dict[str, str]:
    query = {
        "client_key": SANDBOX_CLIENT_KEY,
        "response_type": "code",
        "scope": ",".join(scopes),
        "redirect_uri": redirect_uri,
        "state": "state-" + secrets.token_hex(4),
    }
    query.update(extra)
    return {k: v for k, v in query.items() if v is not None}


def form_fields(html: str) -> dict[str, list[str]]:
    """The submitted values of a page's inputs (checked boxes and radios only)."""
    fields: dict[str, list[str]] = {}
    for tag in _INPUT.findall(html):
        attrs = {k: unescape(v or "") for k, v in _ATTR.findall(tag[6:-1])}
        if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
            continue
        if "name" in attrs and "disabled" not in attrs:
            fields.setdefault(attrs["name"], []).append(attrs.get("value", ""))
    return fields


def consent(client, query: dict[str, str], *, account: str = "creator", untick=(), action: str = "authorize"):
    """Open the consent page and submit it; returns the sandbox's response."""
    page = client.get("/v2/auth/authorize/", query_string=query)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    fields = form_fields(page.get_data(as_text=True))
    fields["account"] = [account]
    fields["scopes"] = [s for s in fields.get("scopes", []) if s not in untick]
    fields["action"] = [action]
    return client.post("/v2/auth/authorize/", data=fields)


def callback_params(response) -> dict[str, str]:
    """The query of a redirect back to the client, decoded once."""
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def exchange(client, code: str, *, redirect_uri: str = WEB_REDIRECT, **extra: str):
    form = {
        "client_key": SANDBOX_CLIENT_KEY,
        "client_secret": SANDBOX_CLIENT_SECRET,
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": redirect_uri,
        **extra,
    }
    return client.post("/v2/oauth/token/", data={k: v for k, v in form.items() if v is not None})


def login(client, *, account: str = "creator", scopes=ALL_SCOPES, untick=()) -> dict:
    """A full web code flow; returns the token response body."""
    query = authorize_query(scopes=scopes)
    back = callback_params(consent(client, query, account=account, untick=untick))
    answer = exchange(client, back["code"])
    assert "access_token" in answer.json, answer.json
    return answer.json


def refresh(client, refresh_token: str):
    return client.post(
        "/v2/oauth/token/",
        data={
            "client_key": SANDBOX_CLIENT_KEY,
            "client_secret": SANDBOX_CLIENT_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        },
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
