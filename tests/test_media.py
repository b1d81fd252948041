"""Fetching TikTok's signed images and keeping them as files (``dashboard.core.media``).

No network: every HTTP answer comes from ``responses`` (an unfired mock fails
the test), and every image is drawn with Pillow here.  Nothing from
``conftest.py`` is used, so the file also runs with ``--noconftest``.
"""

from __future__ import annotations

import io
import struct
import zlib
from datetime import UTC, datetime

import pytest
import requests
import responses
from PIL import Image

from dashboard.core.media import (
    AVATAR_MAX_SIDE,
    COVER_MAX_SIDE,
    MAX_REDIRECTS,
    MediaFiles,
    MediaRefused,
    allowed_source,
    fetch_image,
    url_expires_at,
)

pytestmark = pytest.mark.filterwarnings("error")

COVER_URL = (
    "https://p16-sign.tiktokcdn-us.com/obj/tos-useast5-p-0068-tx/abc~tplv-photomode-zoomcover:720:720.jpeg"
    "?x-expires=1700000000&x-signature=c2lnbmF0dXJl%3D"
)
OTHER_CDN_URL = "https://p77-sign-va.tiktokcdn.com/tos-maliva-avt-0068/def~c5_720x720.jpeg?x-expires=1"
SANDBOX_HOST = "127.0.0.1:5001"
SANDBOX_COVER_URL = f"http://{SANDBOX_HOST}/_static/cover/7300000000000000001.jpeg?x-expires=1700000000"


# --------------------------------------------------------------------------- builders


def image_bytes(fmt: str = "JPEG", size=(64, 48), mode: str = "RGB", color=(200, 30, 30)) -> bytes:
    """A real ``fmt`` image of one colour."""
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, fmt)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose header claims ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def refusal(url: str, session: requests.Session, **options) -> str:
    """The reason fetch_image gives for refusing ``url``."""
    with pytest.raises(MediaRefused) as caught:
        fetch_image(url, session=session, **options)
    return caught.value.reason


@pytest.fixture
def mocked():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def session():
    with requests.Session() as http:
        yield http


# --------------------------------------------------------------------------- allowed_source


@pytest.mark.parametrize(
    ("url", "extra_hosts"),
    [
        (COVER_URL, ()),
        (OTHER_CDN_URL, ()),
        ("https://p16-va.tiktokcdn-eu.com/img/x.webp", ()),
        ("https://p3-sign.ibyteimg.com/obj/x.png", ()),
        ("https://P16-SIGN.TIKTOKCDN-US.COM/x.jpeg", ()),
        ("https://p16-sign.tiktokcdn-us.com:443/x.jpeg", ()),
        ("https://open.tiktokapis.com/media/x.jpeg", ("open.tiktokapis.com",)),
        ("https://tiktok.example.test:8443/x.jpeg", ("Tiktok.Example.Test:8443",)),
        (SANDBOX_COVER_URL, (SANDBOX_HOST,)),
        (SANDBOX_COVER_URL, SANDBOX_HOST),
        ("http://localhost:5001/_static/avatar/a.jpeg", ("localhost:5001",)),
        ("http://127.8.9.10/x.jpeg", ("127.8.9.10",)),
        ("http://[::1]:5001/x.jpeg", ("[::1]:5001",)),
    ],
)
def test_tiktok_cdn_and_configured_hosts_are_allowed(url, extra_hosts):
    assert allowed_source(url, extra_hosts)


