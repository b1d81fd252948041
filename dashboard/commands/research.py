"""``flask research run QUERY.json --out results.csv`` (or ``.json``) and ``flask research resume``.

QUERY.json is the body TikTok's ``/v2/research/video/query/`` takes plus
``fields``, with ``end_date`` any distance after ``start_date``. The run is
stored like a run started in the browser (without an owner), worked here
and now, paused at the daily quota until 00:00 UTC (or left paused with
``--no-wait``), and its records written to ``--out``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from dashboard.core import research as core_research
from dashboard.core.research_query import check_video_query
from dashboard.web.exports import stream_csv, stream_json_list

research_cli = AppGroup("research", help="Research API runs on the terminal.")


def _out_path(out: str) -> Path:
    path = Path(out)
    if path.suffix.lower() not in (".csv", ".json"):
        raise click.BadParameter("must end in .csv or .json", param_hint="--out")
    return path


@research_cli.command("run")
@click.argument("query_file", type=click.File("r", encoding="utf-8"))
@click.option("--out", required=True, help="Where to write the results: a .csv or .json file.")
@click.option("--no-wait", is_flag=True, help="At the daily quota, leave the run paused and exit (code 3).")
def run_command(query_file, out: str, no_wait: bool) -> None:
    """Run the query in QUERY_FILE and write every record to --out."""
    path = _out_path(out)
    try:
        raw = json.load(query_file)
    except ValueError as exc:
        raise click.ClickException(f"{query_file.name} is not valid JSON: {exc}") from exc
    query, problems = check_video_query(raw)
    if problems:
        raise click.ClickException(f"{query_file.name}: {problems[0].english()}")
    research = current_app.extensions["research"]
    if not research.settings.configured:
        raise click.ClickException("Set RESEARCH_CLIENT_KEY and RESEARCH_CLIENT_SECRET first.")
    run_id = core_research.start_video_run(research, None, query, label=Path(query_file.name).stem)
    click.echo(f"Run {run_id}: {len(query.windows())} windows of at most 30 days.", err=True)
    _work_and_write(research, run_id, path, no_wait)


@research_cli.command("resume")
@click.argument("run_id", type=int)
@click.option("--out", required=True, help="Where to write the results: a .csv or .json file.")
@click.option("--no-wait", is_flag=True, help="At the daily quota, leave the run paused and exit (code 3).")
def resume_command(run_id: int, out: str, no_wait: bool) -> None:
    """Go on with a run started here (stopped, failed or paused) and write its records."""
    path = _out_path(out)
    research = current_app.extensions["research"]
    run = research.store.research.run(run_id)
    if run is None or run.person_id is not None:
        raise click.ClickException(f"No run {run_id} was started from the terminal.")
    research.store.research.reopen(run_id, None)
    _work_and_write(research, run_id, path, no_wait)


def _work_and_write(research, run_id: int, path: Path, no_wait: bool) -> None:
    def progress(_stored):
        run = research.store.research.run(run_id)
        click.echo(f"\rwindows {run.windows_done}/{run.windows_total}, {run.records} records, "
                   f"{run.requests} requests", nl=False, err=True)

    while True:
        outcome = core_research.work_run(research, run_id, on_page=progress)
        click.echo("", err=True)
        run = research.store.research.run(run_id)
        if outcome.code != "paused":
            break
        if no_wait:
            _write(research, run, path)
            click.echo(f"Paused at the daily quota until {run.resume_at:%Y-%m-%d %H:%M} UTC; "
                       f"go on with: flask research resume {run_id} --out {path}", err=True)
            raise SystemExit(3)
        click.echo(f"Paused at the daily quota until {run.resume_at:%Y-%m-%d %H:%M} UTC; waiting.", err=True)
        _sleep_until(research, run.resume_at)
    _write(research, run, path)
    if outcome.code != "done":
        extra = f" (TikTok log id {run.log_id})" if run.log_id else ""
        raise click.ClickException(f"Run {run_id} {outcome.code}: {run.error_code}{extra}. "
                                   f"Go on with: flask research resume {run_id} --out {path}")
    click.echo(f"Run {run_id}: {run.records} records in {run.requests} requests, written to {path}.")


def _sleep_until(research, when) -> None:
    while (left := (when - research.clock()).total_seconds()) > 0:
        time.sleep(min(left, 60))


def _write(research, run, path: Path) -> None:
    store = research.store
    if path.suffix.lower() == ".csv":
        chunks = stream_csv(core_research.export_rows(store, run), core_research.columns(run))
    else:
        chunks = stream_json_list(core_research.export_objects(store, run))
    with path.open("w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            handle.write(chunk)
