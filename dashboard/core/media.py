"""Covers and avatars fetched from TikTok's signed image URLs and kept as files.

TikTok hands out cover and avatar URLs on its CDN that are signed and expire
(``x-expires``) within hours or days.  Pages that hot-link them break when
they expire, tell TikTok who is looking and need a loose ``img-src``.  This
module downloads such an image once, checks that it is what it claims to be,
re-encodes it as a small JPEG and keeps it under a folder that the app serves
from its own origin.

:func:`fetch_image` is the whole download story (host allow-list, redirects
followed by hand and re-checked, a byte cap, a pixel cap, decoding and
re-encoding) and raises :class:`MediaRefused` for every failure.
:class:`MediaFiles` is the whole storage story.  Nothing here imports Flask
or the rest of the project: the standard library, ``requests`` and Pillow.

Logs name the host and the reason only, never the signed URL.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from PIL import Image, ImageOps

__all__ = [
    "AVATAR_MAX_SIDE",
    "COVER_MAX_SIDE",
    "IMAGE_HOST_SUFFIXES",
    "KINDS",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_REDIRECTS",
    "MediaFiles",
    "MediaRefused",
    "allowed_source",
    "fetch_image",
    "url_expires_at",
]

logger = logging.getLogger(__name__)

#: TikTok's image CDNs.  Each starts with a dot so that only whole labels match.
IMAGE_HOST_SUFFIXES = (".tiktokcdn.com", ".tiktokcdn-us.com", ".tiktokcdn-eu.com", ".ibyteimg.com")

# Signed TikTok image URLs run to a few hundred characters; 4096 leaves room
# for long signatures and keeps pasted junk (or a smuggled data: URL) out.
MAX_URL_LENGTH = 4096

# TikTok covers are JPEGs of at most about 1080x1920 and a few hundred KiB;
# 5 MiB admits any real one and bounds what a broken server can make us hold.
MAX_IMAGE_BYTES = 5 * 1024 * 1024

# Decoding costs 3-4 bytes a pixel and a tiny file can claim any size, so
# pixels are capped apart from bytes.  16 MP is eight 1080x1920 covers (and
# well under Pillow's own 89 MP warning), about 64 MB decoded at worst.
MAX_IMAGE_PIXELS = 16_000_000

# Covers show as cards at most ~240 CSS px wide and avatars at most ~128 px:
# twice that serves high-density screens without keeping TikTok's full size.
COVER_MAX_SIDE = 480
AVATAR_MAX_SIDE = 256

# TikTok's CDN redirects once or twice at most (a region hop); more is a loop.
MAX_REDIRECTS = 3

# (connect, read) seconds.  A CDN edge connects in well under a second, so 5 s
# only trips on a dead network; 20 s lets a slow image arrive without letting
# a stuck one hold a worker for long.
DEFAULT_TIMEOUT = (5, 20)
Timeout = float | tuple[float, float]

# At thumbnail sizes artefacts stop showing around 82, and a cover stays ~30 KiB.
JPEG_QUALITY = 82

# Small enough that the byte cap is overshot by little, big enough to be cheap.
CHUNK_SIZE = 64 * 1024

#: Content types worth downloading: what Pillow reads among what browsers show.
IMAGE_CONTENT_TYPES = frozenset(
    {"image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/webp", "image/gif"}
)
#: Pillow formats accepted, whatever the Content-Type said.
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")

#: What :class:`MediaFiles` keeps.
KINDS = frozenset({"cover", "avatar"})

# Covers are public pictures: readable by a front proxy that may serve the
# folder as another user (mkstemp alone would leave them 0600).
FILE_MODE = 0o644

_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Printable ASCII except backslash (0x5c): no spaces, controls or non-ASCII,
# which parsers and browsers disagree about.
_URL_CHARS = re.compile(r"[\x21-\x5b\x5d-\x7e]+")
_HOSTNAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")
_ACCEPT = {"Accept": "image/webp,image/jpeg,image/png,image/gif;q=0.8"}


class MediaRefused(Exception):
    """An image was not fetched or not kept; ``reason`` says why in one word.

    Reasons: ``url`` (malformed, userinfo, bad characters), ``scheme``,
    ``host``, ``redirect`` (a Location off the allowed hosts),
    ``too_many_redirects``, ``timeout``, ``connection`` (including a body cut
    short), ``http_<status>``, ``not_image`` (Content-Type or format),
    ``too_large`` (bytes), ``too_many_pixels`` and ``undecodable``.
    """

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------- URLs


def allowed_source(url: str, extra_hosts: Iterable[str] = ()) -> bool:
    """Whether ``url`` may be fetched: TikTok's CDN or a configured API host.

    True for an https URL whose host ends with one of
    :data:`IMAGE_HOST_SUFFIXES` at a label boundary, or whose ``host[:port]``
    equals one of ``extra_hosts`` (the host of ``TIKTOK_API_BASE``, so that a
    TikTok-compatible server shows its pictures).  Plain http is accepted for
    loopback hosts only, and a loopback host still has to be in
    ``extra_hosts``: a bare ``http://127.0.0.1`` URL is not fetched.
    """
    return _refusal(url, extra_hosts) is None


def url_expires_at(url: str) -> datetime | None:
    """The aware UTC instant in the URL's ``x-expires`` (unix seconds), or None."""
    try:
        values = parse_qs(urlsplit(url).query).get("x-expires", [])
        if values and values[0].isascii() and values[0].isdigit():
            return datetime.fromtimestamp(int(values[0]), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        pass
    return None


def _refusal(url: object, extra_hosts: Iterable[str]) -> str | None:
    """Why ``url`` may not be fetched (a :class:`MediaRefused` reason), or None."""
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH or not _URL_CHARS.fullmatch(url):
        return "url"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "url"
    host = parts.hostname or ""
    if "@" in parts.netloc or not _valid_host(host):
        return "url"
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
        return "scheme"
    if host.endswith(IMAGE_HOST_SUFFIXES) or _host_port(host, port) in _normalised(extra_hosts):
        return None
    return "host"


def _valid_host(host: str) -> bool:
    """An IP literal or a plain ASCII DNS name (no percent signs, no empty labels)."""
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return True
    return _HOSTNAME.fullmatch(host) is not None


def _is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_port(host: str, port: int | None) -> str:
    """``host[:port]`` as written in a URL, IPv6 literals in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def _normalised(extra_hosts: Iterable[str]) -> set[str]:
    """``extra_hosts`` lower-cased; one string counts as one host, not as letters."""
    if isinstance(extra_hosts, str):
        extra_hosts = (extra_hosts,)
    return {host.strip().lower() for host in extra_hosts if host and host.strip()}


def _host_for_log(url: object) -> str:
    """The URL's host when it is a clean one, so that logs never carry junk or the query."""
    if isinstance(url, str):
        with contextlib.suppress(ValueError):
            host = urlsplit(url).hostname or ""
            if _valid_host(host):
                return host
    return "(invalid)"


# --------------------------------------------------------------------------- download


def fetch_image(
    url: str,
    *,
    session: requests.Session,
    extra_hosts: Iterable[str] = (),
    max_bytes: int = MAX_IMAGE_BYTES,
    max_side: int = COVER_MAX_SIDE,
    max_pixels: int = MAX_IMAGE_PIXELS,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> bytes:
    """Download the image at ``url`` and return it as an RGB JPEG fitting ``max_side``.

    Redirects are followed by hand (at most :data:`MAX_REDIRECTS`), each
    ``Location`` re-checked with :func:`allowed_source`.  The body is refused
    past ``max_bytes`` (declared or streamed), the Content-Type must be one of
    :data:`IMAGE_CONTENT_TYPES`, and the bytes must decode as one of
    :data:`IMAGE_FORMATS` with at most ``max_pixels`` pixels.  Transparency is
    laid over white; the aspect ratio is kept.  Every failure raises
    :class:`MediaRefused`.

    ``session`` should carry no credentials: its headers and cookies go to
    the image host.
    """
    if max_side < 1 or max_bytes < 1 or max_pixels < 1:
        raise ValueError("max_side, max_bytes and max_pixels must be positive")
    try:
        data = _download(url, session, extra_hosts, max_bytes, timeout)
        return _reencode(data, max_side, max_pixels)
    except MediaRefused as exc:
        logger.info("Image from %s refused: %s", _host_for_log(url), exc.reason)
        raise


def _download(
    url: str, session: requests.Session, extra_hosts: Iterable[str], max_bytes: int, timeout: Timeout
) -> bytes:
    """The checked body of ``url``, redirects followed."""
    reason = _refusal(url, extra_hosts)
    if reason:
        raise MediaRefused(reason)
    response = _follow_redirects(url, session, extra_hosts, timeout)
    try:
        return _read_body(response, max_bytes)
    finally:
        response.close()


def _follow_redirects(
    url: str, session: requests.Session, extra_hosts: Iterable[str], timeout: Timeout
) -> requests.Response:
    """The first response to ``url`` that is not a redirect, each hop re-checked."""
    for _ in range(MAX_REDIRECTS + 1):
        response = _get(session, url, timeout)
        if not response.is_redirect:
            return response
        response.close()
        url = _redirect_target(url, response.headers["Location"])
        if _refusal(url, extra_hosts):
            raise MediaRefused("redirect")
    raise MediaRefused("too_many_redirects")


def _redirect_target(url: str, location: str) -> str:
    """``location`` resolved against ``url``; an unparsable one is refused."""
    try:
        return urljoin(url, location)
    except ValueError as exc:
        raise MediaRefused("redirect") from exc


def _get(session: requests.Session, url: str, timeout: Timeout) -> requests.Response:
    """One streamed GET with no automatic redirects, transport errors mapped."""
    try:
        return session.get(url, headers=_ACCEPT, timeout=timeout, stream=True, allow_redirects=False)
    except requests.Timeout as exc:
        raise MediaRefused("timeout") from exc
    except requests.RequestException as exc:
        raise MediaRefused("connection") from exc


def _read_body(response: requests.Response, max_bytes: int) -> bytes:
    """The body of a 200 image response, refused past ``max_bytes``."""
    if response.status_code != 200:
        raise MediaRefused(f"http_{response.status_code}")
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media_type not in IMAGE_CONTENT_TYPES:
        raise MediaRefused("not_image", media_type[:40])
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise MediaRefused("too_large")
    return _read_capped(response, max_bytes)


def _read_capped(response: requests.Response, max_bytes: int) -> bytes:
    """Stream the (decoded) body, stopping as soon as it passes ``max_bytes``.

    Counting decoded bytes also caps a gzip-encoded body that would inflate.
    A read timeout mid-body surfaces from requests as a connection error.
    """
    body = bytearray()
    try:
        for chunk in response.iter_content(CHUNK_SIZE):
            body += chunk
            if len(body) > max_bytes:
                raise MediaRefused("too_large")
    except requests.Timeout as exc:
        raise MediaRefused("timeout") from exc
    except requests.RequestException as exc:
        raise MediaRefused("connection") from exc
    return bytes(body)


# --------------------------------------------------------------------------- decode and re-encode


def _reencode(data: bytes, max_side: int, max_pixels: int) -> bytes:
    """``data`` decoded by Pillow and re-encoded as a JPEG within ``max_side``.

    Pillow raises many exception types on hostile input (OSError, ValueError,
    SyntaxError, struct.error, ...), so anything but a bomb is "undecodable".
    Its DecompressionBombWarning is caught as an exception: under
    ``filterwarnings=error`` it is one, and otherwise :func:`_check_pixels`
    refuses the image right after (the warning's global filter is left alone,
    since ``warnings.catch_warnings`` is not thread-safe).
    """
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            _check_pixels(image, max_pixels)
            image.draft("RGB", (max_side, max_side))
            image.load()
            flat = _flatten(ImageOps.exif_transpose(image))
        flat.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        return _jpeg(flat)
    except MediaRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRefused("too_many_pixels") from exc
    except Exception as exc:
        raise MediaRefused("undecodable", type(exc).__name__) from exc


def _check_pixels(image: Image.Image, max_pixels: int) -> None:
    """Refuse an image whose header claims more than ``max_pixels``, before decoding it."""
    if image.format not in IMAGE_FORMATS:
        raise MediaRefused("not_image", str(image.format))
    width, height = image.size
    if width < 1 or height < 1:
        raise MediaRefused("undecodable", "empty")
    if width * height > max_pixels:
        raise MediaRefused("too_many_pixels", f"{width}x{height}")


def _flatten(image: Image.Image) -> Image.Image:
    """An RGB copy of ``image``, any transparency laid over white."""
    if not image.has_transparency_data:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


# --------------------------------------------------------------------------- files


class MediaFiles:
    """Re-encoded images on disk: ``root/<account_id>/<kind>/<key>.jpg``.

    ``kind`` is one of :data:`KINDS`, ``account_id`` a non-negative int and
    ``key`` (a video id, or ``"avatar"``) matches ``[A-Za-z0-9_-]{1,64}``:
    anything else raises ValueError, so no argument can name a path outside
    ``root``.  Writes are atomic (a temporary file, then ``os.replace``), so a
    reader sees the old picture or the new one, never half of one.
    """

    suffix = ".jpg"

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def save(self, kind: str, account_id: int, key: str, data: bytes) -> Path:
        """Store ``data`` (the bytes from :func:`fetch_image`) and return its path."""
        target = self._file(kind, account_id, key)
        if not data:
            raise ValueError("no image data")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, FILE_MODE)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return target

    def path(self, kind: str, account_id: int, key: str) -> Path | None:
        """Where the picture is, or None when none is stored."""
        target = self._file(kind, account_id, key)
        return target if target.is_file() else None

    def has(self, kind: str, account_id: int, key: str) -> bool:
        """Whether a picture is stored."""
        return self.path(kind, account_id, key) is not None

    def keys(self, kind: str, account_id: int) -> set[str]:
        """The keys stored for one account and kind."""
        folder = self._folder(kind, account_id)
        if not folder.is_dir():
            return set()
        return {
            entry.stem
            for entry in folder.glob(f"*{self.suffix}")
            if _KEY.fullmatch(entry.stem) and entry.is_file()
        }

    def delete(self, kind: str, account_id: int, key: str) -> bool:
        """Remove one picture; False when there was none."""
        try:
            self._file(kind, account_id, key).unlink()
        except FileNotFoundError:
            return False
        return True

    def delete_account(self, account_id: int) -> None:
        """Remove every picture of one account (its whole folder)."""
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self._account_folder(account_id))

    def _account_folder(self, account_id: int) -> Path:
        if isinstance(account_id, bool) or not isinstance(account_id, int) or account_id < 0:
            raise ValueError("account_id must be a non-negative int")
        return self.root / str(account_id)

    def _folder(self, kind: str, account_id: int) -> Path:
        if not isinstance(kind, str) or kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}")
        return self._account_folder(account_id) / kind

    def _file(self, kind: str, account_id: int, key: str) -> Path:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError("key must match [A-Za-z0-9_-]{1,64}")
        return self._folder(kind, account_id) / f"{key}{self.suffix}"