@pytest.mark.parametrize(
    ("url", "extra_hosts"),
    [
        ("https://evil-tiktokcdn.com/x.jpeg", ()),
        ("https://tiktokcdn.com.evil.test/x.jpeg", ()),
        ("https://p16.tiktokcdn.com.evil.test/x.jpeg", ()),
        ("https://tiktokcdn.com/x.jpeg", ()),
        ("https://p16-sign.tiktokcdn-us.com./x.jpeg", ()),
        ("https://example.com/x.jpeg", ()),
        ("http://p16-sign.tiktokcdn-us.com/x.jpeg", ()),
        ("ftp://p16-sign.tiktokcdn-us.com/x.jpeg", ()),
        ("javascript:alert(1)//.tiktokcdn.com", ()),
        ("data:image/png;base64,iVBORw0KGgo=", ()),
        ("//p16-sign.tiktokcdn-us.com/x.jpeg", ()),
        ("/_static/cover/1.jpeg", ()),
        ("", ()),
        ("https://user@p16-sign.tiktokcdn-us.com/x.jpeg", ()),
        ("https://user:pw@p16-sign.tiktokcdn-us.com/x.jpeg", ()),
        ("https://p16-sign.tiktokcdn-us.com@evil.test/x.jpeg", ()),
        ("https://evil.test\\.tiktokcdn.com/x.jpeg", ()),
        ("https://evil.test\\@p16-sign.tiktokcdn-us.com/x.jpeg", ()),
        ("https://p16-sign.tiktokcdn-us.com/x.jpeg\n", ()),
        ("https://p16-sign.tiktokcdn-us.com/x\x00.jpeg", ()),
        ("https://p16-sign.tiktokcdn-us.com/x\t.jpeg", ()),
        ("https://p16-sign.tiktokcdn-us.com/a b.jpeg", ()),
        ("https://p16-sign.tiktokcdn-us.com/caf\u00e9.jpeg", ()),
        ("https://p16\u2024tiktokcdn.com/x.jpeg", ()),
        ("https://p16.tiktokcdn.com%2eevil.test/x.jpeg", ()),
        ("https://p16-sign.tiktokcdn-us.com:99999/x.jpeg", ()),
        ("https://[::1/x.jpeg", ()),
        ("https://p16-sign.tiktokcdn-us.com/" + "a" * 4100, ()),
        (SANDBOX_COVER_URL, ()),
        ("http://127.0.0.1:5002/x.jpeg", (SANDBOX_HOST,)),
        ("http://127.0.0.1/x.jpeg", (SANDBOX_HOST,)),
        ("http://open.tiktokapis.com/x.jpeg", ("open.tiktokapis.com",)),
        ("http://10.0.0.5:5001/x.jpeg", ("10.0.0.5:5001",)),
        ("https://open.tiktokapis.com.evil.test/x.jpeg", ("open.tiktokapis.com",)),
    ],
)
def test_other_hosts_schemes_and_malformed_urls_are_refused(url, extra_hosts):
    assert not allowed_source(url, extra_hosts)


def test_refused_url_is_never_requested(mocked, session):
    assert refusal("https://evil-tiktokcdn.com/x.jpeg", session) == "host"
    assert refusal("http://p16-sign.tiktokcdn-us.com/x.jpeg", session) == "scheme"
    assert refusal("https://a@p16-sign.tiktokcdn-us.com/x.jpeg", session) == "url"
    assert len(mocked.calls) == 0


# --------------------------------------------------------------------------- url_expires_at


def test_x_expires_is_read_as_an_aware_utc_instant():
    assert url_expires_at(COVER_URL) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    "url",
    [
        "https://p16-sign.tiktokcdn-us.com/x.jpeg",
        "https://p16-sign.tiktokcdn-us.com/x.jpeg?x-signature=abc",
        "https://p16-sign.tiktokcdn-us.com/x.jpeg?x-expires=",
        "https://p16-sign.tiktokcdn-us.com/x.jpeg?x-expires=soon",
        "https://p16-sign.tiktokcdn-us.com/x.jpeg?x-expires=-5",
        "https://p16-sign.tiktokcdn-us.com/x.jpeg?x-expires=1.5e9",
        "https://p16-sign.tiktokcdn-us.com/x.jpeg?x-expires=" + "9" * 30,
        "https://[::1/x.jpeg?x-expires=1700000000",
    ],
)
def test_missing_or_non_numeric_x_expires_gives_none(url):
    assert url_expires_at(url) is None


# --------------------------------------------------------------------------- fetch_image


def test_cover_is_streamed_and_returned_as_jpeg(mocked, session):
    mocked.get(COVER_URL, body=image_bytes("JPEG", size=(270, 480)), content_type="image/jpeg")

    data = fetch_image(COVER_URL, session=session)

    assert decoded(data).format == "JPEG"
    assert decoded(data).size == (270, 480)
    assert mocked.calls[0].request.url == COVER_URL
    assert mocked.calls[0].request.req_kwargs["stream"] is True


