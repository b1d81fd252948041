"""Tests for dashboard.core.budget: one TikTok call budget shared by threads and processes.

Memory budgets run on a fake clock (single thread) or on :class:`SimulatedTime`
(threads), so a minute-long window costs no real time.  Redis budgets run on the
real clock with windows of a second against a ``redis-server`` started here on a
free loopback port; without ``redis-server`` those tests skip, except under
``CI=true``, where they fail.  Needs none of conftest's fixtures.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from dashboard.core.budget import MAX_NAP, MIN_NAP, TRANSIT_MARGIN, BudgetTimeout, TikTokBudget

ROOT = Path(__file__).resolve().parents[1]

LIST = "/v2/video/list/"
QUERY = "/v2/video/query/"
USER = "/v2/user/info/"

# Real-clock tests record the time just after acquire() returns, a little after
# limits stamped the call; windows are checked this much shorter to allow for it.
STAMP_SLACK = 0.05

# A simulated run that needs longer than this in real time is stuck.
SIMULATION_TIMEOUT = 20.0


# --------------------------------------------------------------------------
# Clocks, helpers and fixtures
# --------------------------------------------------------------------------


class FakeClock:
    """A clock that moves only when the code under test sleeps (one thread)."""

    START = 1_000_000.0

    def __init__(self):
        self.now = self.START
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class SimulatedTime:
    """A clock for worker threads that moves only while every one of them sleeps.

    Time then jumps to the earliest wake-up, so between two sleeps a thread runs
    at a frozen instant: the time it reads after ``acquire()`` returns is the time
    its call was counted at.
    """

    START = 1_000_000.0

    def __init__(self):
        self.now = self.START
        self._cond = threading.Condition()
        self._wakes: dict[int, float] = {}
        self._running = 0

    def __call__(self) -> float:
        with self._cond:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._cond:
            me = threading.get_ident()
            self._wakes[me] = self.now + seconds
            self._cond.notify_all()
            while self.now < self._wakes[me]:
                self._cond.wait()
            del self._wakes[me]

    def run(self, *targets):
        """Run each target in its own thread, moving time; return their results."""
        results, errors = [None] * len(targets), []

        def worker(index, target):
            try:
                results[index] = target()
            except BaseException as exc:  # re-raised in the test's thread
                errors.append(exc)
            finally:
                with self._cond:
                    self._running -= 1
                    self._cond.notify_all()

        self._running = len(targets)
        threads = [threading.Thread(target=worker, args=item) for item in enumerate(targets)]
        for thread in threads:
            thread.start()
        self._advance_until_done()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results

    def _advance_until_done(self) -> None:
        deadline = time.monotonic() + SIMULATION_TIMEOUT
        with self._cond:
            while self._running:
                asleep = [wake for wake in self._wakes.values() if wake > self.now]
                if len(asleep) == self._running:
                    self.now = min(asleep)
                    self._cond.notify_all()
                elif not self._cond.wait(timeout=deadline - time.monotonic()):
                    raise AssertionError("simulated threads are stuck")


def most_in_any_window(times, width: float) -> int:
    """The largest number of ``times`` inside one closed window ``width`` long."""
    times = sorted(times)
    return max((sum(1 for t in times if start <= t <= start + width) for start in times), default=0)


def calls_at(budget: TikTokBudget, clock, endpoint: str, count: int) -> list[float]:
    """Acquire ``count`` calls; return the clock just after each."""
    stamps = []
    for _ in range(count):
        budget.acquire(endpoint)
        stamps.append(clock())
    return stamps


@pytest.fixture
def namespace():
    """A namespace of its own, so budgets of different tests share nothing."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def memory_budget(namespace, clock):
    def build(limit, **options):
        return TikTokBudget(limit, namespace=namespace, clock=clock, sleep=clock.sleep, **options)

    return build


# --------------------------------------------------------------------------
# Memory budget
# --------------------------------------------------------------------------


def test_calls_beyond_the_limit_wait_for_the_oldest_call_to_leave_the_window(memory_budget, clock):
    budget = memory_budget("3 per minute")

    waits = [budget.acquire(LIST) for _ in range(7)]

    # A call that waits goes TRANSIT_MARGIN after the oldest left the window, so
    # TikTok, which counts arrivals, never sees four in one minute.
    assert waits[:3] == [0, 0, 0]
    assert waits[3] == pytest.approx(60 + TRANSIT_MARGIN, abs=2 * MIN_NAP)
    assert waits[4:6] == [0, 0]
    assert waits[6] == pytest.approx(60 + TRANSIT_MARGIN, abs=2 * MIN_NAP)
    assert max(clock.sleeps) <= MAX_NAP


