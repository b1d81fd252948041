"""The Research API explorer: build a query, run it in the worker, see and export results.

Pages read storage and queue runs; only the worker (or ``flask research run``)
talks to TikTok. Without research credentials (and outside sandbox mode)
``/research`` explains who may apply, and nothing else is served.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _

from dashboard.core import research as core_research
from dashboard.core.research import Research, check_ad_query, check_lookup, estimate, quota
from dashboard.storage.research import RECORD_SORTS

from ..context import logged_in_person
from ..exports import stream_csv, stream_json_list
from .forms import (
    CONDITION_FIELDS,
    MAX_ROWS,
    RETURN_FIELDS,
    check_form,
    field_labels,
    form_state,
    group_labels,
    lookup_problem_text,
    operation_labels,
)

bp = Blueprint("research", __name__, url_prefix="/research")

PER_PAGE = 50
ACTIVE = ("queued", "running")


def _download(body, mimetype: str, filename: str) -> Response:
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _research() -> Research:
    return current_app.extensions["research"]


@bp.app_template_filter("research_time")
def research_time(value) -> str:
    """A TikTok timestamp (seconds) as UTC; YYYYMMDD dates (ads) as they are."""
    if isinstance(value, int) and 19_000_000 < value < 30_000_000:
        return f"{value // 10000}-{value // 100 % 100:02d}-{value % 100:02d}"
    try:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError, TypeError):
        return ""


@bp.app_context_processor
def _words():
    """Run states, kinds and error codes in the reader's language."""
    statuses = {"queued": _("Queued"), "running": _("Running"), "paused": _("Paused"),
                "stopped": _("Stopped"), "done": _("Done"), "failed": _("Failed")}
    kinds = {"video": _("Video query"), "comments": _("Comments"), "user_info": _("User info"),
             "followers": _("Followers"), "following": _("Following"), "advertisers": _("Advertisers"),
             "ads": _("Ads")}
    windows = {"pending": _("to do"), "done": _("done"), "split": _("split in halves after an HTTP 500")}
    return {"run_status": lambda s: statuses.get(s, s), "run_kind": lambda k: kinds.get(k, k),
            "window_status": lambda s: windows.get(s, s), "run_error": _run_error}


def _run_error(code: str) -> str:
    return {
        "daily_quota": _("The day's quota is used up; the run goes on after 00:00 UTC."),
        "invalid_params": _("TikTok refused the query as invalid."),
        "scope_not_authorized": _("TikTok has not approved this research client for this API."),
        "access_token_invalid": _("TikTok refused the research client's credentials."),
        "invalid_client": _("TikTok refused the research client's key or secret."),
        "internal_error": _("TikTok kept answering with a server error; resume to try again."),
        "rate_limit_exceeded": _("TikTok asked to slow down; resume to try again."),
        "connection_error": _("TikTok could not be reached; resume to try again."),
        "timeout": _("TikTok did not answer in time; resume to try again."),
    }.get(code, _("The run stopped with an error (%(code)s); resume to try again.", code=code))


@bp.before_request
def _only_when_configured():
    if not current_app.config.get("RESEARCH_ENABLED") and request.endpoint != "research.index":
        abort(404)


def _builder(state: dict, errors: dict | None = None, *, preview=None, status: int = 200, query_id=None):
    person_id = logged_in_person()
    store = _research().store.research
    return render_template(
        "research/index.html", state=state, errors=errors or {}, preview=preview, query_id=query_id,
        groups=group_labels(), field_labels=field_labels(), operations=operation_labels(),
        condition_fields=CONDITION_FIELDS, return_fields=RETURN_FIELDS, quota=quota(_research()),
        saved=store.queries(person_id), runs=store.runs(person_id), max_rows=MAX_ROWS,
    ), status


