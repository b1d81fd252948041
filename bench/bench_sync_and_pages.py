"""Sync and page speed on the sandbox's 10,000-video account; prints figures.

    python bench/bench_sync_and_pages.py                      # SQLite in a temp dir
    python bench/bench_sync_and_pages.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

With ``--database-url`` the script creates a throwaway database on that
PostgreSQL server (``bench_<random>``), and drops it at the end.

What it does, over real HTTP to the sandbox served by a separate process on a
loopback port (so the sandbox's own memory is not counted as the app's):

1. Connects the ``bulk`` account (10,000 videos) and syncs it once: upstream
   calls against the minimum ``1 + ceil(videos / 20)``, wall time, and the
   peak memory of the app process (RSS growth; Python heap with tracemalloc on
   a second sync).
2. Opens ``/`` and ``/videos`` logged in, after a warm-up, ``--requests`` times
   each through the Flask test client: median and p95 server time, SQL
   queries per page (a SQLAlchemy ``before_cursor_execute`` listener), and
   upstream calls made by the pages (must be 0). Also the first, uncached
   view of each page after the sync.
3. The same pages for the 150-video ``creator`` account, to show the query
   count does not grow with the number of videos.
4. Streams ``/export/videos.csv`` and ``/export/history.csv`` of the bulk
   account: wall time, size and the Python heap peak while streaming.

This is not a test: it prints numbers; the README records them.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from bench.databases import throwaway_database  # noqa: E402
from dashboard.core.sync import run_sync  # noqa: E402
from sandbox import ACCOUNTS, SandboxState  # noqa: E402
from sandbox.testing import form_fields  # noqa: E402

PAGE_SIZE = 20


# --- the sandbox in its own process -------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sandbox_process(db_path: Path):
    """``python -m sandbox`` on a loopback port, sharing ``db_path`` with us."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--db", str(db_path)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(base + "/v2/user/info/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(10)


# --- databases ---------------------------------------------------------------------------------


# --- the app, a login, a sync ---------------------------------------------------------------------


def make_app(database_url: str, sandbox_url: str, sandbox_db: Path):
    return create_app({
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": database_url,
        "TIKTOK_CLIENT_KEY": None,
        "TIKTOK_AUTH_URL": sandbox_url + "/v2/auth/authorize/",
        "TIKTOK_API_BASE": sandbox_url,
        "SANDBOX_DB": str(sandbox_db),
        "SYNC_ON_CONNECT": False,
        "AUTH_RATE_LIMIT": "1000 per minute",
        "SERVER_NAME": "localhost:5000",
        # The bench runs each sync itself and times it: no consumer, no pictures,
        # and a TikTok budget that does not pace back-to-back syncs of 501 calls.
        "WORKER_IN_PROCESS": False,
        "QUEUE_PATH": str(sandbox_db.with_name("queue.sqlite3")),
        "STORE_PICTURES": False,
        "MEDIA_PATH": str(sandbox_db.with_name("media")),
        "TIKTOK_RATE_LIMIT": "1000000 per minute",
    })


def login(client, account: str) -> int:
    """The real login: /auth, the sandbox's consent page over HTTP, /callback."""
    start = client.get("/auth")
    page = requests.get(start.headers["Location"], timeout=10)
    fields = form_fields(page.text)
    fields.update(account=[account], action=["authorize"])
    answer = requests.post(page.url, data=fields, allow_redirects=False, timeout=10)
    back = urlsplit(urljoin(page.url, answer.headers["Location"]))
    assert parse_qs(back.query).get("code"), back
    done = client.get(back.path + "?" + back.query)
    assert done.status_code == 302, done.status_code
    with client.session_transaction() as session:
        return session["account_id"]


def sync(app, account_id: int, now=None):
    with app.app_context():
        return run_sync(app.extensions["core"], account_id, now=now)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- measuring pages ---------------------------------------------------------------------------------


@contextmanager
def sql_counter(engine):
    counter = {"n": 0}

    def count(*_args):
        counter["n"] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", count)


def time_page(client, engine, path: str, n: int, warmup: int) -> dict:
    with sql_counter(engine) as counter:
        start = time.perf_counter()
        first = client.get(path)
        cold = time.perf_counter() - start
        assert first.status_code == 200, (path, first.status_code)
        cold_queries = counter["n"]
        for _ in range(warmup):
            client.get(path)
        times, queries = [], set()
        for _ in range(n):
            counter["n"] = 0
            start = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, (path, response.status_code)
            queries.add(counter["n"])
    times.sort()
    return {
        "cold_ms": cold * 1000,
        "cold_queries": cold_queries,
        "median_ms": statistics.median(times) * 1000,
        "p95_ms": times[max(0, math.ceil(0.95 * len(times)) - 1)] * 1000,
        "queries": sorted(queries),
    }


def time_export(client, path: str) -> dict:
    tracemalloc.start()
    start = time.perf_counter()
    response = client.get(path)
    size = sum(len(chunk) for chunk in response.response)
    elapsed = time.perf_counter() - start
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"streamed": response.is_streamed, "seconds": elapsed, "mb": size / 1e6,
            "heap_peak_mb": peak / 1e6}


