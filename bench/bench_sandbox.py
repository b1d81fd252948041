"""How fast the sandbox makes and pages its 10,000-video ``bulk`` account.

Prints figures; not a test. Run: ``python bench/bench_sandbox.py``.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox import SandboxState, create_sandbox_app, data  # noqa: E402
from sandbox.testing import login  # noqa: E402

RUNS = 5


def main() -> None:
    builds = []
    for _ in range(RUNS):
        started = time.perf_counter()
        account = data.make_account("bulk")
        assert len(account.videos) == 10_000
        builds.append(time.perf_counter() - started)
    print(f"bulk account (10,000 videos) generated: median {statistics.median(builds) * 1000:.1f} ms"
          f" over {RUNS} runs")

    state = SandboxState(None)
    state.rate_limit_per_minute = None
    client = create_sandbox_app(state).test_client()
    token = login(client, account="bulk")["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    times, cursor, pages = [], None, 0
    while True:
        body = {"max_count": 20} | ({"cursor": cursor} if cursor else {})
        started = time.perf_counter()
        answer = client.post("/v2/video/list/?fields=id,create_time,view_count", json=body,
                             headers=headers).json["data"]
        times.append(time.perf_counter() - started)
        pages += 1
        if not answer["has_more"]:
            break
        cursor = answer["cursor"]
    times.sort()
    print(f"video/list, {pages} pages: median {statistics.median(times) * 1000:.2f} ms, "
          f"p95 {times[int(len(times) * 0.95)] * 1000:.2f} ms per page (in-process)")


if __name__ == "__main__":
    main()
