"""Load: the dashboard under gunicorn, many people browsing at once; prints figures.

    python bench/load.py                                  # 2 workers x 4 threads, 20 users, 30 s, SQLite
    python bench/load.py --users 50 --duration 60 --workers 4
    python bench/load.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

What it does, on loopback only:

1. Seeds a throwaway database in sandbox mode with ``flask sandbox history
   --days N`` (the demo creator, one real sync a day).
2. Starts ``gunicorn -w W --threads T -b 127.0.0.1:PORT "app:create_app()"``
   on it, the production command of the README (with the repository's
   ``gunicorn.conf.py``), its access log on.
3. Logs in every simulated user through the real login flow (``/auth``, the
   sandbox's consent page under ``/sandbox``, ``/callback``), each with a
   session of its own, so the workers must share sessions, OAuth state and
   the sandbox's codes through their databases.
4. Each user, in a thread of its own, browses ``/``, ``/videos``,
   ``/videos/<id>`` and ``/analytics`` in turn, as fast as answers come,
   for ``--duration`` seconds (and at most ``--max-requests`` requests).
5. Prints requests per second, p50/p95/p99 latency, the error count (any
   status but 200, or no answer) and whether the access log redacted the
   login's ``code``; exits 1 on any error.
6. With ``wrk`` installed (Debian's ``wrk``): the overview's throughput for
   one logged-in person and a bare Flask route (``bench/bare_app.py``)
   under the same gunicorn settings, in turns (``--wrk-rounds``) with both
   servers up; each round's ratio, their median, and the workers' CPU time
   (from ``/proc``) per overview served and per bare route served.
7. Eight simultaneous first views of ``/`` after a sync (``flask sync`` in a
   process of its own, as the worker): each one's latency, and the peak RSS
   of every gunicorn worker.

This is not a test: it prints numbers; the README records them.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urljoin

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import throwaway_database  # noqa: E402
from sandbox.testing import form_fields  # noqa: E402

PAGES = ("/", "/videos", "/videos/{id}", "/analytics")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(workdir: Path, database_url: str) -> dict[str, str]:
    """Sandbox mode on a throwaway database; one secret shared by every worker."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TIKTOK_", "FLASK_", "SECRET_KEY", "TOKEN_ENCRYPTION", "DATABASE_URL"))}
    env.update(
        SECRET_KEY=secrets.token_hex(32),
        DATABASE_URL=database_url,
        SANDBOX_DB=str(workdir / "sandbox.sqlite3"),
        # Every simulated user comes from 127.0.0.1: the per-client login limit
        # would otherwise turn the 31st login of the minute into a 429.
        AUTH_RATE_LIMIT="100000 per minute",
        SYNC_ON_CONNECT="0",
        # As in production: the web workers serve pages; jobs (the covers the
        # seeded syncs queued) belong to `flask worker`, which this bench does
        # not start, so no download shares the workers' CPU with the pages.
        WORKER_IN_PROCESS="0",
        PYTHONPATH=str(ROOT),
    )
    return env


def seed(env: dict[str, str], days: int, account: str) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "sandbox", "history", "--days", str(days),
                    "--account", account],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.monotonic() - started


def start_gunicorn(env: dict[str, str], workers: int, threads: int, port: int,
                   access_log: Path, app: str = "app:create_app()",
                   ready_path: str = "/privacy") -> subprocess.Popen:
    """gunicorn with the repository's gunicorn.conf.py; workers, threads and bind from here."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", str(threads),
         "-b", f"127.0.0.1:{port}", "--access-logfile", str(access_log), "--log-level", "warning",
         app],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited:\n" + process.stderr.read())
        try:
            if requests.get(base + ready_path, timeout=2).status_code == 200:
                return process
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not answer within 60 s")


def wrk(url: str, seconds: float, connections: int, cookie: str | None = None) -> tuple[float, int]:
    """Requests per second ``wrk`` measures on ``url`` (2 threads), and how many it made."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60)
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    made = re.search(r"(\d+) requests in", done.stdout)
    if not found or not made or "Non-2xx" in done.stdout:
        raise SystemExit("wrk failed:\n" + done.stdout + done.stderr)
    return float(found.group(1)), int(made.group(1))


def workers_of(master: subprocess.Popen) -> list[Path]:
    found = []
    for child in Path("/proc").glob("[0-9]*"):
        try:
            status = (child / "status").read_text()
        except OSError:
            continue
        if re.search(rf"^PPid:\s+{master.pid}$", status, re.MULTILINE):
            found.append(child)
    return found


