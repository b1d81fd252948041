"""Sandbox state: codes, tokens, clock, settings, faults, call counts and times, rate limits.

All of it lives in SQLite so that several processes (gunicorn workers, a
standalone ``python -m sandbox`` and a test driving it) can share one file.
With ``db_path=None`` the database is in memory and private to this object;
a lock makes it safe across threads.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

SANDBOX_CLIENT_KEY = "sandbox-client-key"
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"
#: The sandbox's Research API client (client credentials only; no Login Kit).
SANDBOX_RESEARCH_CLIENT_KEY = "sandbox-research-key"
SANDBOX_RESEARCH_CLIENT_SECRET = "sandbox-research-secret"

#: Endpoint names used for faults, call counts and rate limits.
ENDPOINTS = ("authorize", "token", "revoke", "user_info", "video_list", "video_query", "media",
             "research_video_query", "research_comments", "research_user_info", "research_followers",
             "research_following", "research_advertisers", "research_ads")
DATA_ENDPOINTS = ("user_info", "video_list", "video_query")

FAULT_KINDS = (
    "500",
    "503",
    "429",
    "429-no-retry-after",
    "malformed",
    "truncated",
    "timeout",
    "slow",
    "reset",
    "expire_token",
    "hide_video",
    "expire_search",
)
#: Kinds a well-behaved client can recover from by retrying; the default mix
#: for random faults.
TRANSIENT_KINDS = ("500", "503", "429")

DEFAULT_SETTINGS: dict[str, Any] = {
    "access_token_ttl": 86_400,
    "refresh_token_ttl": 31_536_000,
    "code_ttl": 600,
    # HTTP status sent with OAuth-shaped errors; None means RFC 6749 statuses.
    "oauth_error_status": 200,
    "rate_limit_per_minute": 600,
    "media_url_ttl": 6 * 3600,
    # Refuse expired or tampered media URLs with 403, as TikTok's CDN does.
    "enforce_media_expiry": True,
    # "local": cover/avatar URLs point at this sandbox; "tiktok": CDN-shaped.
    "media_urls": "local",
    # Base for local media URLs when the browser reaches the sandbox elsewhere.
    "media_base_url": None,
    "retry_after": 1,
    "slow_seconds": 2.0,
    "timeout_seconds": 30.0,
    "app_name": "Analytics Dashboard (sandbox)",
    # Research API: client token lifetime, daily quotas (reset 00:00 UTC on the
    # sandbox clock), search_id lifetime, and the longest window (days) answered
    # before HTTP 500 (None: any window up to 30 days is answered).
    "research_token_ttl": 7200,
    "research_daily_requests": 1000,
    "research_daily_records": 100_000,
    "research_daily_follow_calls": 20_000,
    "research_search_ttl": 3600,
    "research_max_window_days": None,
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS codes (
    code TEXT PRIMARY KEY, client_key TEXT NOT NULL, redirect_uri TEXT NOT NULL,
    code_challenge TEXT, scopes TEXT NOT NULL, account TEXT NOT NULL,
    expires_at REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, kind TEXT NOT NULL, grant_id TEXT NOT NULL,
    client_key TEXT NOT NULL, account TEXT NOT NULL, scopes TEXT NOT NULL,
    expires_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS tokens_grant ON tokens (grant_id);
CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, digest TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS fault_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT, endpoint TEXT NOT NULL, kind TEXT NOT NULL, seconds REAL);
CREATE TABLE IF NOT EXISTS calls (endpoint TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS call_log (endpoint TEXT NOT NULL, t REAL NOT NULL);
CREATE TABLE IF NOT EXISTS hits (endpoint TEXT NOT NULL, ts REAL NOT NULL);
CREATE INDEX IF NOT EXISTS hits_endpoint ON hits (endpoint, ts);
CREATE TABLE IF NOT EXISTS hidden (
    account TEXT NOT NULL, video_id TEXT NOT NULL, PRIMARY KEY (account, video_id));
"""


#: Every table, for ``reset()``.
_TABLES = ("kv", "codes", "tokens", "nonces", "fault_queue", "calls", "call_log", "hits", "hidden")


@dataclass(frozen=True)
class Grant:
    """What a code or token stands for."""

    client_key: str
    account: str
    scopes: tuple[str, ...]
    expires_at: float
    grant_id: str = ""
    redirect_uri: str = ""
    code_challenge: str | None = None