@bp.get("/")
def index():
    if not current_app.config.get("RESEARCH_ENABLED"):
        return render_template("research/unavailable.html")
    person_id = logged_in_person()
    spec, query_id = None, request.args.get("query", type=int)
    if query_id:
        saved = _research().store.research.query(person_id, query_id)
        if saved is None:
            abort(404)
        spec = json.loads(saved.spec)
    state = form_state(spec)
    if query_id:
        state["name"] = saved.name
    return _builder(state, query_id=query_id)


@bp.post("/build")
def build():
    """Preview, add a row, save or run: every press checks the whole query first."""
    person_id = logged_in_person()
    action = request.form.get("action", "preview")
    query, state, errors = check_form(request.form)
    query_id = request.form.get("query_id", type=int)
    if action == "add_row":
        if len(state["rows"]) < MAX_ROWS:
            state["rows"].append({"group": "and", "field": "", "op": "EQ", "values": ""})
        return _builder(state, query_id=query_id)
    if action == "save" and not state["name"].strip():
        errors["name"] = _("Give the query a name to save it.")
    if errors:
        return _builder(state, errors, status=400, query_id=query_id)
    store = _research().store.research
    if action == "save":
        query_id = store.save_query(person_id, state["name"].strip(), query.as_json(), query_id)
        flash(_("Query saved."), "success")
        return redirect(url_for("research.index", query=query_id), 303)
    if action == "run":
        run_id = core_research.start_video_run(_research(), person_id, query, label=state["name"].strip(),
                                               query_id=query_id)
        current_app.extensions["research_jobs"].request_run(run_id)
        return redirect(url_for("research.run", run_id=run_id), 303)
    windows = query.windows()
    preview = {"body": json.dumps({**query.body(*windows[0]), "fields": list(query.fields)}, indent=2,
                                  ensure_ascii=False), "estimate": estimate(_research(), query),
               "windows": windows}
    return _builder(state, preview=preview, query_id=query_id)


@bp.post("/queries")
def saved_query():
    """Run, copy or delete a saved query (ids in the form: POST URLs take no variables)."""
    person_id = logged_in_person()
    query_id, action = request.form.get("query_id", type=int), request.form.get("action")
    if query_id is None or action not in ("copy", "run", "delete"):
        abort(400)
    store = _research().store.research
    saved = store.query(person_id, query_id)
    if saved is None:
        abort(404)
    if action == "delete":
        store.delete_query(person_id, query_id)
        flash(_("Query deleted."), "success")
        return redirect(url_for("research.index"), 303)
    if action == "copy":
        name = _("Copy of %(name)s", name=saved.name)[:200]
        copy_id = store.save_query(person_id, name, json.loads(saved.spec))
        return redirect(url_for("research.index", query=copy_id), 303)
    query, problems = core_research.check_video_query(json.loads(saved.spec))
    if query is None:  # saved before a rule changed: open it to fix
        flash(_("This saved query needs changes before it can run."), "error")
        return redirect(url_for("research.index", query=query_id), 303)
    run_id = core_research.start_video_run(_research(), person_id, query, label=saved.name, query_id=query_id)
    current_app.extensions["research_jobs"].request_run(run_id)
    return redirect(url_for("research.run", run_id=run_id), 303)


def _own_run(run_id: int):
    run = _research().store.research.run(run_id, logged_in_person())
    if run is None:
        abort(404)
    return run


