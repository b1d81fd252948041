"""How long a PDF report of 90 days of demo history takes, and its size.

Prints figures; not a test. Run: ``python bench/bench_reports.py``.

Sandbox mode in a temporary folder: ``flask sandbox history --days 90``
fills 91 daily syncs of the demo creator (about 150 videos), then the report
of the last 90 days is computed from the stored history (``build_report``)
and rendered (WeasyPrint) in English and in Chinese, three times each; the
digest's three PNG charts (CairoSVG) are timed too.
"""

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from dashboard.core.reports import build_report  # noqa: E402
from dashboard.web.reports.render import png_from_svg  # noqa: E402
from dashboard.web.reports.view import growth_charts  # noqa: E402

RUNS = 3


def _median_ms(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:.0f} ms"


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    app = create_app({
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}", "SANDBOX_DB": str(folder / "sb.sqlite3"),
        "QUEUE_PATH": str(folder / "queue.sqlite3"), "MEDIA_PATH": str(folder / "media"),
        "TESTING": True, "SECRET_KEY": "bench-" + "x" * 40, "TIKTOK_CLIENT_KEY": None,
    })
    result = app.test_cli_runner().invoke(args=["sandbox", "history", "--days", "90"])
    assert result.exit_code == 0, result.output
    core, renderer = app.extensions["core"], app.extensions["jobs"].renderer
    account = core.store.accounts.all()[0]
    end = datetime.now(UTC).date()
    start = end - timedelta(days=89)
    computes, sizes = [], {}
    for _ in range(RUNS):
        began = time.perf_counter()
        data = build_report(core, account.id, start, end, "UTC")
        computes.append(time.perf_counter() - began)
    print(f"report data, 90 days, {core.store.history.count_videos(account.id)} videos: "
          f"median {_median_ms(computes)} over {RUNS} runs")
    for lang in ("en", "zh"):
        renders = []
        for _ in range(RUNS):
            began = time.perf_counter()
            pdf = renderer.report_pdf(data, lang)
            renders.append(time.perf_counter() - began)
        sizes[lang] = len(pdf)
        print(f"PDF ({lang}): median {_median_ms(renders)}, {len(pdf) / 1024:.0f} KiB")
    with app.app_context():
        charts = growth_charts(data)
    began = time.perf_counter()
    pngs = [png_from_svg(str(c["svg"])) for c in charts]
    print(f"digest PNG charts: {len(pngs)} in {(time.perf_counter() - began) * 1000:.0f} ms, "
          f"{sum(map(len, pngs)) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