def test_no_window_of_the_limit_holds_more_calls_than_the_limit(memory_budget, clock):
    budget = memory_budget("5 per minute")

    stamps = calls_at(budget, clock, LIST, 23)

    assert most_in_any_window(stamps, 60) == 5
    assert stamps[-1] - stamps[0] == pytest.approx(4 * (60 + TRANSIT_MARGIN), abs=0.5)


def test_endpoints_are_counted_separately(memory_budget, clock):
    budget = memory_budget("2 per minute", max_wait=0)

    for endpoint in (LIST, QUERY, USER):
        assert [budget.acquire(endpoint), budget.acquire(endpoint)] == [0, 0]
    with pytest.raises(BudgetTimeout):
        budget.acquire(LIST)

    assert clock.sleeps == []


def test_budgets_of_one_namespace_share_counters_and_other_namespaces_do_not(
    memory_budget, clock
):
    first, second = memory_budget("2 per minute", max_wait=0), memory_budget("2 per minute", max_wait=0)
    elsewhere = TikTokBudget("2 per minute", namespace=f"other-{uuid.uuid4().hex}", clock=clock, max_wait=0)

    first.acquire(LIST)
    second.acquire(LIST)
    with pytest.raises(BudgetTimeout):
        first.acquire(LIST)

    assert elsewhere.acquire(LIST) == 0


def test_acquire_gives_up_after_max_wait_without_counting_a_call(memory_budget, clock):
    budget = memory_budget("1 per minute", max_wait=10)
    budget.acquire(LIST)

    with pytest.raises(BudgetTimeout) as info:
        budget.acquire(LIST)

    assert info.value.endpoint == LIST
    assert info.value.waited == pytest.approx(10)
    assert sum(clock.sleeps) == pytest.approx(10)
    assert max(clock.sleeps) <= MAX_NAP
    assert LIST in str(info.value)
    clock.now += 60
    assert budget.acquire(LIST) == 0


def test_budget_timeout_survives_pickling_with_its_fields():
    error = pickle.loads(pickle.dumps(BudgetTimeout(LIST, 12.5)))

    assert (error.endpoint, error.waited) == (LIST, 12.5)
    assert "12.5s" in str(error)


def test_back_off_delays_the_next_call_to_every_endpoint(memory_budget, clock):
    budget = memory_budget("600 per minute")

    budget.back_off(30)

    assert budget.acquire(LIST) == pytest.approx(30)
    assert budget.acquire(QUERY) == 0
    assert max(clock.sleeps) <= MAX_NAP


def test_back_off_is_only_ever_extended(memory_budget, clock):
    budget = memory_budget("600 per minute")

    budget.back_off(30)
    budget.back_off(5)
    budget.back_off(0)
    budget.back_off(-3)

    assert budget.acquire(LIST) == pytest.approx(30)


@pytest.mark.parametrize("seconds", [float("nan"), float("inf")])
def test_back_off_refuses_a_hold_that_is_not_a_finite_number(memory_budget, seconds):
    with pytest.raises(ValueError):
        memory_budget("600 per minute").back_off(seconds)


def test_back_off_longer_than_max_wait_times_out(memory_budget, clock):
    budget = memory_budget("600 per minute", max_wait=5)
    budget.back_off(600)

    with pytest.raises(BudgetTimeout):
        budget.acquire(USER)

    assert sum(clock.sleeps) == pytest.approx(5)


def test_back_off_holds_every_thread_and_every_budget_of_the_namespace(namespace):
    sim = SimulatedTime()
    shared = TikTokBudget("600 per minute", namespace=namespace, clock=sim, sleep=sim.sleep)
    other = TikTokBudget("600 per minute", namespace=namespace, clock=sim, sleep=sim.sleep)

    shared.back_off(30)
    waits = sim.run(
        lambda: shared.acquire(LIST), lambda: shared.acquire(QUERY), lambda: other.acquire(USER)
    )

    assert waits == [pytest.approx(30)] * 3
    assert sim.now - sim.START == pytest.approx(30)


def test_concurrent_threads_never_exceed_the_limit_in_any_window(namespace):
    sim = SimulatedTime()
    budget = TikTokBudget("5 per minute", namespace=namespace, clock=sim, sleep=sim.sleep)

    per_thread = sim.run(*[lambda: calls_at(budget, sim, LIST, 4)] * 6)

    stamps = [stamp for thread in per_thread for stamp in thread]
    assert len(stamps) == 24
    assert most_in_any_window(stamps, 60) == 5
    assert max(stamps) - sim.START == pytest.approx(4 * (60 + TRANSIT_MARGIN), abs=0.5)


def test_memory_budget_refuses_a_second_clock_for_one_namespace(memory_budget, namespace):
    memory_budget("600 per minute")

    with pytest.raises(ValueError, match="clock"):
        TikTokBudget(namespace=namespace, clock=FakeClock())


