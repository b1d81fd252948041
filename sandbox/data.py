"""Deterministic sandbox data: accounts, videos and their counts.

Everything here is a pure function of ``(account, t)``: the same account at the
same clock time always gives the same videos and the same numbers, so a run
with injected faults can be compared with a fault-free run.  Nothing here knows
about HTTP, tokens or Flask.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import math
import random
import zlib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from html import escape
from urllib.parse import quote, urlencode

#: Fixed anchor of the sandbox timeline, 2026-11-01T00:00:00Z.  Every account's
#: videos were posted before it; the scripted events (a like dip, a deletion)
#: happen a few days after it.
ANCHOR = 1_793_491_200
DAY = 86_400

#: How long a signed media URL stays valid, as TikTok's CDN does (6 hours).
MEDIA_URL_TTL = 6 * 3600

#: Key for the fake CDN signatures.  Not a secret: it only makes URLs look and
#: behave like signed ones (a tampered or expired URL is refused).
MEDIA_SIGNING_KEY = b"sandbox-media-signing-key"

#: The one title per account that holds HTML special characters.
HTML_TITLE = '<script>alert("x")</script> & "quotes" \'apos\' <b>bold</b>'

#: Long-tail time constant: views keep trickling in for months.
_TAIL_SECONDS = 60 * DAY
#: Share of a video's lifetime views that arrive in the first days.
_FAST_SHARE = 0.8

_EN = (
    ("5-minute core burner you can do anywhere", ("#fitness", "#workout", "#homeworkout")),
    ("Leg day, but make it fun", ("#legday", "#gym", "#fitness")),
    ("What I eat in a day as a home cook", ("#whatieatinaday", "#food", "#foodtok")),
    ("Crispy scallion pancakes in 10 minutes", ("#recipe", "#cooking", "#foodtok")),
    ("Morning routine before the gym", ("#morningroutine", "#gymtok", "#fitness")),
    ("Trying every dumpling on one street", ("#streetfood", "#dumplings", "#foodie")),
    ("Weekend trip to Hangzhou: West Lake at sunrise", ("#travel", "#hangzhou", "#china")),
    ("Meal prep for the week under $30", ("#mealprep", "#budget", "#healthyeating")),
    ("Stretching routine for desk workers", ("#stretching", "#mobility", "#wellness")),
    ("Mom rates my cooking", ("#family", "#cooking", "#funny")),
    ("Beginner pull-up progression, week 4", ("#pullups", "#calisthenics", "#progress")),
    ("Night market haul", ("#nightmarket", "#streetfood", "#travel")),
)
_EN_EXTRA = (
    "Full recipe in the comments!",
    "Save this for later.",
    "Would you try this?",
    "Part 2 tomorrow.",
    "Tell me your favourite.",
)
_ZH = (
    ("今天做了外婆的红烧肉", ("#美食", "#家常菜", "#红烧肉")),
    ("十分钟快手早餐", ("#早餐", "#美食", "#快手菜")),
    ("练腿日打卡", ("#健身", "#练腿", "#打卡")),
    ("上海街头小吃测评", ("#上海", "#街头美食", "#探店")),
    ("在家也能做的燃脂训练", ("#健身", "#减脂", "#居家锻炼")),
    ("一周备餐只花两百块", ("#备餐", "#省钱", "#健康饮食")),
    ("周末去杭州西湖看日出", ("#旅行", "#杭州", "#西湖")),
    ("妈妈给我的厨艺打分", ("#家庭", "#做饭", "#搞笑")),
    ("引体向上新手进阶第四周", ("#引体向上", "#健身", "#进步")),
    ("夜市扫街", ("#夜市", "#美食", "#旅行")),
)
_ZH_EXTRA = (
    "做法在评论区！",
    "先收藏再看。",
    "你们会试试吗？",
    "明天更新第二集。",
    "评论告诉我你最喜欢哪个。",
)
_SIZES = ((1080, 1920), (1080, 1920), (1080, 1920), (1080, 1920), (720, 1280), (1920, 1080))


@dataclass(frozen=True, slots=True)
class Video:
    """One video and the parameters of its (deterministic) count curves."""

    id: str
    account: str
    create_time: int
    title: str
    description: str
    duration: int
    width: int
    height: int
    peak_views: int
    tau: float
    like_ratio: float
    comment_ratio: float
    share_ratio: float
    deleted_at: int | None = None
    dip_at: int | None = None
    dip_fraction: float = 0.0


@dataclass(frozen=True, eq=False)
class Account:
    """A sandbox TikTok account.  Its videos are generated lazily, once."""

    key: str
    slot: int
    display_name: str
    username: str
    bio: str
    verified: bool
    n_videos: int
    seed: int
    span_days: int
    zh_share: float
    n_viral: int
    follower_base: int
    following_base: int
    anchor: int = ANCHOR

    @cached_property
    def videos(self) -> tuple[Video, ...]:
        """All videos ever posted, newest first (including later-deleted ones)."""
        return _generate_videos(self)

    @cached_property
    def _neg_times(self) -> list[int]:
        return [-v.create_time for v in self.videos]

    @cached_property
    def by_id(self) -> dict[str, Video]:
        return {v.id: v for v in self.videos}

    @property
    def union_id(self) -> str:
        return _uuidish("union", self.key)

    @property
    def profile_deep_link(self) -> str:
        return f"https://vm.tiktok.com/ZM{_digest('deep', self.key)[:7].upper()}/"

    def special(self, role: str) -> Video | None:
        """The video playing a scripted role: html, zero, dip, deleted, viral."""
        for video in self.videos:
            if role in video_roles(self, video):
                return video
        return None

    def index_before(self, before_ms: int | None) -> int:
        """Index in ``videos`` of the first video created strictly before ``before_ms``."""
        if before_ms is None:
            return 0
        # create_time * 1000 < before_ms  <=>  create_time < ceil(before_ms / 1000)
        limit = -((before_ms + 999) // 1000)
        return bisect.bisect_right(self._neg_times, limit)


def make_account(key: str, n_videos: int | None = None, seed: int | None = None, **overrides) -> Account:
    """An account like ``ACCOUNTS[key]`` (or a generic one) with another size or seed."""
    base = _PROFILES.get(key) or _generic_profile(key)
    values = dict(base)
    if n_videos is not None:
        values["n_videos"] = n_videos
    if seed is not None:
        values["seed"] = seed
    values.update(overrides)
    return Account(key=key, **values)


_PROFILES: dict[str, dict] = {
    "creator": dict(
        slot=1,
        display_name="Lin Mei 林美",
        username="linmei.eats",
        bio="Home cook & gym rat in Shanghai 🍜💪 | 上海的家常菜和健身日常 | collabs: linmei@example.com",
        verified=True,
        n_videos=150,
        seed=20261101,
        span_days=548,
        zh_share=0.4,
        n_viral=3,
        follower_base=8_000,
        following_base=183,
    ),
    "second": dict(
        slot=2,
        display_name="Sam Rivera",
        username="samrivera.travels",
        bio="Backpacking on a budget ✈️ | 穷游中 | new video every week",
        verified=False,
        n_videos=30,
        seed=424242,
        span_days=300,
        zh_share=0.1,
        n_viral=1,
        follower_base=350,
        following_base=512,
    ),
    "bulk": dict(
        slot=3,
        display_name="Bulk Benchmark 批量测试",
        username="bulk.benchmark",
        bio="10,000 videos for load tests | 一万条视频用于压测",
        verified=False,
        n_videos=10_000,
        seed=10_000,
        span_days=1_800,
        zh_share=0.5,
        n_viral=40,
        follower_base=120_000,
        following_base=42,
    ),
    # Eight years of a post every 43 minutes on average: the scale benchmark.
    "huge": dict(
        slot=4,
        display_name="Huge Benchmark 十万条",
        username="huge.benchmark",
        bio="100,000 videos for scale tests | 十万条视频用于规模测试",
        verified=True,
        n_videos=100_000,
        seed=100_000,
        span_days=3_000,
        zh_share=0.5,
        n_viral=200,
        follower_base=1_500_000,
        following_base=7,
    ),
}


def _generic_profile(key: str) -> dict:
    return dict(
        slot=10 + zlib.crc32(key.encode()) % 200,
        display_name=f"Sandbox {key}",
        username=f"sandbox.{key}",
        bio="Sandbox account | 沙盒账号",
        verified=False,
        n_videos=20,
        seed=zlib.crc32(key.encode()),
        span_days=365,
        zh_share=0.3,
        n_viral=1,
        follower_base=100,
        following_base=10,
    )


ACCOUNTS: dict[str, Account] = {key: make_account(key) for key in _PROFILES}
DEFAULT_ACCOUNT = "creator"


def get_account(key: str) -> Account:
    """The built-in account ``key`` (``KeyError`` if unknown)."""
    return ACCOUNTS[key]


# --------------------------------------------------------------------------- generation


def _pick_roles(rng: random.Random, account: Account) -> dict[int, tuple[str, ...]]:
    """Which video indices (0 = newest) play which scripted role."""
    n = account.n_videos
    roles: dict[int, list[str]] = {}
    free = list(range(n))
    rng.shuffle(free)

    def take(role: str, lo: int, hi: int) -> None:
        for i in free:
            if lo <= i < hi:
                free.remove(i)
                roles.setdefault(i, []).append(role)
                return

    if n >= 1:
        take("html", 0, n)
    if n >= 5:
        take("zero", 1, min(n, 6))
        take("dip", n // 3, n)
        take("deleted", 0, n)
    if n >= 20:
        take("deleted-early", n // 2, n)
    for _ in range(min(account.n_viral, max(0, n - 6))):
        take("viral", 2, n)
    return {i: tuple(r) for i, r in roles.items()}


def _text(rng: random.Random, zh: bool, k: int) -> tuple[str, str]:
    phrase, tags = rng.choice(_ZH if zh else _EN)
    extra = rng.choice(_ZH_EXTRA if zh else _EN_EXTRA)
    if k % 4 == 3:
        phrase = f"{phrase} ({'第二集' if zh else 'pt. 2'})"
    title = f"{phrase} {' '.join(tags[:2])}"
    description = f"{phrase} {extra} {' '.join(tags)}"
    return title[:150], description[:150]


def _duration(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.2:
        return rng.randint(5, 15)
    if r < 0.8:
        return rng.randint(15, 60)
    return rng.randint(60, 180)


def _peak_views(rng: random.Random, roles: tuple[str, ...]) -> int:
    if "zero" in roles:
        return 0
    if "viral" in roles:
        return int(math.exp(rng.uniform(math.log(1_000_000), math.log(8_000_000))))
    if "dip" in roles:
        return rng.randint(20_000, 45_000)
    r = rng.random()
    if r < 0.05:
        return rng.randint(200, 999)
    if r < 0.92:
        return int(math.exp(rng.uniform(math.log(1_000), math.log(50_000))))
    return int(math.exp(rng.uniform(math.log(50_000), math.log(500_000))))


def _generate_videos(account: Account) -> tuple[Video, ...]:
    rng = random.Random(account.seed)
    n = account.n_videos
    roles_by_index = _pick_roles(rng, account)
    mean_gap = account.span_days * DAY / max(n, 1)
    t = account.anchor - rng.randint(3600, 20 * 3600)
    videos = []
    for i in range(n):
        roles = roles_by_index.get(i, ())
        zh = rng.random() < account.zh_share
        title, description = _text(rng, zh, i)
        if "html" in roles:
            title, description = HTML_TITLE, f"{HTML_TITLE} #test"
        width, height = rng.choice(_SIZES)
        like_ratio = rng.uniform(0.03, 0.12)
        deleted_at = None
        if "deleted" in roles:
            deleted_at = account.anchor + 5 * DAY
        elif "deleted-early" in roles:
            deleted_at = t + 30 * DAY
        low_bits = (account.slot % 256) << 24 | rng.getrandbits(24)
        videos.append(
            Video(
                id=str(t << 32 | low_bits),
                account=account.key,
                create_time=t,
                title=title,
                description=description,
                duration=_duration(rng),
                width=width,
                height=height,
                peak_views=_peak_views(rng, roles),
                tau=rng.uniform(0.5, 4.0) * DAY,
                like_ratio=like_ratio,
                comment_ratio=like_ratio * rng.uniform(0.01, 0.06),
                share_ratio=like_ratio * rng.uniform(0.02, 0.12),
                deleted_at=deleted_at,
                dip_at=account.anchor + 2 * DAY if "dip" in roles else None,
                dip_fraction=0.35 if "dip" in roles else 0.0,
            )
        )
        # Strictly decreasing whole seconds: a millisecond cursor never splits a second.
        t -= max(60, int(mean_gap * rng.uniform(0.3, 1.7)))
    return tuple(videos)


def video_roles(account: Account, video: Video) -> tuple[str, ...]:
    """Scripted roles of ``video`` (derived from its fields, for tests and docs)."""
    roles = []
    if video.title == HTML_TITLE:
        roles.append("html")
    if video.peak_views == 0:
        roles.append("zero")
    if video.dip_at is not None:
        roles.append("dip")
    if video.deleted_at is not None:
        roles.append("deleted")
    if video.peak_views >= 1_000_000:
        roles.append("viral")
    return tuple(roles)


# --------------------------------------------------------------------------- counts at time t


def is_visible(video: Video, t: float, hidden: frozenset[str] = frozenset()) -> bool:
    """Public at ``t``: posted, not deleted, not hidden by a fault."""
    if video.create_time > t or video.id in hidden:
        return False
    return video.deleted_at is None or t < video.deleted_at


def view_count(video: Video, t: float) -> int:
    """Views at ``t``: most in the first days, then a slow, saturating tail."""
    age = t - video.create_time
    if age <= 0 or video.peak_views == 0:
        return 0
    fast = 1.0 - math.exp(-age / video.tau)
    tail = age / (age + _TAIL_SECONDS)
    return int(video.peak_views * (_FAST_SHARE * fast + (1 - _FAST_SHARE) * tail))


def like_count(video: Video, t: float) -> int:
    """Likes at ``t``; the dipping video loses a share of its likes at ``dip_at``."""
    likes = int(view_count(video, t) * video.like_ratio)
    if video.dip_at is not None and t >= video.dip_at:
        likes -= int(view_count(video, video.dip_at) * video.like_ratio * video.dip_fraction)
    return max(likes, 0)


def comment_count(video: Video, t: float) -> int:
    return int(view_count(video, t) * video.comment_ratio)


def share_count(video: Video, t: float) -> int:
    return int(view_count(video, t) * video.share_ratio)


def counts(video: Video, t: float) -> dict[str, int]:
    return {
        "view_count": view_count(video, t),
        "like_count": like_count(video, t),
        "comment_count": comment_count(video, t),
        "share_count": share_count(video, t),
    }


def visible_videos(account: Account, t: float, hidden: frozenset[str] = frozenset()) -> list[Video]:
    """Public videos at ``t``, newest first."""
    start = account.index_before(int(t) * 1000 + 1000)
    return [v for v in account.videos[start:] if is_visible(v, t, hidden)]


def page(
    account: Account,
    t: float,
    *,
    before_ms: int | None,
    max_count: int,
    hidden: frozenset[str] = frozenset(),
) -> tuple[list[Video], bool]:
    """One page of ``/v2/video/list/``: visible videos strictly older than the cursor."""
    if before_ms is None or before_ms > int(t) * 1000 + 1000:
        before_ms = int(t) * 1000 + 1000
    found: list[Video] = []
    for video in account.videos[account.index_before(before_ms) :]:
        if not is_visible(video, t, hidden):
            continue
        if len(found) == max_count:
            return found, True
        found.append(video)
    return found, False


@lru_cache(maxsize=512)
def profile_stats(account: Account, t: float, hidden: frozenset[str] = frozenset()) -> dict[str, int]:
    """follower/following/likes/video counts at ``t``."""
    visible = visible_videos(account, t, hidden)
    posted = account.videos[account.index_before(int(t) * 1000 + 1000) :]
    lifetime_views = sum(view_count(v, t) for v in posted)
    first = account.videos[-1].create_time if account.videos else account.anchor
    days_active = max(0, int(t - first) // DAY)
    return {
        "follower_count": account.follower_base + lifetime_views // 100,
        "following_count": account.following_base + days_active // 20,
        "likes_count": sum(like_count(v, t) for v in visible),
        "video_count": len(visible),
    }


# --------------------------------------------------------------------------- ids and URLs


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _uuidish(*parts: str) -> str:
    h = _digest(*parts)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def open_id(account_key: str, client_key: str) -> str:
    """The user's id within one app (differs per client_key, like TikTok's)."""
    return "-000" + _uuidish("open", client_key, account_key)[4:]


def sign_media(path: str, expires: int) -> str:
    """Fake CDN signature over a media path and its expiry."""
    mac = hmac.new(MEDIA_SIGNING_KEY, f"{path}\n{expires}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def media_query(path: str, t: float, ttl: int = MEDIA_URL_TTL) -> dict[str, str]:
    expires = int(t) + ttl
    return {"x-expires": str(expires), "x-signature": sign_media(path, expires)}


def tiktok_cover_url(video: Video, t: float, ttl: int = MEDIA_URL_TTL) -> str:
    """A TikTok-CDN-shaped signed cover URL (not loadable offline)."""
    path = (
        f"/obj/tos-useast5-p-0068-tx/{_digest('cover', video.id)[:32]}~tplv-photomode-zoomcover:720:720.jpeg"
    )
    return f"https://p16-sign.tiktokcdn-us.com{path}?{urlencode(media_query(path, t, ttl))}"


def tiktok_avatar_url(account: Account, t: float, size: int = 720, ttl: int = MEDIA_URL_TTL) -> str:
    path = f"/tos-useast5-avt-0068-tx/{_digest('avatar', account.key)[:32]}~c5_{size}x{size}.jpeg"
    return f"https://p16-sign.tiktokcdn-us.com{path}?{urlencode(media_query(path, t, ttl))}"


def share_url(account: Account, video: Video, client_key: str) -> str:
    query = urlencode({"utm_campaign": "tt4d_open_api", "utm_source": client_key})
    return f"https://www.tiktok.com/@{quote(account.username)}/video/{video.id}?{query}"


def embed_link(video: Video) -> str:
    return f"https://www.tiktok.com/player/v1/{video.id}"


def embed_html(account: Account, video: Video, client_key: str) -> str:
    """TikTok's blockquote embed; every interpolated value is HTML-escaped."""
    cite = escape(share_url(account, video, client_key))
    return (
        f'<blockquote class="tiktok-embed" cite="{cite}" data-video-id="{video.id}" '
        f'style="max-width: 605px;min-width: 325px;"><section>'
        f'<a target="_blank" title="@{escape(account.username)}" '
        f'href="https://www.tiktok.com/@{escape(account.username)}">@{escape(account.username)}</a> '
        f"{escape(video.title)}</section></blockquote>"
        f'<script async src="https://www.tiktok.com/embed.js"></script>'
    )