def test_loopback_http_on_the_configured_api_host_is_fetched(mocked, session):
    mocked.get(SANDBOX_COVER_URL, body=image_bytes(), content_type="image/jpeg")

    data = fetch_image(SANDBOX_COVER_URL, session=session, extra_hosts=(SANDBOX_HOST,))

    assert decoded(data).format == "JPEG"


def test_redirect_to_an_allowed_host_is_followed(mocked, session):
    mocked.get(COVER_URL, status=302, headers={"Location": OTHER_CDN_URL})
    mocked.get(OTHER_CDN_URL, body=image_bytes(), content_type="image/jpeg")

    data = fetch_image(COVER_URL, session=session)

    assert decoded(data).format == "JPEG"
    assert [call.request.url for call in mocked.calls] == [COVER_URL, OTHER_CDN_URL]


def test_relative_redirect_is_resolved_against_the_current_url(mocked, session):
    moved = "https://p16-sign.tiktokcdn-us.com/moved/x.jpeg"
    mocked.get(COVER_URL, status=301, headers={"Location": "/moved/x.jpeg"})
    mocked.get(moved, body=image_bytes(), content_type="image/jpeg")

    assert decoded(fetch_image(COVER_URL, session=session)).format == "JPEG"


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.test/x.jpeg",
        "//evil.test/x.jpeg",
        "http://p16-sign.tiktokcdn-us.com/x.jpeg",
        "http://127.0.0.1:5001/x.jpeg",
        "https://a@p16-sign.tiktokcdn-us.com/x.jpeg",
    ],
)
def test_redirect_off_tiktok_hosts_is_refused(mocked, session, location):
    mocked.get(COVER_URL, status=302, headers={"Location": location})

    assert refusal(COVER_URL, session) == "redirect"
    assert len(mocked.calls) == 1


def test_more_than_three_redirects_are_refused(mocked, session):
    hops = [f"https://p16-sign.tiktokcdn-us.com/hop/{n}.jpeg" for n in range(MAX_REDIRECTS + 1)]
    for here, there in zip([COVER_URL, *hops], hops, strict=False):
        mocked.get(here, status=307, headers={"Location": there})

    assert refusal(COVER_URL, session) == "too_many_redirects"
    assert len(mocked.calls) == MAX_REDIRECTS + 1


def test_three_redirects_are_still_followed(mocked, session):
    hops = [f"https://p16-sign.tiktokcdn-us.com/hop/{n}.jpeg" for n in range(MAX_REDIRECTS)]
    for here, there in zip([COVER_URL, *hops], hops, strict=False):
        mocked.get(here, status=302, headers={"Location": there})
    mocked.get(hops[-1], body=image_bytes(), content_type="image/jpeg")

    assert decoded(fetch_image(COVER_URL, session=session)).format == "JPEG"


def test_oversize_content_length_is_refused_before_reading(mocked, session):
    mocked.get(
        COVER_URL, body=image_bytes(), content_type="image/jpeg", headers={"Content-Length": "6000000"}
    )

    assert refusal(COVER_URL, session) == "too_large"


def test_oversize_streamed_body_without_content_length_is_refused(mocked, session):
    body = image_bytes("PNG", size=(200, 200), color=(1, 2, 3)) + b"\0" * 4000
    mocked.get(COVER_URL, body=body, content_type="image/png")

    assert refusal(COVER_URL, session, max_bytes=1000) == "too_large"


def test_body_exactly_at_the_cap_is_accepted(mocked, session):
    body = image_bytes()
    mocked.get(COVER_URL, body=body, content_type="image/jpeg", auto_calculate_content_length=True)

    assert decoded(fetch_image(COVER_URL, session=session, max_bytes=len(body))).format == "JPEG"


@pytest.mark.parametrize(
    "content_type", ["text/html; charset=utf-8", "image/svg+xml", "application/octet-stream", "image/bmp", ""]
)
def test_non_image_content_type_is_refused(mocked, session, content_type):
    mocked.get(COVER_URL, body=image_bytes(), headers={"Content-Type": content_type})

    assert refusal(COVER_URL, session) == "not_image"