@pytest.mark.parametrize("uri", ["memcached://localhost:11211", "mongodb://localhost:27017", ""])
def test_storage_other_than_memory_or_redis_is_refused(uri):
    with pytest.raises(ValueError, match="memory:// or redis://"):
        TikTokBudget(storage_uri=uri)


def test_importing_and_building_opens_no_connection_and_starts_no_thread():
    script = (
        "import threading\n"
        "from dashboard.core.budget import TikTokBudget\n"
        "TikTokBudget(storage_uri='redis://127.0.0.1:9/0')\n"
        "TikTokBudget()\n"
        "print(threading.active_count())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
    )

    assert done.stdout.strip() == "1"


# --------------------------------------------------------------------------
# Redis budget: a real redis-server, the real clock
# --------------------------------------------------------------------------


@pytest.fixture
def redis_budget(redis_url, namespace):
    def build(limit, **options):
        return TikTokBudget(limit, storage_uri=redis_url, namespace=namespace, **options)

    return build


def test_redis_budget_makes_calls_beyond_the_limit_wait_for_the_window(redis_budget):
    budget = redis_budget("3 per 1 second")

    waits = [budget.acquire(LIST) for _ in range(4)]

    assert max(waits[:3]) < 0.2
    assert 0.8 < waits[3] < 1.5


def test_redis_budget_counts_endpoints_separately(redis_budget):
    budget = redis_budget("2 per 10 seconds", max_wait=0)

    for endpoint in (LIST, QUERY):
        budget.acquire(endpoint)
        budget.acquire(endpoint)
    with pytest.raises(BudgetTimeout):
        budget.acquire(QUERY)


def test_redis_budget_gives_up_after_max_wait(redis_budget):
    budget = redis_budget("1 per 10 seconds", max_wait=0.3)
    budget.acquire(USER)

    started = time.monotonic()
    with pytest.raises(BudgetTimeout):
        budget.acquire(USER)

    assert 0.25 < time.monotonic() - started < 1.0


def test_redis_back_off_holds_other_budgets_and_is_only_extended(redis_budget, redis_url, namespace):
    import redis

    setter, other = redis_budget("600 per minute"), redis_budget("600 per minute")

    setter.back_off(0.6)
    setter.back_off(0.1)

    with redis.Redis.from_url(redis_url) as client:
        assert 400 < client.pttl(f"{namespace}:backoff_until") <= 600
        until_ms = int(client.get(f"{namespace}:backoff_until"))
    assert abs(until_ms / 1000 - (time.time() + 0.6)) < 0.3
    assert 0.3 < other.acquire(QUERY) < 1.2
    assert other.acquire(QUERY) < 0.1


def test_redis_budget_threads_never_exceed_the_limit_in_any_window(redis_budget):
    budget = redis_budget("4 per 1 second")
    stamps, lock = [], threading.Lock()

    def worker():
        for _ in range(3):
            budget.acquire(LIST)
            with lock:
                stamps.append(time.time())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(stamps) == 9
    assert most_in_any_window(stamps, 1 - STAMP_SLACK) <= 4
    assert max(stamps) - min(stamps) > 2 - STAMP_SLACK


_PROCESS_WORKER = """
import json, sys, time
from dashboard.core.budget import TikTokBudget

url, namespace, limit, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
budget = TikTokBudget(limit, storage_uri=url, namespace=namespace, max_wait=20)
print("ready", flush=True)
sys.stdin.readline()
began, stamps = time.time(), []
for _ in range(calls):
    budget.acquire("/v2/video/list/")
    stamps.append(time.time())
print(json.dumps({"began": began, "stamps": stamps}), flush=True)
"""


def _start_worker(redis_url, namespace, limit, calls) -> subprocess.Popen:
    worker = subprocess.Popen(
        [sys.executable, "-c", _PROCESS_WORKER, redis_url, namespace, limit, str(calls)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout.readline().strip() == "ready"
    return worker


@pytest.mark.slow
def test_two_processes_sharing_a_redis_budget_never_exceed_the_limit_in_any_window(
    redis_url, namespace
):
    workers = [_start_worker(redis_url, namespace, "4 per 1 second", 5) for _ in range(2)]
    started = time.time()
    for worker in workers:  # both start calling at once
        worker.stdin.write("go\n")
        worker.stdin.flush()

    first, second = [json.loads(worker.communicate(timeout=20)[0].splitlines()[-1]) for worker in workers]

    stamps = first["stamps"] + second["stamps"]
    assert [len(first["stamps"]), len(second["stamps"])] == [5, 5]
    assert most_in_any_window(stamps, 1 - STAMP_SLACK) <= 4
    assert max(stamps) - started > 2 - STAMP_SLACK
    # They called at the same time: each began before the other was done.
    assert first["began"] < max(second["stamps"]) and second["began"] < max(first["stamps"])
