"""Alerts: run the rules on an account's stored history, keep each event once,
and hand every new alert to the delivery channels.

The rules are pure (:mod:`dashboard.alerts`); this module reads their input
from storage after each sync, stores what they find (an event's ``key`` is
unique per account, so it fires once however often the rules run), and
passes each new alert to ``core.alert_hook``, which the job queue sets to
"deliver it in the background" (:meth:`dashboard.core.jobs.Jobs.alert_raised`).

**The delivery seam** is :func:`deliver`: one alert, a mapping of channel
name to a callable taking the alert. The webhook is one channel; e-mail is
another to add beside it (``channels["email"] = ...``). A channel that
fails is logged and does not keep the others from running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from dashboard import alerts as rules_module
from dashboard.alerts import AccountHistory, AlertRules, Event, RunRecord, VideoHistory
from dashboard.storage.alerts import StoredAlert
from dashboard.storage.models import utcnow

from .context import Core

log = logging.getLogger(__name__)

#: How far back the rules read: the video take-off rule compares a video
#: (up to 30 days old) with the account's videos posted in this window.
HISTORY_WINDOW = timedelta(days=90)

Channel = Callable[[StoredAlert], None]


def rules_for(core: Core, account_id: int) -> AlertRules:
    return AlertRules.from_dict(core.store.alerts.config(account_id).rules)


def history_of(core: Core, account_id: int, now: datetime) -> AccountHistory:
    """The account's stored history as the rules read it."""
    rows = core.store.alerts.rule_inputs(account_id, now - HISTORY_WINDOW, now)
    return AccountHistory(
        now=now,
        followers=tuple(rows["followers"]),
        videos=tuple(VideoHistory(v["video_id"], v["title"], v["create_time"], v["gone_at"],
                                  tuple(v["views"])) for v in rows["videos"]),
        runs=tuple(RunRecord(r["started_at"], r["status"], r["code"], r["id"]) for r in rows["runs"]),
        refresh_expires_at=rows["refresh_expires_at"],
        disconnected_at=rows["disconnected_at"],
    )


def store_events(core: Core, account_id: int, events: list[Event]) -> list[StoredAlert]:
    """Store each event unless its key is known already; the new ones, raised."""
    new = []
    for event in events:
        stored = core.store.alerts.add(account_id, rule=event.rule, key=event.key,
                                       subject=event.subject, numbers=event.numbers,
                                       occurred_at=event.occurred_at)
        if stored is None:
            continue
        new.append(stored)
        if core.alert_hook is not None:
            try:
                core.alert_hook(stored)
            except Exception:  # the queue is down: the tick picks the delivery up later
                log.exception("alert %s could not be queued for delivery", stored.id)
    return new


def evaluate_account(core: Core, account_id: int, now: datetime | None = None) -> list[StoredAlert]:
    """Run the account's rules on its stored history; the alerts that are new."""
    now = now or utcnow()
    if core.store.accounts.get(account_id) is None:
        return []
    events = rules_module.evaluate(history_of(core, account_id, now), rules_for(core, account_id))
    return store_events(core, account_id, events)


def after_sync(core: Core, account_id: int, now: datetime | None = None) -> None:
    """The sync's hook: evaluate, and never let an alert fault fail a sync."""
    try:
        new = evaluate_account(core, account_id, now)
        if new:
            log.info("account %s: %d new alerts (%s)", account_id, len(new),
                     ", ".join(a.rule for a in new))
    except Exception:
        log.exception("evaluating the alerts of account %s failed", account_id)


def raise_event(core: Core, account_id: int, event: Event) -> StoredAlert | None:
    """An event found outside the rules (TikTok's webhook), if its rule is on."""
    if not rules_for(core, account_id).enabled(event.rule):
        return None
    new = store_events(core, account_id, [event])
    return new[0] if new else None


def deliver(alert: StoredAlert, channels: Mapping[str, Channel]) -> dict[str, bool]:
    """Hand one alert to every channel; which of them took it without error."""
    taken = {}
    for name, channel in channels.items():
        try:
            channel(alert)
            taken[name] = True
        except Exception:
            log.exception("alert %s: the %s channel failed", alert.id, name)
            taken[name] = False
    return taken