def cpu_seconds(master: subprocess.Popen) -> float:
    """User + system CPU time of every gunicorn worker of ``master`` so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for child in workers_of(master):
        fields = (child / "stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def throughput_rounds(overview_url: str, cookie: str, dashboard, bare_url: str, bare, seconds: float,
                      rounds: int) -> None:
    """The overview and the bare route in turns, both servers up, so a
    machine shared with other work weighs on both alike; prints each round,
    the median ratio, and the dashboard workers' CPU per overview."""
    ratios, cpu_per_view, cpu_per_bare = [], [], []
    for n in range(1, rounds + 1):
        before = cpu_seconds(dashboard)
        overview, made = wrk(overview_url, seconds, 8, cookie)
        cpu_per_view.append((cpu_seconds(dashboard) - before) / made * 1000)
        before = cpu_seconds(bare)
        plain, made = wrk(bare_url, seconds, 8)
        cpu_per_bare.append((cpu_seconds(bare) - before) / made * 1000)
        ratios.append(overview / plain)
        print(f"  round {n}: overview {overview:.0f} req/s, bare Flask route {plain:.0f} req/s: "
              f"{100 * overview / plain:.1f} %; server CPU {cpu_per_view[-1]:.2f} ms per overview, "
              f"{cpu_per_bare[-1]:.2f} ms per bare route")
    ratio, cpu = statistics.median(ratios), statistics.median(cpu_per_view)
    print(f"wrk, 8 connections, {seconds:.0f} s per run, {rounds} rounds, same gunicorn settings: "
          f"overview at {100 * ratio:.1f} % of a bare Flask route ({'MET' if ratio >= 0.25 else 'MISSED'}, "
          f"goal >= 25 %); server CPU {cpu:.2f} ms per overview "
          f"({'MET' if cpu <= 1.1 else 'MISSED'}, goal <= 1.1 ms), of which gunicorn and Flask "
          f"alone take {statistics.median(cpu_per_bare):.2f} ms (the bare route's)")


def worker_peaks_mb(master: subprocess.Popen) -> list[float]:
    """The peak RSS (VmHWM) of each gunicorn worker of ``master``."""
    return sorted(int(re.search(r"^VmHWM:\s+(\d+)", (child / "status").read_text(), re.MULTILINE)
                      .group(1)) / 1024 for child in workers_of(master))


