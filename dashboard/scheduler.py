"""An opt-in in-process schedule, for people who run nothing else.

With ``SYNC_INTERVAL_MINUTES`` above zero, a daemon thread syncs every
connected account at that interval. Cron or a systemd timer running
``flask sync`` is the better choice when there is one (see the README);
several workers each running this thread are harmless, because a sync
takes a lease on its account and a second one simply skips.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


def sync_all(app) -> None:
    from .sessions import purge_expired_sessions
    from .store import get_store
    from .sync import run_sync

    with app.app_context(), app.test_request_context():
        purge_expired_sessions(app)
        for account in get_store().all_accounts():
            result = run_sync(account.id)
            log.info("scheduled sync of account %s: %s", account.id,
                     "ok" if result.ok else result.error_code)


def start_if_configured(app) -> threading.Thread | None:
    minutes = app.config.get("SYNC_INTERVAL_MINUTES") or 0
    if minutes <= 0 or app.config.get("TESTING"):
        return None
    stop = threading.Event()

    def loop():
        while not stop.wait(minutes * 60):
            try:
                sync_all(app)
            except Exception:  # the schedule must outlive one bad run
                log.exception("scheduled sync failed")

    thread = threading.Thread(target=loop, name="sync-schedule", daemon=True)
    thread.start()
    app.extensions["sync_schedule_stop"] = stop
    return thread
