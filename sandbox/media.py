"""Offline stand-ins for TikTok's CDN: signed, expiring JPEG covers and avatars.

The pictures are drawn with Pillow from the video id or account key alone (a
gradient or colour block and a simple shape, no text and so no fonts), which
makes them deterministic and keeps any account text out of the response.  The
encoded bytes are kept in a small LRU, so a page of covers costs little.
"""

from __future__ import annotations

import colorsys
import hmac
import io
import zlib
from functools import lru_cache
from urllib.parse import urlencode

from flask import Flask, Response, abort, request, url_for
from PIL import Image, ImageDraw

from .data import Account, Video, media_query, sign_media, tiktok_avatar_url, tiktok_cover_url
from .wire import HTML, endpoint, sandbox

#: Cover sizes (width, height) by orientation: a 9:16 portrait or a 16:9 landscape.
PORTRAIT_COVER, LANDSCAPE_COVER = (270, 480), (480, 270)
#: Largest avatar edge served; a bigger ``s`` (TikTok's 720 and 1080) gets this.
AVATAR_SIZE = 200
#: Smallest avatar edge, so that ``s=0`` still draws something.
MIN_AVATAR_SIZE = 16
#: Good enough for a thumbnail; covers come out at about 5 kB.
JPEG_QUALITY = 80
#: Encoded images kept per process (covers and avatars each): a few MB at most.
CACHE_SIZE = 256

_IMAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, max-age=600",
}


# --------------------------------------------------------------------------- URLs


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
    path = f"/_static/avatar/{account.key}.jpeg"
    return _local_url("media_avatar", path, t, {"s": str(size)}, key=account.key)


def cover_url(video: Video, t: float) -> str:
    """Where the cover is served: this sandbox (default) or a TikTok-shaped CDN URL."""
    settings = sandbox().state.settings
    if settings.media_urls == "tiktok":
        return tiktok_cover_url(video, t, settings.media_url_ttl)
    return _local_url("media_cover", f"/_static/cover/{video.id}.jpeg", t, video_id=video.id)


# --------------------------------------------------------------------------- views


def _refuse_unsigned() -> None:
    """403 for a missing, tampered or expired signature, like the real CDN."""
    state = sandbox().state
    if not state.settings.enforce_media_expiry:
        return
    expires = request.args.get("x-expires", "")
    signature = request.args.get("x-signature", "")
    # Bytes, not str: compare_digest refuses non-ASCII text (a 500, not the CDN's 403).
    expected = sign_media(request.path, int(expires)) if expires.isascii() and expires.isdigit() else ""
    if not expected or not hmac.compare_digest(signature.encode(), expected.encode()):
        abort(403)
    if int(expires) < state.clock.now():
        abort(403)


def _jpeg(body: bytes) -> Response:
    response = Response(body, mimetype="image/jpeg")
    response.headers.update(_IMAGE_HEADERS)
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


def _avatar_size(raw: str | None) -> int:
    """The edge asked for with ``s``, within [MIN_AVATAR_SIZE, AVATAR_SIZE]."""
    if not raw or not raw.isdigit():
        return AVATAR_SIZE
    return max(MIN_AVATAR_SIZE, min(int(raw), AVATAR_SIZE))


@endpoint("media", HTML)
def avatar(key: str) -> Response:
    account = sandbox().accounts.get(key)
    if account is None:
        abort(404)
    _refuse_unsigned()
    return _jpeg(avatar_jpeg(account, _avatar_size(request.args.get("s"))))


@endpoint("media", HTML)
def cover(video_id: str) -> Response:
    video = _find_video(video_id)
    if video is None:
        abort(404)
    _refuse_unsigned()
    return _jpeg(cover_jpeg(video))


# --------------------------------------------------------------------------- drawing


def avatar_jpeg(account: Account, size: int = AVATAR_SIZE) -> bytes:
    """A ``size`` x ``size`` JPEG: a head and shoulders on a colour from the account key."""
    return _avatar_jpeg(account.key, size)


def cover_jpeg(video: Video) -> bytes:
    """A JPEG in the video's orientation: a gradient from its id and a play button."""
    return _cover_jpeg(video.id, *(PORTRAIT_COVER if video.height >= video.width else LANDSCAPE_COVER))


def _rgb(hue: int, saturation: float, lightness: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hls_to_rgb(hue / 360, lightness, saturation)
    return round(red * 255), round(green * 255), round(blue * 255)


@lru_cache(maxsize=4)
def _ramp(size: tuple[int, int]) -> Image.Image:
    """Pillow's 256-step black-to-white ramp stretched to ``size`` (read-only, shared)."""
    return Image.linear_gradient("L").resize(size)


def _gradient(size: tuple[int, int], top: tuple, bottom: tuple) -> Image.Image:
    """A vertical gradient from ``top`` to ``bottom``."""
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), _ramp(size))


def _encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


@lru_cache(maxsize=CACHE_SIZE)
def _avatar_jpeg(key: str, size: int) -> bytes:
    hue = zlib.crc32(key.encode()) % 360
    image = Image.new("RGB", (size, size), _rgb(hue, 0.6, 0.55))
    draw = ImageDraw.Draw(image)
    light = _rgb(hue, 0.6, 0.85)
    draw.ellipse((size * 0.32, size * 0.16, size * 0.68, size * 0.52), fill=light)
    draw.ellipse((size * 0.14, size * 0.6, size * 0.86, size * 1.3), fill=light)
    return _encode(image)


@lru_cache(maxsize=CACHE_SIZE)
def _cover_jpeg(video_id: str, width: int, height: int) -> bytes:
    hue = int(video_id[-6:]) % 360
    image = _gradient((width, height), _rgb(hue, 0.7, 0.45), _rgb((hue + 60) % 360, 0.7, 0.25))
    draw = ImageDraw.Draw(image, "RGBA")
    cx, cy, r = width // 2, height // 2, min(width, height) // 8
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(0, 0, 0, 90))
    draw.polygon(
        [(cx - r * 0.35, cy - r * 0.55), (cx + r * 0.6, cy), (cx - r * 0.35, cy + r * 0.55)], fill="white"
    )
    return _encode(image)


def register(app: Flask) -> None:
    app.add_url_rule("/_static/avatar/<key>.jpeg", "media_avatar", avatar)
    app.add_url_rule("/_static/cover/<video_id>.jpeg", "media_cover", cover)