@pytest.mark.parametrize(
    "body",
    [
        b"<!doctype html><html><body>Access denied</body></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>',
        b"\x89PNG\r\n\x1a\n truncated",
        b"",
        image_bytes("BMP"),
        image_bytes("TIFF"),
        image_bytes("JPEG", size=(400, 400))[:300],
    ],
    ids=["html", "svg", "png-signature-only", "empty", "bmp", "tiff", "truncated-jpeg"],
)
def test_bytes_that_are_not_an_accepted_image_are_refused_whatever_the_header(mocked, session, body):
    mocked.get(COVER_URL, body=body, content_type="image/png")

    assert refusal(COVER_URL, session) == "undecodable"


@pytest.mark.parametrize(
    ("width", "height"),
    [(100_000, 100_000), (10_000, 10_000), (5_000, 5_000)],
    ids=["past-pillow-error", "past-pillow-warning", "past-our-limit"],
)
def test_image_claiming_huge_dimensions_is_refused(mocked, session, width, height):
    mocked.get(COVER_URL, body=png_claiming(width, height), content_type="image/png")

    assert refusal(COVER_URL, session) == "too_many_pixels"


def test_pixel_limit_applies_to_real_images(mocked, session):
    mocked.get(COVER_URL, body=image_bytes("PNG", size=(100, 100)), content_type="image/png")

    assert refusal(COVER_URL, session, max_pixels=9_999) == "too_many_pixels"


def test_png_with_alpha_becomes_a_jpeg_on_white_fitting_max_side(mocked, session):
    transparent = image_bytes("PNG", size=(1000, 500), mode="RGBA", color=(255, 0, 0, 0))
    mocked.get(COVER_URL, body=transparent, content_type="image/png")

    image = decoded(fetch_image(COVER_URL, session=session, max_side=AVATAR_MAX_SIDE))

    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (256, 128))
    assert all(channel > 245 for channel in image.getpixel((128, 64)))


@pytest.mark.parametrize(
    ("fmt", "mode", "color"),
    [
        ("JPEG", "RGB", (10, 120, 200)),
        ("JPEG", "L", 90),
        ("JPEG", "CMYK", (0, 80, 160, 0)),
        ("PNG", "P", 3),
        ("PNG", "LA", (90, 255)),
        ("WEBP", "RGB", (10, 120, 200)),
        ("GIF", "P", 7),
    ],
)
def test_every_accepted_format_is_re_encoded_as_rgb_jpeg(mocked, session, fmt, mode, color):
    # The header names the wrong type on purpose: the bytes decide the format.
    mocked.get(
        COVER_URL, body=image_bytes(fmt, size=(1920, 1080), mode=mode, color=color), content_type="image/jpeg"
    )

    image = decoded(fetch_image(COVER_URL, session=session))

    assert (image.format, image.mode) == ("JPEG", "RGB")
    assert image.size == (COVER_MAX_SIDE, 270)


def test_small_image_is_not_upscaled(mocked, session):
    mocked.get(COVER_URL, body=image_bytes("PNG", size=(40, 30)), content_type="image/png")

    assert decoded(fetch_image(COVER_URL, session=session)).size == (40, 30)


@pytest.mark.parametrize(("status", "reason"), [(404, "http_404"), (403, "http_403"), (500, "http_500")])
def test_http_error_is_refused_with_its_status(mocked, session, status, reason):
    mocked.get(COVER_URL, status=status, body="<html>no</html>", content_type="text/html")

    assert refusal(COVER_URL, session) == reason


def test_redirect_without_location_is_refused_with_its_status(mocked, session):
    mocked.get(COVER_URL, status=302)

    assert refusal(COVER_URL, session) == "http_302"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (requests.ConnectTimeout("slow"), "timeout"),
        (requests.ReadTimeout("slow"), "timeout"),
        (requests.ConnectionError("reset"), "connection"),
        (requests.exceptions.SSLError("bad certificate"), "connection"),
    ],
)
def test_transport_errors_become_media_refused(mocked, session, error, reason):
    mocked.get(COVER_URL, body=error)

    assert refusal(COVER_URL, session) == reason


