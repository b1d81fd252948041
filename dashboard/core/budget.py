"""One TikTok call budget per deployment, shared by every thread, process and machine.

TikTok allows 600 requests per minute per endpoint and per app, whoever sends them.
A :class:`TikTokBudget` counts calls in a moving window (``limits``'
:class:`~limits.strategies.MovingWindowRateLimiter`), so no window of the limit's
length ever holds more calls than the limit, and makes callers *wait* for room
instead of failing.  When TikTok answers 429 anyway (another app on the same key,
a limit lowered on TikTok's side), :meth:`TikTokBudget.back_off` holds every
holder of the budget until TikTok's ``Retry-After`` has passed.

Where the counters live follows ``storage_uri``:

* ``memory://`` -- in this process, shared by its threads and by every budget of
  the same ``namespace`` in it.  Enough for one process; gunicorn's workers and
  ``flask worker`` would each get their own budget, so a deployment with more than
  one process needs
* ``redis://host:port/db`` (or ``rediss://``, ``redis+unix://``) -- in that Redis,
  shared by every process and machine using it.  ``limits`` stamps calls with each
  machine's ``time.time()``, so the machines' clocks must agree (NTP) to well under
  a second; the back-off uses the key's TTL and does not depend on clocks.

Usage, with the API client's ``throttle`` hook::

    budget = TikTokBudget("600 per minute", storage_uri="redis://localhost:6379/0")
    client = TikTokClient(token, throttle=budget)

Nothing is opened at import time, and a Redis connection only on first use.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

import limits
from limits.storage import MovingWindowSupport, Storage
from limits.strategies import MovingWindowRateLimiter

__all__ = ["BudgetTimeout", "TikTokBudget"]

logger = logging.getLogger(__name__)

# A waiting caller re-reads the shared state at least this often (seconds), so a
# back-off lifted by hand (DEL on the Redis key) or a clock step is noticed within a
# second; one Redis round trip a second per waiting thread costs nothing.
MAX_NAP = 1.0

# Shortest sleep between two tries (seconds).  limits counts a call until its window
# has *fully* passed, and another holder may take a freed slot first: either way the
# next try is a moment away, and without a floor the loop would spin.
MIN_NAP = 0.01

_MEMORY_SCHEMES = frozenset({"memory"})
_REDIS_SCHEMES = frozenset({"redis", "rediss", "redis+unix"})

# KEYS[1] the back-off key; ARGV[1] how long to hold, in ms; ARGV[2] when the hold
# ends, in epoch ms (for people reading the key).  Compares the key's remaining TTL,
# so the hold is only ever extended and no machine's clock is involved.
_EXTEND_BACKOFF_LUA = """
local wanted = tonumber(ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if left < wanted then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', wanted)
    return wanted
end
return left
"""


#: A call that waited for the window goes this much after its oldest call left
#: it: TikTok counts arrivals, and the time from counting a call here to its
#: arrival varies between calls (threads, scheduling; up to ~70 ms was seen on
#: a loaded 2-core machine). A quarter second costs 0.4 % of a minute's budget.
TRANSIT_MARGIN = 0.25


class BudgetTimeout(Exception):
    """The budget had no room for ``endpoint`` within ``max_wait`` seconds."""

    def __init__(self, endpoint: str, waited: float):
        super().__init__(endpoint, waited)
        self.endpoint = endpoint
        self.waited = waited

    def __str__(self):
        return f"TikTok call budget for {self.endpoint} still spent after {self.waited:.1f}s"


class TikTokBudget:
    """A shared budget of TikTok calls per endpoint; see the module docstring.

    ``limit`` is in Flask-Limiter/limits notation (``"600 per minute"``).  Budgets
    with the same ``storage_uri`` and ``namespace`` share counters and back-off.
    ``sleep`` and ``clock`` are for tests: memory budgets stamp their calls with
    ``clock`` (every memory budget of one namespace must use the same one), while
    limits stamps Redis budgets with ``time.time()``, so leave ``clock`` alone there.
    ``acquire`` gives up after ``max_wait`` seconds.  Thread-safe.
    """

    def __init__(
        self,
        limit: str = "600 per minute",
        *,
        storage_uri: str = "memory://",
        namespace: str = "tiktok",
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_wait: float = 300.0,
        margin: float = TRANSIT_MARGIN,
    ):
        self.limit = limits.parse(limit)
        self.margin = margin
        self.namespace = namespace
        self.max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self._backend = _backend_for(storage_uri, namespace, clock)
        self._limiter = MovingWindowRateLimiter(self._backend.storage)

    def __repr__(self):
        return f"<TikTokBudget {self.limit} namespace={self.namespace!r}>"

    def acquire(self, endpoint: str) -> float:
        """Wait until one call to ``endpoint`` fits, count it; return the seconds waited.

        Waits out a shared back-off first.  Raises :class:`BudgetTimeout` once
        ``max_wait`` seconds have passed without room.
        """
        start = self._clock()
        while True:
            wait = self._backend.backoff_remaining()
            if wait <= 0:
                if self._limiter.hit(self.limit, self.namespace, endpoint):
                    return self._waited(start, endpoint)
                wait = self._window_wait(endpoint)
            self._nap(wait, start, endpoint)

    def back_off(self, seconds: float) -> None:
        """Hold every holder of this budget for ``seconds`` from now (TikTok said 429).

        Only ever extends a hold already in force, never shortens it.
        """
        if not math.isfinite(seconds):
            raise ValueError(f"back-off must be a finite number of seconds, not {seconds!r}")
        if seconds <= 0:
            return
        self._backend.extend_backoff(seconds)
        logger.info("TikTok budget %s: every call held for %.1fs", self.namespace, seconds)

    def _window_wait(self, endpoint: str) -> float:
        """Seconds until the oldest counted call to ``endpoint`` leaves the window."""
        stats = self._limiter.get_window_stats(self.limit, self.namespace, endpoint)
        if stats.remaining > 0:  # a slot freed since the refused hit: try again after the margin
            return self.margin
        return stats.reset_time - self._clock() + self.margin

    def _nap(self, wait: float, start: float, endpoint: str) -> None:
        """Sleep a little towards ``wait``; raise once ``max_wait`` has passed."""
        waited = self._clock() - start
        left = self.max_wait - waited
        if left <= 0:
            logger.warning("TikTok budget %s: no room for %s in %.1fs", self.namespace, endpoint, waited)
            raise BudgetTimeout(endpoint, waited)
        self._sleep(min(max(wait, MIN_NAP), MAX_NAP, left))

    def _waited(self, start: float, endpoint: str) -> float:
        """Seconds since ``start``, logged when the call had to wait."""
        waited = self._clock() - start
        if waited > 0:
            logger.debug("TikTok budget %s: waited %.2fs for %s", self.namespace, waited, endpoint)
        return waited


# --------------------------------------------------------------------------
# Backends: where the counters and the back-off live
# --------------------------------------------------------------------------


def _backend_for(storage_uri: str, namespace: str, clock: Callable[[], float]):
    """The memory or Redis backend ``storage_uri`` names."""
    scheme = urlsplit(storage_uri).scheme
    if scheme in _MEMORY_SCHEMES:
        return _local_backend(namespace, clock)
    if scheme in _REDIS_SCHEMES:
        return _RedisBackend(storage_uri, namespace)
    raise ValueError(f"TikTok budget storage must be memory:// or redis://..., not {storage_uri!r}")


class _LocalWindows(Storage, MovingWindowSupport):
    """limits storage for moving windows in this process, stamped by ``clock``.

    limits' own MemoryStorage stamps calls with ``time.time()`` and prunes them from
    a timer thread, so a test clock could not drive it; this one prunes on access.
    Only the moving-window methods are meaningful here.
    """

    def __init__(self, clock: Callable[[], float]):
        super().__init__()
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: dict[str, deque[float]] = {}

    @property
    def base_exceptions(self):
        return ()  # nothing here fails for storage reasons

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        with self._lock:
            now = self._clock()
            calls = self._live(key, expiry, now)
            if len(calls) + amount > limit:
                return False
            calls.extend([now] * amount)
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        with self._lock:
            now = self._clock()
            calls = self._live(key, expiry, now)
            return (calls[0], len(calls)) if calls else (now, 0)

    def _live(self, key: str, expiry: int, now: float) -> deque[float]:
        """The calls of ``key`` still in the window; as in limits, the boundary counts."""
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] < now - expiry:
            calls.popleft()
        return calls

    def clear(self, key: str) -> None:
        with self._lock:
            self._calls.pop(key, None)

    def reset(self) -> int:
        with self._lock:
            count = len(self._calls)
            self._calls.clear()
            return count

    def check(self) -> bool:
        return True

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("the TikTok budget keeps moving windows only")

    def get(self, key: str) -> int:
        raise NotImplementedError("the TikTok budget keeps moving windows only")

    def get_expiry(self, key: str) -> float:
        raise NotImplementedError("the TikTok budget keeps moving windows only")


class _LocalBackend:
    """One namespace's windows and back-off in this process, shared by its budgets."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.storage = _LocalWindows(clock)
        self._lock = threading.Lock()
        self._backoff_until = -math.inf

    def backoff_remaining(self) -> float:
        with self._lock:
            return self._backoff_until - self.clock()

    def extend_backoff(self, seconds: float) -> None:
        with self._lock:
            self._backoff_until = max(self._backoff_until, self.clock() + seconds)


_LOCAL_LOCK = threading.Lock()
_LOCAL_BACKENDS: dict[str, _LocalBackend] = {}


def _local_backend(namespace: str, clock: Callable[[], float]) -> _LocalBackend:
    """The process-wide backend of ``namespace``, made on first use."""
    with _LOCAL_LOCK:
        backend = _LOCAL_BACKENDS.get(namespace)
        if backend is None:
            backend = _LOCAL_BACKENDS[namespace] = _LocalBackend(clock)
        elif backend.clock != clock:
            raise ValueError(f"memory budget {namespace!r} already counts on another clock")
        return backend


class _RedisBackend:
    """Windows (limits' RedisStorage) and back-off (``<namespace>:backoff_until``) in Redis."""

    def __init__(self, storage_uri: str, namespace: str):
        import redis  # only deployments that keep the budget in Redis need the package
        from limits.storage import RedisStorage

        self._redis = redis.Redis.from_url(storage_uri.replace("redis+unix://", "unix://", 1))
        self.storage = RedisStorage(storage_uri, connection_pool=self._redis.connection_pool)
        self._key = f"{namespace}:backoff_until"
        self._extend = self._redis.register_script(_EXTEND_BACKOFF_LUA)

    def backoff_remaining(self) -> float:
        left_ms = self._redis.pttl(self._key)  # -2: no key; -1: no expiry, not ours
        return left_ms / 1000 if left_ms > 0 else 0.0

    def extend_backoff(self, seconds: float) -> None:
        hold_ms = max(1, math.ceil(seconds * 1000))
        until_ms = int(time.time() * 1000) + hold_ms
        self._extend(keys=[self._key], args=[hold_ms, until_ms])