def simultaneous_first_views(env, browsers, base, master) -> None:
    """A sync, then eight people open the overview at the same moment."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "sync"], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    synced = time.monotonic() - started
    times: list[float] = []
    gate = threading.Barrier(len(browsers))

    def first_view(browser):
        gate.wait()
        begin = time.perf_counter()
        answer = browser.get(base + "/", timeout=120)
        times.append(time.perf_counter() - begin)
        assert answer.status_code == 200, answer.status_code

    threads = [threading.Thread(target=first_view, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"{len(browsers)} simultaneous first views of / after a sync ({synced:.1f} s, in a "
          f"process of its own): {', '.join(f'{t * 1000:.0f}' for t in sorted(times))} ms; "
          f"worker peak RSS {', '.join(f'{m:.0f}' for m in worker_peaks_mb(master))} MB")


def log_in(base: str, account: str = "creator") -> requests.Session:
    """The whole login flow, as a browser does it; returns the logged-in session."""
    browser = requests.Session()
    start = browser.get(base + "/auth", allow_redirects=False, timeout=30)
    assert start.status_code == 302, start.status_code
    consent = browser.get(start.headers["Location"], timeout=30)
    assert consent.status_code == 200, consent.status_code
    fields = form_fields(consent.text)
    fields["account"] = [account]
    fields["action"] = ["authorize"]
    action = re.search(r'<form[^>]*action="([^"]*)"', consent.text)
    target = urljoin(consent.url, action.group(1) if action else "")
    back = browser.post(target, data=fields, allow_redirects=False, timeout=30)
    assert back.status_code in (302, 303), back.status_code
    landed = browser.get(back.headers["Location"], timeout=60)
    assert landed.status_code == 200 and "Sync now" in landed.text, landed.status_code
    return browser


def video_ids(browser: requests.Session, base: str) -> list[str]:
    page = browser.get(base + "/videos", timeout=30).text
    return re.findall(r'href="/videos/(\d+)"', page)


def browse(browser, base, ids, until, limit, results, errors, lock, offset):
    done = 0
    index = offset
    while time.monotonic() < until and done < limit:
        page = PAGES[index % len(PAGES)]
        path = page.format(id=ids[index % len(ids)])
        index += 1
        started = time.perf_counter()
        try:
            response = browser.get(base + path, timeout=30)
            ok = response.status_code == 200
            what = f"{path} -> {response.status_code}"
        except requests.RequestException as exc:
            ok, what = False, f"{path} -> {type(exc).__name__}"
        elapsed = time.perf_counter() - started
        with lock:
            results.append((page, elapsed))
            if not ok:
                errors.append(what)
        done += 1


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="per worker (gunicorn.conf.py's default)")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of browsing")
    parser.add_argument("--max-requests", type=int, default=20_000, help="per user, an upper bound")
    parser.add_argument("--days", type=int, default=30, help="days of sandbox history to seed")
    parser.add_argument("--database-url", help="a PostgreSQL server: a throwaway database is made on it")
    parser.add_argument("--account", default="creator",
                        help="sandbox account to seed and browse: creator (150 videos), bulk, huge")
    parser.add_argument("--wrk-seconds", type=float, default=15.0,
                        help="seconds of each wrk run (the overview, then the bare route)")
    parser.add_argument("--wrk-rounds", type=int, default=3,
                        help="turns of the overview and the bare route; the median ratio is printed")
    args = parser.parse_args()
    if not (1 <= args.users <= 500 and 0 < args.duration <= 600 and 1 <= args.workers <= 32):
        parser.error("keep it bounded: 1-500 users, up to 600 s, 1-32 workers")

    with tempfile.TemporaryDirectory(prefix="dashboard-load-") as tmp, \
            throwaway_database(args.database_url, Path(tmp), "load") as database_url:
        workdir = Path(tmp)
        env = environment(workdir, database_url)
        seconds = seed(env, args.days, args.account)
        print(f"seeded {args.days} days of sandbox history of {args.account} in {seconds:.1f} s")
        port = free_port()
        access_log = workdir / "access.log"
        server = start_gunicorn(env, args.workers, args.threads, port, access_log)
        base = f"http://127.0.0.1:{port}"
        try:
            started = time.monotonic()
            browsers = [log_in(base, args.account) for _ in range(args.users)]
            print(f"{args.users} users logged in through /auth, the consent page and /callback "
                  f"in {time.monotonic() - started:.1f} s, each with its own session")
            ids = video_ids(browsers[0], base)
            assert ids, "no videos on /videos"
            results: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            begin = time.monotonic()
            until = begin + args.duration
            threads = [threading.Thread(target=browse, args=(b, base, ids, until, args.max_requests,
                                                             results, errors, lock, i))
                       for i, b in enumerate(browsers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.monotonic() - begin
            simultaneous_first_views(env, browsers[:8], base, server)
            if shutil.which("wrk"):
                cookie = "; ".join(f"{c.name}={c.value}" for c in browsers[0].cookies)
                bare_port = free_port()
                bare = start_gunicorn(env, args.workers, args.threads, bare_port, workdir / "bare.log",
                                      app="bench.bare_app:create_app()", ready_path="/")
                try:
                    throughput_rounds(base + "/", cookie, server, f"http://127.0.0.1:{bare_port}/", bare,
                                      args.wrk_seconds, args.wrk_rounds)
                finally:
                    bare.terminate()
                    bare.wait(30)
            else:
                print("wrk is not installed (apt-get install wrk): no throughput ratio to a bare route")
        finally:
            server.terminate()
            server.wait(30)
        log_text = access_log.read_text() if access_log.exists() else ""

    callbacks = re.findall(r"GET /callback\?[^ \"]*", log_text)
    leaked = [line for line in callbacks if re.search(r"code=(?!\[REDACTED\])", line)]
    print(f"gunicorn: {args.workers} workers x {args.threads} threads on 127.0.0.1, {os.cpu_count()} CPUs; "
          f"database {'PostgreSQL' if args.database_url else 'SQLite'}")
    print(f"{len(results)} requests in {wall:.1f} s by {args.users} users over {', '.join(PAGES)}")
    print(f"throughput: {len(results) / wall:.1f} requests/s")
    if results:
        every = [elapsed for _page, elapsed in results]
        p50, p95, p99 = (percentile(every, p) * 1000 for p in (50, 95, 99))
        print(f"latency: p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms, "
              f"mean {statistics.fmean(every) * 1000:.0f} ms")
        for page in PAGES:
            times = [elapsed for name, elapsed in results if name == page]
            print(f"  {page:<14} {len(times):>6} requests, p50 {percentile(times, 50) * 1000:.0f} ms, "
                  f"p95 {percentile(times, 95) * 1000:.0f} ms")
    print(f"errors: {len(errors)}" + (f" (first: {errors[:5]})" if errors else ""))
    print(f"access log: {len(callbacks)} /callback lines, {len(leaked)} with an unredacted code"
          + (f" (e.g. {callbacks[0][:60]}...)" if callbacks else ""))
    return 1 if errors or leaked or not results else 0


if __name__ == "__main__":
    raise SystemExit(main())