# Ids past the integer column's range match no route (404), on PostgreSQL too.
@bp.get("/runs/<int(max=2147483647):run_id>")
def run(run_id: int):
    run = _own_run(run_id)
    args = request.args
    sort = args.get("sort", "created") if args.get("sort") in RECORD_SORTS else "created"
    descending = args.get("order", "desc") != "asc"
    search, username = args.get("q", "")[:200], args.get("username", "")[:64]
    region = args.get("region", "")[:4].upper()
    page = max(1, min(args.get("page", 1, type=int) or 1, 100_000))
    rows, total = _research().store.research.records(
        run.id, sort=sort, descending=descending, search=search, username=username, region=region,
        offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    filters = {k: v for k, v in (("sort", sort), ("order", "desc" if descending else "asc"), ("q", search),
                                 ("username", username), ("region", region)) if v}
    return render_template(
        "research/run.html", run=run, rows=[_row_view(run, r) for r in rows], total=total, page=page,
        pages=max(1, -(-total // PER_PAGE)), filters=filters, sort=sort, descending=descending,
        windows=_research().store.research.windows(run.id), quota=quota(_research()),
        lookups=_research().store.research.runs(logged_in_person(), parent_id=run.id),
        parent=_research().store.research.run(run.parent_id, logged_in_person()) if run.parent_id else None,
        active=run.status in ACTIVE, today=datetime.now(UTC).date().isoformat())


def _row_view(run, record) -> dict:
    """A record as the table shows it: a few columns, all text escaped by Jinja."""
    return {"key": record.record_key, "created": record.created, "username": record.username,
            "region": record.region_code, "text": record.text, "views": record.view_count,
            "likes": record.like_count, "comments": record.comment_count, "shares": record.share_count,
            "is_video": run.kind == "video"}


@bp.post("/runs/control")
def control():
    """Stop or resume a run."""
    run_id, action = request.form.get("run_id", type=int), request.form.get("action")
    if run_id is None or action not in ("stop", "resume"):
        abort(400)
    run = _own_run(run_id)
    store = _research().store.research
    if action == "stop":
        if store.request_stop(run.id, run.person_id):
            flash(_("The run stops after the page it is on; what it stored stays."), "success")
    elif store.reopen(run.id, run.person_id):
        current_app.extensions["research_jobs"].request_run(run.id)
        flash(_("The run goes on where it stopped."), "success")
    return redirect(url_for("research.run", run_id=run.id), 303)


@bp.post("/lookup")
def lookup():
    """Comments, user info, followers or following: from a result row or typed by hand."""
    person_id = logged_in_person()
    kind, value = request.form.get("kind", ""), request.form.get("value", "")[:200]
    parent_id = request.form.get("parent_id", type=int)
    if parent_id and _research().store.research.run(parent_id, person_id) is None:
        abort(404)
    problem = check_lookup(kind, value)
    if problem == "unknown_kind":
        abort(400)
    if problem:
        flash(lookup_problem_text(problem), "error")
        return redirect(url_for("research.run", run_id=parent_id) if parent_id else url_for("research.index"),
                        303)
    run_id = core_research.start_lookup(_research(), person_id, kind, value, parent_id=parent_id)
    current_app.extensions["research_jobs"].request_run(run_id)
    return redirect(url_for("research.run", run_id=run_id), 303)


@bp.post("/ads")
def ads():
    person_id = logged_in_person()
    spec, problems = check_ad_query(request.form)
    parent_id = request.form.get("parent_id", type=int)
    if parent_id and _research().store.research.run(parent_id, person_id) is None:
        abort(404)
    if problems:
        for field, code in problems:
            flash(f"{field}: {lookup_problem_text(code)}", "error")
        return redirect(url_for("research.index") + "#ads", 303)
    run_id = core_research.start_ad_run(_research(), person_id, spec, parent_id=parent_id)
    current_app.extensions["research_jobs"].request_run(run_id)
    return redirect(url_for("research.run", run_id=run_id), 303)


@bp.get("/runs/<int(max=2147483647):run_id>/results.<fmt>")
def export(run_id: int, fmt: str):
    run = _own_run(run_id)
    store = _research().store
    name = re.sub(r"[^A-Za-z0-9_-]", "", f"research-{run.id}-{run.kind}")
    if fmt == "csv":
        return _download(stream_csv(core_research.export_rows(store, run), core_research.columns(run)),
                         "text/csv", f"{name}.csv")  # Flask adds "; charset=utf-8"
    if fmt == "json":
        return _download(stream_json_list(core_research.export_objects(store, run)), "application/json",
                         f"{name}.json")
    abort(404)