# --- the run ----------------------------------------------------------------------------------------------


def run(database_url: str | None, requests_per_page: int, warmup: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp_name:
        tmp = Path(tmp_name)
        sandbox_db = tmp / "sandbox.sqlite3"
        state = SandboxState(sandbox_db)
        # TikTok allows 600 calls a minute per endpoint; one bulk sync needs 500,
        # but running the bench twice in a minute would measure the limit, not us.
        state.rate_limit_per_minute = None
        with sandbox_process(sandbox_db) as sandbox_url, \
                throwaway_database(database_url, tmp) as db_url:
            app = make_app(db_url, sandbox_url, sandbox_db)
            engine = app.extensions["core"].store.engine
            backend = engine.dialect.name
            print(f"== {backend}  (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")

            bulk_client, creator_client = app.test_client(), app.test_client()
            bulk_id = login(bulk_client, "bulk")
            creator_id = login(creator_client, "creator")

            state.reset_calls()
            rss_before = peak_rss_mb()
            start = time.perf_counter()
            result = sync(app, bulk_id)
            wall = time.perf_counter() - start
            calls = state.calls
            assert result.ok, result
            n = result.videos_seen
            minimum = 1 + math.ceil(n / PAGE_SIZE)
            print(f"sync bulk: {n} videos, {sum(calls.values())} upstream calls "
                  f"({dict(calls)}), minimum 1 + ceil({n}/20) = {minimum}, "
                  f"{'AT' if sum(calls.values()) == minimum else 'ABOVE'} minimum")
            print(f"sync bulk: wall {wall:.2f} s; process peak RSS {peak_rss_mb():.0f} MB "
                  f"(+{peak_rss_mb() - rss_before:.0f} MB during the sync)")

            # An hour later: a second snapshot of every video, as a scheduled sync makes.
            later = datetime.now(UTC) + timedelta(hours=1)
            state.clock.set(later.timestamp())
            tracemalloc.start()
            start = time.perf_counter()
            again = sync(app, bulk_id, now=later)
            wall_traced = time.perf_counter() - start
            _current, heap_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            state.clock.reset()
            assert again.ok, again
            print(f"second sync bulk, an hour later (tracemalloc on): wall {wall_traced:.2f} s, "
                  f"Python heap peak {heap_peak / 1e6:.1f} MB")

            assert sync(app, creator_id).ok
            state.reset_calls()
            for label, client, videos in (("bulk", bulk_client, n),
                                          ("creator", creator_client, None)):
                for path in ("/", "/videos"):
                    figures = time_page(client, engine, path, requests_per_page, warmup)
                    print(f"{label:8} {path:8} median {figures['median_ms']:6.1f} ms  "
                          f"p95 {figures['p95_ms']:6.1f} ms  queries/page {figures['queries']}  "
                          f"first view after sync {figures['cold_ms']:7.1f} ms "
                          f"({figures['cold_queries']} queries)"
                          + (f"  [{videos} videos]" if videos else ""))
            print(f"upstream calls made by {4 * (requests_per_page + warmup + 1)} page views: "
                  f"{sum(state.calls.values())}")

            for path in ("/export/videos.csv", "/export/history.csv"):
                figures = time_export(bulk_client, path)
                print(f"bulk {path}: {figures['mb']:.1f} MB in {figures['seconds']:.2f} s, "
                      f"streamed={figures['streamed']}, Python heap peak "
                      f"{figures['heap_peak_mb']:.1f} MB (tracemalloc on)")
            engine.dispose()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server URL; a throwaway database is made on it")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per page (default 100)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests first (default 5)")
    args = parser.parse_args(argv)
    assert ACCOUNTS["bulk"].n_videos == 10_000
    run(args.database_url, args.requests, args.warmup)


if __name__ == "__main__":
    main()
