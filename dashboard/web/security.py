"""Protections every response gets: headers, CSRF, rate limits, safe links.

The Content-Security-Policy allows no inline script or style and no remote
origin but TikTok's embed player: covers and avatars are the app's own
copies (``img-src 'self'``). Everything TikTok sends is text:
:func:`safe_link` decides which of its URLs may become a link.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
from urllib.parse import urlsplit

from flask import abort, current_app, g, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect, generate_csrf
from markupsafe import Markup


def masked_csrf_token() -> str:
    """This session's CSRF token, XORed with fresh random bytes: every copy on
    every page differs, so a compressed page never repeats it (BREACH). While
    a page is rendered to be stored, a placeholder that is filled when it is
    served (:mod:`dashboard.web.pages.page_cache`)."""
    placeholder = g.get("csrf_placeholder")
    if placeholder:
        return Markup(placeholder)  # kept as it is, so it is found and filled
    return mask(signed_csrf_token().encode()).decode()


#: Each session token's signed form, made once per process (see below).
_SIGNED: dict[tuple[str, str], str] = {}
_SIGNED_SIZE = 4096
_signed_lock = threading.Lock()


def signed_csrf_token() -> str:
    """Flask-WTF's signed form of this session's CSRF token, signed once per
    process: tokens do not expire (``WTF_CSRF_TIME_LIMIT`` is None), so every
    signature of one token is as good, and signing (an HMAC, a timestamp) was
    a twentieth of a warm page."""
    raw = session.get("csrf_token")
    key = (current_app.secret_key, raw)
    signed = _SIGNED.get(key) if raw else None
    if signed is None:
        signed = generate_csrf()
        with _signed_lock:
            if len(_SIGNED) >= _SIGNED_SIZE:
                _SIGNED.pop(next(iter(_SIGNED)))
            _SIGNED[(current_app.secret_key, session["csrf_token"])] = signed
    return signed


def mask(token: bytes) -> bytes:
    """``token`` XORed with as many fresh random bytes, both in URL-safe base64."""
    return masks(token, 1)[0]


def masks(token: bytes, count: int) -> list[bytes]:
    """``count`` masked copies of ``token``, each with its own random bytes
    (drawn from the system in one read)."""
    size = len(token)
    pads = secrets.token_bytes(size * count)
    return [base64.urlsafe_b64encode(pad + _xor(pad, token))
            for pad in (pads[i:i + size] for i in range(0, size * count, size))]


def _xor(a: bytes, b: bytes) -> bytes:
    """``a`` XOR ``b``, two strings of the same length, as whole integers."""
    return (int.from_bytes(a) ^ int.from_bytes(b)).to_bytes(len(a))


def unmask_csrf_token(value: str | None) -> str | None:
    """The token :func:`masked_csrf_token` masked; anything else as it came."""
    if not value or len(value) > 1024:
        return value
    try:
        raw = base64.urlsafe_b64decode(value.encode())
    except (binascii.Error, ValueError):
        return value
    half = len(raw) // 2
    if not half or len(raw) % 2:
        return value
    token = _xor(raw[:half], raw[half:])
    try:
        return token.decode("ascii")
    except UnicodeDecodeError:
        return value


class MaskedCSRFProtect(CSRFProtect):
    """Flask-WTF's CSRF check, reading the masked tokens the pages carry."""

    def _get_csrf_token(self):
        return unmask_csrf_token(super()._get_csrf_token())


csrf = MaskedCSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)

#: The views with a rate limit (see :func:`rate_limited`).
_LIMITED_VIEWS: set = set()


def rate_limited(limit):
    """``@limiter.limit(limit)``, remembering the view as one with a limit:
    every other request skips the limiter's per-request work (a warm page
    is a millisecond; the limiter's lookups were a twentieth of it)."""
    def decorate(view):
        wrapped = limiter.limit(limit)(view)
        _LIMITED_VIEWS.add(wrapped)
        return wrapped
    return decorate


def _init_limiter(app) -> None:
    """Flask-Limiter, its hooks (before, after and at the end of every request)
    run only for the views :func:`rate_limited` marked: there are no default
    limits, so no other view has anything to check, count or report."""
    registries = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
    earlier = [list(registry.get(None, ())) for registry in registries]
    limiter.init_app(app)
    for registry, hooks in zip(registries, earlier, strict=True):
        registry[None] = [hook if hook in hooks else _only_for_limited_views(hook)
                          for hook in registry.get(None, ())]


def _only_for_limited_views(hook):
    def hook_for_limited_views(*args):
        if current_app.view_functions.get(request.endpoint) in _LIMITED_VIEWS:
            return hook(*args)
        return args[0] if args else None  # an after-request hook passes its response on
    return hook_for_limited_views


#: Hosts whose https URLs may become links or embeds.
LINK_HOSTS = ("www.tiktok.com", "tiktok.com", "m.tiktok.com", "vm.tiktok.com", "vt.tiktok.com")

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "frame-src https://www.tiktok.com",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def safe_link(url: str | None) -> str | None:
    """A TikTok URL fit for ``<a href>`` or an embed, or None."""
    if not url or not isinstance(url, str) or len(url) > 4096:
        return None
    parts = urlsplit(url)
    if parts.scheme == "https" and (parts.hostname or "").lower() in LINK_HOSTS:
        return url
    return None


def safe_next_path(target: str | None) -> str | None:
    """A "return to" target, only when it is a path on this site."""
    if not target or len(target) > 512:
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return None
    return target


#: Longest query value a page accepts; the OAuth callback allows more
#: (see ``oauth_handler.MAX_PARAM_LENGTH``). Anything longer is tampering.
MAX_ARG_LENGTH = 200
MAX_ARGS = 20


def reject_oversized_args():
    """400 for a query string no page of ours produces."""
    if request.blueprint in {"auth"}:
        return None
    args = request.args
    if len(args) > MAX_ARGS or any(len(v) > MAX_ARG_LENGTH for v in args.values()):
        abort(400)
    return None


#: The headers every response gets unless its view set its own.
_EVERY_RESPONSE = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
_HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
_NO_STORE = ("Cache-Control", "no-store")


def set_security_headers(response):
    """The headers above, added in one pass over the response's own (seven
    ``setdefault`` calls, each a scan of them, were a twentieth of a page)."""
    headers = response.headers
    wanted = list(_EVERY_RESPONSE)
    if request.is_secure:
        wanted.append(_HSTS)
    if request.endpoint and request.endpoint != "static":
        wanted.append(_NO_STORE)
    present = {key.lower() for key in headers.keys()}
    headers.extend([(key, value) for key, value in wanted if key.lower() not in present])
    return response


def drop_stray_retry_after(response):
    """Flask-Limiter puts ``Retry-After`` on every limited response; it means
    "wait before retrying" (RFC 9110), so only refusals (429, 503) keep it."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def init_app(app) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    app.config["RATELIMIT_HEADERS_ENABLED"] = True
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    csrf.init_app(app)
    # Flask-WTF offers its unmasked token both ways; ours comes later and wins.
    app.jinja_env.globals["csrf_token"] = masked_csrf_token
    app.context_processor(lambda: {"csrf_token": masked_csrf_token})
    app.after_request(drop_stray_retry_after)  # registered first, so it runs after the limiter's
    _init_limiter(app)
    app.before_request(reject_oversized_args)
    app.after_request(set_security_headers)
