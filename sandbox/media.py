"""Offline stand-ins for TikTok's CDN: signed, expiring SVG covers and avatars."""

from __future__ import annotations

import hmac
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from flask import Flask, Response, abort, request, url_for

from .data import Account, Video, media_query, sign_media, tiktok_avatar_url, tiktok_cover_url
from .wire import HTML, endpoint, sandbox

_SVG_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


def _local_url(endpoint_name: str, path: str, t: float, extra: dict | None = None, **values) -> str:
    settings = sandbox().state.settings
    query = {**media_query(path, t, settings.media_url_ttl), **(extra or {})}
    if settings.media_base_url:
        return f"{settings.media_base_url.rstrip('/')}{path}?{urlencode(query)}"
    return url_for(endpoint_name, _external=True, **values, **query)


def avatar_url(account: Account, t: float, size: int = 720) -> str:
    """Where the avatar is served: this sandbox (default) or a TikTok-shaped CDN URL."""
    settings = sandbox().state.settings
    if settings.media_urls == "tiktok":
        return tiktok_avatar_url(account, t, size, settings.media_url_ttl)
    path = f"/_static/avatar/{account.key}.svg"
    return _local_url("media_avatar", path, t, {"s": str(size)}, key=account.key)


def cover_url(video: Video, t: float) -> str:
    settings = sandbox().state.settings
    if settings.media_urls == "tiktok":
        return tiktok_cover_url(video, t, settings.media_url_ttl)
    return _local_url("media_cover", f"/_static/cover/{video.id}.svg", t, video_id=video.id)


def _refuse_unsigned() -> None:
    """403 for a missing, tampered or expired signature, like the real CDN."""
    state = sandbox().state
    if not state.settings.enforce_media_expiry:
        return
    expires = request.args.get("x-expires", "")
    signature = request.args.get("x-signature", "")
    if not expires.isdigit() or not hmac.compare_digest(signature, sign_media(request.path, int(expires))):
        abort(403)
    if int(expires) < state.clock.now():
        abort(403)


def _svg(body: str) -> Response:
    response = Response(body, mimetype="image/svg+xml")
    response.headers.update(_SVG_HEADERS)
    response.headers["Cache-Control"] = "private, max-age=600"
    return response


def _find_video(video_id: str) -> Video | None:
    if not video_id.isdigit() or len(video_id) > 20:
        return None
    slot = (int(video_id) >> 24) & 0xFF
    for account in sandbox().accounts.values():
        if account.slot % 256 == slot:
            found = account.by_id.get(video_id)
            if found is not None:
                return found
    return None


@endpoint("media", HTML)
def avatar(key: str) -> Response:
    account = sandbox().accounts.get(key)
    if account is None:
        abort(404)
    _refuse_unsigned()
    return _svg(avatar_svg(account))


@endpoint("media", HTML)
def cover(video_id: str) -> Response:
    video = _find_video(video_id)
    if video is None:
        abort(404)
    _refuse_unsigned()
    return _svg(cover_svg(video))


def _hue(seed: str) -> int:
    return sum(seed.encode()) * 37 % 360


def avatar_svg(account: Account) -> str:
    words = account.display_name.split()
    initials = "".join(w[0] for w in words[:2]).upper() or "?"
    hue = _hue(account.key)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200" viewBox="0 0 200 200">'
        f'<circle cx="100" cy="100" r="100" fill="hsl({hue},60%,55%)"/>'
        '<text x="100" y="100" dy="0.35em" text-anchor="middle" font-family="sans-serif" '
        f'font-size="72" fill="#fff">{escape(initials)}</text>'
        f"<title>{escape(account.display_name)}</title></svg>"
    )


def cover_svg(video: Video) -> str:
    portrait = video.height >= video.width
    width, height = (270, 480) if portrait else (480, 270)
    hue = int(video.id[-6:]) % 360
    caption = video.title if len(video.title) <= 24 else video.title[:23] + "…"
    minutes, seconds = divmod(video.duration, 60)
    cx, cy = width // 2, height // 2
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="hsl({hue},70%,45%)"/>'
        f'<stop offset="1" stop-color="hsl({(hue + 60) % 360},70%,25%)"/></linearGradient></defs>'
        f'<rect width="{width}" height="{height}" fill="url(#g)"/>'
        f'<circle cx="{cx}" cy="{cy}" r="34" fill="#000" fill-opacity="0.35"/>'
        f'<path d="M{cx - 12},{cy - 18} L{cx + 20},{cy} L{cx - 12},{cy + 18} Z" fill="#fff"/>'
        f'<text x="12" y="{height - 40}" font-family="sans-serif" font-size="16" fill="#fff">'
        f"{escape(caption)}</text>"
        f'<text x="12" y="{height - 16}" font-family="sans-serif" font-size="13" fill="#fff" '
        f'fill-opacity="0.8">'
        f"{minutes}:{seconds:02d}</text>"
        f"<title>{escape(video.title)}</title></svg>"
    )


def register(app: Flask) -> None:
    app.add_url_rule("/_static/avatar/<key>.svg", "media_avatar", avatar)
    app.add_url_rule("/_static/cover/<video_id>.svg", "media_cover", cover)
