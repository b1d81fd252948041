"""Figures for the Research API explorer: one run of a year over the loopback sandbox.

    python bench/bench_research.py

A query over all of 2026 (365 days: 13 windows of at most 30 days, every
sandbox video, about 2,900) is worked the way the worker works it, over real
HTTP to a sandbox on a loopback port. Printed: requests against the minimum
(one per window, one more per 100 records), wall time, records stored per
second, the results page (sorted by views; median of 50 views) and the
streamed CSV export (size, time). It asserts only that things worked.
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from dashboard.core.research import start_video_run, work_run  # noqa: E402
from dashboard.core.research_query import check_video_query, split_windows  # noqa: E402
from sandbox import SandboxState, create_sandbox_app  # noqa: E402
from sandbox import research as sandbox_research  # noqa: E402

REGIONS = ["US", "DE", "FR", "IT", "ES", "GB", "PL", "NL"]
QUERY = {"query": {"and": [{"operation": "IN", "field_name": "region_code", "field_values": REGIONS}]},
         "start_date": "20260101", "end_date": "20261231", "max_count": 100,
         "fields": ["id", "create_time", "username", "region_code", "video_description", "view_count",
                    "like_count", "comment_count", "share_count", "hashtag_names"]}


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        state = SandboxState(Path(folder) / "sandbox.sqlite3")
        state.settings.update(rate_limit_per_minute=None)
        server = make_server("127.0.0.1", 0, create_sandbox_app(state), threaded=True,
                             request_handler=_Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        app = create_app({"TESTING": True, "SECRET_KEY": "b" * 40, "TIKTOK_API_BASE": base,
                          "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3", "QUEUE_IMMEDIATE": True,
                          "SANDBOX_DB": f"{folder}/sandbox.sqlite3", "QUEUE_PATH": f"{folder}/q.sqlite3",
                          "MEDIA_PATH": f"{folder}/media", "STORE_PICTURES": False})
        research = app.extensions["research"]
        query, problems = check_video_query(QUERY)
        assert not problems
        run_id = start_video_run(research, None, query)
        started = time.perf_counter()
        outcome = work_run(research, run_id)
        elapsed = time.perf_counter() - started
        run = research.store.research.run(run_id)
        assert outcome.code == "done", outcome
        per_window = Counter()
        for video in sandbox_research.videos():
            day = datetime.fromtimestamp(video["create_time"], UTC).date()
            for index, (s, e) in enumerate(split_windows(query.start, query.end)):
                if s <= day <= e:
                    per_window[index] += 1
        minimum = sum(max(1, math.ceil(n / 100)) for n in per_window.values())
        print(f"windows: {run.windows_total}; records stored: {run.records} "
              f"(sandbox holds {len(sandbox_research.videos())})")
        print(f"requests: {run.requests} (minimum {minimum}); wall time {elapsed:.2f} s; "
              f"{run.records / elapsed:,.0f} records/s")

        store = app.extensions["core"].store
        person_id, _ = store.accounts.connect(None, "bench-open-id", "user.info.basic")
        with app.extensions["core"].store.session() as db:
            from dashboard.storage.research_models import ResearchRun  # why: only the bench hands a run over

            db.get(ResearchRun, run_id).person_id = person_id
        client = app.test_client()
        with client.session_transaction() as session:
            session["person_id"] = person_id
        times = []
        for index in range(55):
            t = time.perf_counter()
            page = client.get(f"/research/runs/{run_id}?sort=view_count&page={index % 5 + 1}")
            assert page.status_code == 200
            times.append(time.perf_counter() - t)
        times = sorted(times[5:])
        print(f"results page (50 rows, sorted by views): median {statistics.median(times) * 1000:.1f} ms, "
              f"p95 {times[int(len(times) * 0.95)] * 1000:.1f} ms")
        t = time.perf_counter()
        body = client.get(f"/research/runs/{run_id}/results.csv").get_data()
        rows = body.count(b"\n") - 1
        print(f"CSV export: {len(body) / 1024:.0f} KiB, {rows} rows in "
              f"{(time.perf_counter() - t) * 1000:.0f} ms")
        server.shutdown()


if __name__ == "__main__":
    main()