def test_refusal_is_logged_with_host_and_reason_but_not_the_signed_url(mocked, session, caplog):
    mocked.get(COVER_URL, status=404)

    with caplog.at_level("INFO", logger="dashboard.core.media"):
        refusal(COVER_URL, session)

    assert "p16-sign.tiktokcdn-us.com" in caplog.text
    assert "http_404" in caplog.text
    assert "x-signature" not in caplog.text


# --------------------------------------------------------------------------- MediaFiles


def test_saved_picture_is_found_by_path_has_and_keys(tmp_path):
    files = MediaFiles(tmp_path)
    jpeg = image_bytes()

    saved = files.save("cover", 7, "7300000000000000001", jpeg)
    files.save("avatar", 7, "avatar", jpeg)

    assert saved == tmp_path / "7" / "cover" / "7300000000000000001.jpg"
    assert files.path("cover", 7, "7300000000000000001") == saved
    assert saved.read_bytes() == jpeg
    assert files.has("avatar", 7, "avatar")
    assert files.keys("cover", 7) == {"7300000000000000001"}
    assert files.keys("avatar", 7) == {"avatar"}


def test_missing_picture_has_no_path(tmp_path):
    files = MediaFiles(tmp_path)

    assert files.path("cover", 7, "1") is None
    assert not files.has("cover", 7, "1")
    assert files.keys("cover", 7) == set()


def test_saving_again_replaces_the_picture_and_leaves_no_temporary_file(tmp_path):
    files = MediaFiles(tmp_path)
    files.save("cover", 1, "42", b"old")

    files.save("cover", 1, "42", b"new")

    assert files.path("cover", 1, "42").read_bytes() == b"new"
    assert [entry.name for entry in (tmp_path / "1" / "cover").iterdir()] == ["42.jpg"]


def test_delete_removes_one_picture(tmp_path):
    files = MediaFiles(tmp_path)
    files.save("cover", 1, "42", b"x")
    files.save("cover", 1, "43", b"x")

    assert files.delete("cover", 1, "42")
    assert not files.delete("cover", 1, "42")
    assert files.keys("cover", 1) == {"43"}


def test_delete_account_removes_only_that_accounts_pictures(tmp_path):
    files = MediaFiles(tmp_path)
    files.save("cover", 1, "42", b"x")
    files.save("avatar", 1, "avatar", b"x")
    files.save("cover", 2, "42", b"x")

    files.delete_account(1)
    files.delete_account(1)

    assert not (tmp_path / "1").exists()
    assert files.keys("cover", 1) == set()
    assert files.has("cover", 2, "42")


@pytest.mark.parametrize(
    "key", ["../x", "..", ".", "a/b", "a\\b", "", "x" * 65, "42.jpg", "42\n", "\u0661\u0662", None, 42]
)
def test_traversal_and_odd_keys_are_rejected(tmp_path, key):
    files = MediaFiles(tmp_path / "media")

    with pytest.raises(ValueError):
        files.save("cover", 1, key, b"x")
    with pytest.raises(ValueError):
        files.path("cover", 1, key)
    assert not (tmp_path / "media").exists()


@pytest.mark.parametrize(
    ("kind", "account_id"),
    [("../cover", 1), ("video", 1), ("cover", "1"), ("cover", -1), ("cover", True), ("cover", "../..")],
)
def test_unknown_kinds_and_non_int_accounts_are_rejected(tmp_path, kind, account_id):
    files = MediaFiles(tmp_path / "media")

    with pytest.raises(ValueError):
        files.save(kind, account_id, "42", b"x")
    with pytest.raises(ValueError):
        files.keys(kind, account_id)
    assert not (tmp_path / "media").exists()


def test_delete_account_rejects_a_path_for_an_id(tmp_path):
    (tmp_path / "keep").mkdir()

    with pytest.raises(ValueError):
        MediaFiles(tmp_path / "media").delete_account("../keep")
    assert (tmp_path / "keep").is_dir()


def test_empty_data_is_not_saved(tmp_path):
    with pytest.raises(ValueError):
        MediaFiles(tmp_path).save("cover", 1, "42", b"")