@dataclass(frozen=True)
class TokenInfo:
    kind: str
    grant_id: str
    client_key: str


@dataclass(frozen=True)
class Fault:
    kind: str
    seconds: float | None = None


class _Database:
    """One SQLite connection per process, guarded by a lock."""

    def __init__(self, path: str | None):
        self.path = path
        self.lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path or ":memory:", timeout=10, isolation_level=None, check_same_thread=False
        )
        if self.path:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        # A file database reconnects after fork (gunicorn --preload); a memory
        # database must keep its only connection.
        if self._conn is None or (self.path and self._pid != os.getpid()):
            self._conn = self._connect()
            self._pid = os.getpid()
        return self._conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locked) transaction."""
        with self.lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self.lock:
            return self.conn.execute(sql, args).fetchall()

    def run(self, sql: str, args: tuple = ()) -> int:
        with self.lock:
            return self.conn.execute(sql, args).rowcount

    def get(self, key: str, default: Any = None) -> Any:
        rows = self.query("SELECT value FROM kv WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def put(self, key: str, value: Any) -> None:
        self.run("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def close(self) -> None:
        with self.lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class SandboxClock:
    """The sandbox's notion of now: real time, shifted or frozen.

    Stored in the database so that setting it in one process moves it in all.
    """

    def __init__(self, db: _Database, source: Callable[[], float] = time.time):
        self._db = db
        self._source = source

    def _read(self) -> dict:
        return self._db.get("clock", {"frozen": None, "offset": 0.0})

    def now(self) -> float:
        clock = self._read()
        if clock["frozen"] is not None:
            return float(clock["frozen"])
        return self._source() + clock["offset"]

    @property
    def frozen(self) -> bool:
        return self._read()["frozen"] is not None

    def set(self, t: float) -> None:
        """Freeze the clock at ``t`` (epoch seconds)."""
        self._db.put("clock", {"frozen": float(t), "offset": 0.0})

    def freeze(self) -> None:
        self.set(self.now())

    def advance(self, seconds: float) -> None:
        """Move forward (frozen: stays frozen; running: keeps running, shifted)."""
        with self._db.lock:
            clock = self._read()
            if clock["frozen"] is not None:
                clock["frozen"] += seconds
            else:
                clock["offset"] += seconds
            self._db.put("clock", clock)

    def reset(self) -> None:
        """Back to real time."""
        self._db.put("clock", {"frozen": None, "offset": 0.0})


class Settings:
    """Tunables, shared through the database: ``state.settings.access_token_ttl = 7200``."""

    def __init__(self, db: _Database):
        object.__setattr__(self, "_db", db)

    def as_dict(self) -> dict[str, Any]:
        return {**DEFAULT_SETTINGS, **self._db.get("settings", {})}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULT_SETTINGS:
            raise AttributeError(name)
        return self.as_dict()[name]

    def __setattr__(self, name: str, value: Any) -> None:
        self.update(**{name: value})

    def update(self, **values: Any) -> None:
        unknown = set(values) - set(DEFAULT_SETTINGS)
        if unknown:
            raise ValueError(f"unknown sandbox settings: {', '.join(sorted(unknown))}")
        with self._db.lock:
            self._db.put("settings", {**self._db.get("settings", {}), **values})

    def reset(self) -> None:
        self._db.put("settings", {})


class _Clients(MutableMapping):
    """Extra OAuth clients (client_key -> client_secret), shared through the database."""

    def __init__(self, db: _Database):
        self._db = db

    def _all(self) -> dict[str, str]:
        return self._db.get("extra_clients", {})

    def __getitem__(self, key: str) -> str:
        return self._all()[key]

    def __setitem__(self, key: str, secret: str) -> None:
        with self._db.lock:
            self._db.put("extra_clients", {**self._all(), key: secret})

    def __delitem__(self, key: str) -> None:
        with self._db.lock:
            clients = self._all()
            del clients[key]
            self._db.put("extra_clients", clients)

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


class SandboxState:
    """Everything the sandbox remembers between requests."""

    def __init__(
        self, db_path: str | os.PathLike | None = None, *, clock: float | Callable[[], float] | None = None
    ):
        self._db = _Database(os.fspath(db_path) if db_path is not None else None)
        self.clock = SandboxClock(self._db, clock if callable(clock) else time.time)
        if isinstance(clock, int | float):
            self.clock.set(clock)
        self.settings = Settings(self._db)
        self.extra_clients: MutableMapping[str, str] = _Clients(self._db)
        #: Wall clock for the rate limiter's sliding window and the call log.
        #: Real time even when the sandbox clock is frozen, so a frozen test
        #: clock never leaves an endpoint throttled forever and the log shows
        #: the client's real request rate.  Replace it in tests.
        self.wall: Callable[[], float] = time.time
        self._rng_lock = threading.Lock()
        self._rng: random.Random | None = None
        self._rng_version: int | None = None
        self._wake = threading.Event()

    # ------------------------------------------------------------------ housekeeping

    def configure(self, **settings: Any) -> None:
        """Shorthand for ``state.settings.update(...)``."""
        self.settings.update(**settings)

    def reset(self) -> None:
        """Forget codes, tokens, faults, counts and the call log, hidden videos; real clock;
        default settings."""
        with self._db.tx() as conn:
            for table in _TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        self._interrupt_sleepers()

    def close(self) -> None:
        self._db.close()

    def client_secret(self, client_key: str) -> str | None:
        """The secret of a known client, or None."""
        if client_key == SANDBOX_CLIENT_KEY:
            return SANDBOX_CLIENT_SECRET
        if client_key == SANDBOX_RESEARCH_CLIENT_KEY:
            return SANDBOX_RESEARCH_CLIENT_SECRET
        return self.extra_clients.get(client_key)

    # ------------------------------------------------------------------ codes

    def issue_code(
        self,
        *,
        client_key: str,
        redirect_uri: str,
        code_challenge: str | None,
        scopes: tuple[str, ...],
        account: str,
    ) -> str:
        """A single-use authorization code; contains ``*`` and ``!`` like TikTok's."""
        code = f"{secrets.token_urlsafe(48)}*{secrets.randbelow(10)}!{secrets.randbelow(10_000):04d}"
        self._db.run(
            "INSERT INTO codes (code, client_key, redirect_uri, code_challenge, scopes, account, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                code,
                client_key,
                redirect_uri,
                code_challenge,
                ",".join(scopes),
                account,
                self.clock.now() + self.settings.code_ttl,
            ),
        )
        return code

    def peek_code(self, code: str) -> tuple[Grant, bool] | None:
        """(grant, used) for a code, or None if unknown."""
        rows = self._db.query(
            "SELECT client_key, account, scopes, expires_at, redirect_uri, code_challenge, used"
            " FROM codes WHERE code = ?",
            (code,),
        )
        if not rows:
            return None
        client_key, account, scopes, expires_at, redirect_uri, challenge, used = rows[0]
        grant = Grant(client_key, account, _split(scopes), expires_at, "", redirect_uri, challenge)
        return grant, bool(used)

    def consume_code(self, code: str) -> bool:
        """Mark a code used; False if it already was (atomic across processes)."""
        return self._db.run("UPDATE codes SET used = 1 WHERE code = ? AND used = 0", (code,)) == 1

    # ------------------------------------------------------------------ tokens

    def issue_tokens(
        self,
        *,
        client_key: str,
        account: str,
        scopes: tuple[str, ...],
        grant_id: str | None = None,
        refresh_expires_at: float | None = None,
    ) -> dict[str, Any]:
        """A new access token and refresh token for one grant."""
        now = self.clock.now()
        grant_id = grant_id or secrets.token_hex(16)
        access = "act." + secrets.token_urlsafe(40)
        refresh = "rft." + secrets.token_urlsafe(40)
        access_expires = now + self.settings.access_token_ttl
        refresh_expires = (
            refresh_expires_at if refresh_expires_at is not None else now + self.settings.refresh_token_ttl
        )
        with self._db.tx() as conn:
            for token, kind, expires in (
                (access, "access", access_expires),
                (refresh, "refresh", refresh_expires),
            ):
                conn.execute(
                    "INSERT INTO tokens (token, kind, grant_id, client_key, account, scopes, expires_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (token, kind, grant_id, client_key, account, ",".join(scopes), expires),
                )
        return {
            "access_token": access,
            "expires_in": int(round(access_expires - now)),
            "refresh_token": refresh,
            "refresh_expires_in": max(0, int(round(refresh_expires - now))),
            "scope": ",".join(scopes),
            "grant_id": grant_id,
        }

    def _token(self, token: str, kind: str) -> Grant | None:
        rows = self._db.query(
            "SELECT client_key, account, scopes, expires_at, grant_id FROM tokens"
            " WHERE token = ? AND kind = ? AND revoked = 0",
            (token, kind),
        )
        if not rows:
            return None
        client_key, account, scopes, expires_at, grant_id = rows[0]
        if expires_at <= self.clock.now():
            return None
        return Grant(client_key, account, _split(scopes), expires_at, grant_id)

    def access_grant(self, token: str) -> Grant | None:
        """The grant behind a live access token, or None (unknown, expired, revoked)."""
        return self._token(token, "access")

    def refresh_grant(self, token: str) -> Grant | None:
        return self._token(token, "refresh")

    def token_info(self, token: str) -> TokenInfo | None:
        """Kind, grant and client of any known token, live or not."""
        rows = self._db.query("SELECT kind, grant_id, client_key FROM tokens WHERE token = ?", (token,))
        return TokenInfo(*rows[0]) if rows else None

    def rotate_refresh_token(self, token: str) -> bool:
        """Retire a refresh token; False if it was already retired (lost a race)."""
        return (
            self._db.run(
                "UPDATE tokens SET revoked = 1 WHERE token = ? AND kind = 'refresh' AND revoked = 0", (token,)
            )
            == 1
        )

    def revoke_grant(self, grant_id: str) -> None:
        """Revoke every token of one authorization (the app loses access)."""
        self._db.run("UPDATE tokens SET revoked = 1 WHERE grant_id = ?", (grant_id,))

    def expire_access_tokens(self, account: str | None = None) -> int:
        """Make every (or one account's) access token expired; returns how many."""
        return self._set_tokens("expires_at = 0", "access", account)

    def expire_refresh_tokens(self, account: str | None = None) -> int:
        return self._set_tokens("expires_at = 0", "refresh", account)

    def revoke_refresh_tokens(self, account: str | None = None) -> int:
        """Revoke every (or one account's) refresh token; returns how many."""
        return self._set_tokens("revoked = 1", "refresh", account)

    def _set_tokens(self, assignment: str, kind: str, account: str | None) -> int:
        sql = f"UPDATE tokens SET {assignment} WHERE kind = ?"  # noqa: S608 - fixed fragments
        if account is None:
            return self._db.run(sql, (kind,))
        return self._db.run(sql + " AND account = ?", (kind, account))

    # ------------------------------------------------------------------ consent-page nonces

    def new_nonce(self, digest: str, ttl: float = 3600) -> str:
        nonce = secrets.token_urlsafe(24)
        now = time.time()
        with self._db.tx() as conn:
            conn.execute("DELETE FROM nonces WHERE expires_at < ?", (now,))
            conn.execute(
                "INSERT INTO nonces (nonce, digest, expires_at) VALUES (?, ?, ?)", (nonce, digest, now + ttl)
            )
        return nonce

    def consume_nonce(self, nonce: str, digest: str) -> bool:
        """True once for a nonce issued for exactly these parameters."""
        return (
            self._db.run(
                "DELETE FROM nonces WHERE nonce = ? AND digest = ? AND expires_at >= ?",
                (nonce, digest, time.time()),
            )
            == 1
        )

    # ------------------------------------------------------------------ faults

    @property
    def faults(self) -> dict[str, Any]:
        """Current fault configuration and queue (read-only snapshot)."""
        queue = self._db.query("SELECT endpoint, kind, seconds FROM fault_queue ORDER BY id")
        return {
            **self._fault_config(),
            "queue": [{"endpoint": e, "kind": k, "seconds": s} for e, k, s in queue],
        }

    def _fault_config(self) -> dict[str, Any]:
        return self._db.get(
            "faults",
            {
                "fail_rate": 0.0,
                "seed": None,
                "kinds": list(TRANSIENT_KINDS),
                "endpoints": list(DATA_ENDPOINTS),
                "delay": 0.0,
                "version": 0,
            },
        )

    def set_faults(
        self,
        *,
        fail_rate: float | None = None,
        seed: int | None = None,
        kinds: tuple[str, ...] | list[str] | None = None,
        endpoints: tuple[str, ...] | list[str] | None = None,
        delay: float | None = None,
    ) -> None:
        """Random faults: each request to ``endpoints`` fails with probability
        ``fail_rate``, the kind drawn from ``kinds`` by an RNG seeded with ``seed``.
        ``delay`` seconds are added to every request.  Unset arguments keep their value."""
        with self._db.lock:
            config = self._fault_config()
            if fail_rate is not None:
                if not 0 <= fail_rate <= 1:
                    raise ValueError("fail_rate must be between 0 and 1")
                config["fail_rate"] = float(fail_rate)
            if seed is not None:
                config["seed"] = seed
            if kinds is not None:
                config["kinds"] = [_check_kind(k) for k in kinds]
            if endpoints is not None:
                config["endpoints"] = [_check_endpoint(e) for e in endpoints]
            if delay is not None:
                config["delay"] = float(delay)
            config["version"] = config.get("version", 0) + 1
            self._db.put("faults", config)

    def queue_fault(self, endpoint: str, kind: str, *, seconds: float | None = None, times: int = 1) -> None:
        """Script the next ``times`` responses of ``endpoint`` (FIFO per endpoint)."""
        _check_endpoint(endpoint)
        _check_kind(kind)
        with self._db.tx() as conn:
            for _ in range(times):
                conn.execute(
                    "INSERT INTO fault_queue (endpoint, kind, seconds) VALUES (?, ?, ?)",
                    (endpoint, kind, seconds),
                )

    def clear_faults(self) -> None:
        """No queued or random faults, no delay, no hidden videos; wakes sleeping requests."""
        with self._db.tx() as conn:
            conn.execute("DELETE FROM fault_queue")
            conn.execute("DELETE FROM hidden")
            conn.execute("DELETE FROM kv WHERE key = 'faults'")
        self._interrupt_sleepers()

    def next_fault(self, endpoint: str) -> Fault | None:
        """The fault for this request: the queued one first, else a random draw."""
        # A cheap read first: the write lock is only taken when a fault is queued.
        if self._db.query("SELECT 1 FROM fault_queue WHERE endpoint = ? LIMIT 1", (endpoint,)):
            fault = self._pop_fault(endpoint)
            if fault is not None:
                return fault
        config = self._fault_config()
        if not config["fail_rate"] or endpoint not in config["endpoints"] or not config["kinds"]:
            return None
        with self._rng_lock:
            if self._rng is None or self._rng_version != config["version"]:
                self._rng = random.Random(config["seed"])
                self._rng_version = config["version"]
            if self._rng.random() >= config["fail_rate"]:
                return None
            return Fault(self._rng.choice(config["kinds"]))

    def _pop_fault(self, endpoint: str) -> Fault | None:
        with self._db.tx() as conn:
            row = conn.execute(
                "SELECT id, kind, seconds FROM fault_queue WHERE endpoint = ? ORDER BY id LIMIT 1",
                (endpoint,),
            ).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM fault_queue WHERE id = ?", (row[0],))
        return Fault(row[1], row[2])

    def fault_delay(self) -> float:
        return float(self._fault_config()["delay"])

    def sleep(self, seconds: float) -> None:
        """Sleep, cut short by ``clear_faults()`` or ``reset()``."""
        if seconds > 0:
            self._wake.wait(seconds)

    def _interrupt_sleepers(self) -> None:
        self._wake.set()
        self._wake = threading.Event()

    # ------------------------------------------------------------------ shared values

    def shared(self, key: str, default: Any = None) -> Any:
        """A JSON value kept for other parts of the sandbox (the Research API's state)."""
        return self._db.get(key, default)

    @contextmanager
    def updating(self, key: str, default: Any) -> Iterator[Any]:
        """Change a shared JSON value in place, one caller at a time."""
        with self._db.lock:
            value = self._db.get(key, default)
            yield value
            self._db.put(key, value)

    # ------------------------------------------------------------------ hidden videos

    def hide_video(self, account: str, video_id: str) -> None:
        self._db.run("INSERT OR IGNORE INTO hidden (account, video_id) VALUES (?, ?)", (account, video_id))

    def hidden_videos(self, account: str) -> frozenset[str]:
        return frozenset(
            r[0] for r in self._db.query("SELECT video_id FROM hidden WHERE account = ?", (account,))
        )

    # ------------------------------------------------------------------ call counts and times

    def count_call(self, endpoint: str) -> None:
        """Count a request and log its wall-clock time (before faults or rate limits refuse it)."""
        with self._db.tx() as conn:
            conn.execute(
                "INSERT INTO calls (endpoint, n) VALUES (?, 1)"
                " ON CONFLICT (endpoint) DO UPDATE SET n = n + 1",
                (endpoint,),
            )
            conn.execute("INSERT INTO call_log (endpoint, t) VALUES (?, ?)", (endpoint, self.wall()))

    @property
    def calls(self) -> Counter:
        """Requests seen per endpoint name (a snapshot)."""
        return Counter(dict(self._db.query("SELECT endpoint, n FROM calls")))

    def call_times(self, endpoint: str | None = None) -> list[float]:
        """Wall-clock times of the requests to ``endpoint`` (or all), sorted.

        The clock is ``self.wall``: ``time.time()`` unless a test replaces it,
        never the sandbox's adjustable clock.  Refused requests (injected
        faults, 429s) are included: they count against a client's budget too.
        Feed them to :func:`max_calls_in_window`.  The log keeps every call
        until ``reset_calls()`` or ``reset()``.
        """
        if endpoint is None:
            rows = self._db.query("SELECT t FROM call_log ORDER BY t")
        else:
            rows = self._db.query("SELECT t FROM call_log WHERE endpoint = ? ORDER BY t", (endpoint,))
        return [t for (t,) in rows]

    def call_log_summary(self) -> dict[str, dict[str, int]]:
        """Per endpoint: logged calls and the most inside any 60 seconds."""
        times: dict[str, list[float]] = {}
        for endpoint, t in self._db.query("SELECT endpoint, t FROM call_log ORDER BY endpoint, t"):
            times.setdefault(endpoint, []).append(t)
        return {e: {"count": len(ts), "max_per_minute": max_calls_in_window(ts)} for e, ts in times.items()}

    def reset_calls(self) -> None:
        """Forget call counts and the call log."""
        with self._db.tx() as conn:
            conn.execute("DELETE FROM calls")
            conn.execute("DELETE FROM call_log")

    # ------------------------------------------------------------------ rate limits

    @property
    def rate_limit_per_minute(self) -> int | None:
        return self.settings.rate_limit_per_minute

    @rate_limit_per_minute.setter
    def rate_limit_per_minute(self, value: int | None) -> None:
        self.settings.rate_limit_per_minute = value

    def hit_rate_limit(self, endpoint: str) -> int | None:
        """Record a request; seconds to wait if it is over the limit, else None.

        A one-minute sliding window per endpoint, on wall time.
        """
        limit = self.settings.rate_limit_per_minute
        if not limit:
            return None
        now = self.wall()
        with self._db.tx() as conn:
            conn.execute("DELETE FROM hits WHERE endpoint = ? AND ts <= ?", (endpoint, now - 60))
            count, oldest = conn.execute(
                "SELECT COUNT(*), MIN(ts) FROM hits WHERE endpoint = ?", (endpoint,)
            ).fetchone()
            if count >= limit:
                return max(1, int(oldest + 60 - now + 0.999))
            conn.execute("INSERT INTO hits (endpoint, ts) VALUES (?, ?)", (endpoint, now))
        return None

    def reset_rate_limits(self) -> None:
        self._db.run("DELETE FROM hits")

    # ------------------------------------------------------------------ snapshot

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able view of the state, for ``/_control``."""
        return {
            "now": self.clock.now(),
            "frozen": self.clock.frozen,
            "settings": self.settings.as_dict(),
            "faults": self.faults,
            "calls": dict(self.calls),
            "call_log": self.call_log_summary(),
            "extra_clients": sorted(self.extra_clients),
        }


def max_calls_in_window(times: list[float], window: float = 60.0) -> int:
    """The most calls inside any ``window`` seconds (in any order).

    Windows are half-open, like the rate limiter's: two calls exactly
    ``window`` apart fall in different windows.
    """
    if window <= 0:
        raise ValueError("window must be positive")
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _split(scopes: str) -> tuple[str, ...]:
    return tuple(s for s in scopes.split(",") if s)


def _check_kind(kind: str) -> str:
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    return kind


def _check_endpoint(endpoint: str) -> str:
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {', '.join(ENDPOINTS)}")
    return endpoint
