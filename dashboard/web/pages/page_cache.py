"""Whole pages of an account, rendered once per state and reused.

A warm view of the overview used to render its frame (header, switcher,
forms) and read the same rows through the ORM on every request. Here the
request first reads what the page depends on, in one Core query
(:class:`~dashboard.storage.page_state.PageStateStore`): the accounts the
person may see and their role on each, the latest sync run, the summary's
stamp, the unread alerts, the tokens' presence and the person's own choices
(such as the engagement formula). With the request's language, time zone and
query, and the two things that change with the clock (the "Sync now"
button's wait, a sync lease running out), that names the page exactly. A page
rendered before under the same name is served again, with only its CSRF
tokens made fresh. The worker stores the default pages it renders after a
sync (:func:`~dashboard.web.pages.viewmodels.prerender`) under a digest of
that name, so the first view after a sync, in any process, renders nothing.

The tokens are the one thing a stored page never holds: it is rendered with
a placeholder where each token goes, and every copy in every response is a
freshly masked token (:func:`~dashboard.web.security.masked_csrf_token`), so
compression gives BREACH nothing to compare. A request carrying a flash
message, or a query parameter the page does not read, renders as before and
stores nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import timedelta

from flask import abort, current_app, g, request, session
from flask_babel import get_locale

from dashboard.storage.models import utcnow
from dashboard.storage.page_state import PageStateStore

from ..context import current_account_id, get_store
from ..security import masks, signed_csrf_token
from .viewmodels import SingleFlight

#: Pages kept per process (a page is 40–100 kB of HTML).
PAGE_CACHE_SIZE = 64

#: Stands in for each CSRF token in a stored page, never sent. No text from
#: outside can make it: everything a template shows is escaped ("<" as "&lt;").
PLACEHOLDER = "<!--csrf-token-->"


def init_app(app) -> None:
    app.extensions["page_cache"] = SingleFlight(PAGE_CACHE_SIZE)


def cached_page(account_id: int, tz, render: Callable[[], str], *, reads: Iterable[str] = ()):
    """The page ``render()`` makes for ``account_id`` in its current state:
    from this process's cache when nothing it shows has changed. ``reads``
    names the query parameters the page uses; any other one skips the cache
    (so a crafted query cannot fill it). A person who may not see the account
    is answered as :func:`~dashboard.web.context.current_account_id` does."""
    person_id = session.get("person_id")
    state = get_store().page_state.of(person_id, account_id, str(tz)) if person_id else None
    if state is None:
        current_account_id()  # 401, or another account after this one was lost
        abort(401)
    if "_flashes" in session or not request.args.keys() <= set(reads):
        return render()
    key = (request.endpoint, request.full_path, str(get_locale()), str(tz), person_id, account_id,
           state, _clock_flags(state, account_id))
    collecting = g.get("prerendered")
    if collecting is not None:  # the worker, after a sync: rendered for every process
        pieces = _with_placeholders(render)
        if not request.args:
            collecting[stored_name(key)] = PLACEHOLDER.join(p.decode() for p in pieces)
    else:
        pieces = current_app.extensions["page_cache"].get(
            key, lambda: _stored_or_rendered(account_id, key, render))
    return current_app.response_class(_fill_tokens(pieces), mimetype="text/html")


def stored_name(key: tuple) -> str:
    """The name a whole page is stored under among the account's rendered
    parts: a digest of everything it depends on, so a stored page is found
    exactly when it is the page this request would render."""
    return "page|" + hashlib.sha256(repr(key).encode()).hexdigest()


def _stored_or_rendered(account_id: int, key: tuple, render: Callable[[], str]) -> tuple[bytes, ...]:
    stored = get_store().summaries.rendered_page(account_id, stored_name(key))
    if stored is not None:
        return tuple(stored.encode().split(PLACEHOLDER.encode()))
    return _with_placeholders(render)


def _clock_flags(state: tuple, account_id: int) -> tuple[bool, bool]:
    """What of the page changes by itself as time passes: whether "Sync now"
    still waits, and whether the sync lease is still held (a lease that ran
    out shows its run as interrupted)."""
    pressed, leased = PageStateStore.sync_times(state, account_id)
    now = utcnow()
    interval = timedelta(seconds=current_app.config["SYNC_NOW_INTERVAL_SECONDS"])
    return (pressed is not None and pressed + interval > now, leased is not None and leased > now)


def _with_placeholders(render: Callable[[], str]) -> tuple[bytes, ...]:
    """The page as UTF-8 pieces, cut where each CSRF token goes."""
    g.csrf_placeholder = PLACEHOLDER
    try:
        html = str(render())
    finally:
        g.pop("csrf_placeholder", None)
    return tuple(html.encode().split(PLACEHOLDER.encode()))


def _fill_tokens(pieces: tuple[bytes, ...]) -> bytes:
    """The pieces joined by freshly masked tokens, one per gap."""
    if len(pieces) == 1:
        return pieces[0]
    out = [pieces[0]]
    for masked, piece in zip(masks(signed_csrf_token().encode(), len(pieces) - 1), pieces[1:],
                             strict=True):
        out += (masked, piece)
    return b"".join(out)
