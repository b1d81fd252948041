"""Background jobs on Huey: every call to TikTok's Display API runs here.

Huey because it needs no server by default (its SQLite storage, a file in
the instance folder) and runs on Redis once a deployment outgrows one
machine, with periodic tasks built in. Each task is a thin wrapper over a
core function; the same functions serve ``flask sync`` on the terminal.

* ``sync_account``: one sync (on connect, "Sync now", the schedule), then
  the pictures of that account;
* ``store_pictures``: covers and avatars downloaded while their URLs are fresh;
* ``revoke_token``: the revoke at TikTok after a disconnect;
* ``deliver_alert``: a new alert handed to each delivery channel (the webhook;
  e-mail joins :attr:`Jobs.channels`), ``send_webhook``: one webhook POST,
  rescheduled with backoff for a day;
* ``render_report``: a PDF report of one account (``dashboard.core.reports``)
  or a comparison of several (``dashboard.core.compare``), worded by the web
  layer's renderer;
* ``send_digest`` and ``send_confirmation``: e-mail (``dashboard.core.digest``);
* ``tick``, every minute: syncs that are due, syncs whose worker died,
  expired browser sessions, webhook retries lost with the queue, digests due
  (and retries after SMTP failures), and reports older than a day.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING

from dashboard.storage.models import utcnow
from dashboard.storage.reports import compared_of

from . import alerts, webhooks
from .compare import build_comparison
from .context import Core
from .digest import due_sends, send_digest
from .mail import Mailer, MailError, send
from .pictures import store_pictures
from .reports import build_report, engagement_formula_of
from .sync import Progress, SyncResult, run_sync

if TYPE_CHECKING:
    from huey import Huey
    from huey.consumer import Consumer

log = logging.getLogger(__name__)

#: A queued marker older than this is stale (its job was lost with a wiped
#: queue): a new request may queue again.
QUEUED_STALE_AFTER = timedelta(hours=1)
#: A webhook retry this late was lost with its queue: the tick sends it again.
WEBHOOK_OVERDUE = timedelta(minutes=15)
#: A revoke TikTok could not take is tried again, a minute apart: after a
#: disconnect nothing else would ever revoke that token.
REVOKE_RETRIES = 5
REVOKE_RETRY_DELAY = 60
#: A finished PDF report is kept this long for its download, then deleted.
REPORT_KEEP = timedelta(days=1)


def build_queue(*, redis_url: str | None, queue_path: str, immediate: bool = False) -> Huey:
    """Huey on Redis when ``REDIS_URL`` is set, else on an SQLite file."""
    # Imported here: Huey brings Redis's and PostgreSQL's drivers along, a
    # third of the start-up of a command that never queues anything.
    from huey import Huey, RedisHuey, SqliteHuey
    # No result store: every outcome a page shows is in the database already,
    # and stored results would only pile up in the queue.
    if immediate:
        return Huey("tiktok-dashboard", immediate=True, results=False)
    if redis_url:
        return RedisHuey("tiktok-dashboard", url=redis_url, results=False)
    return SqliteHuey("tiktok-dashboard", filename=queue_path, results=False)


class RevokeFailed(Exception):
    """TikTok did not take a revoke; the job is retried."""


class Jobs:
    """The app's tasks on one Huey instance, bound to one :class:`Core`.

    The queue is opened when first used, not when the app is built: ``flask
    sync`` runs its syncs in the terminal and opens it only to hand the
    pictures to the worker.
    """

    def __init__(self, queue: Callable[[], Huey], core: Core, mailer: Mailer | None = None):
        self._open_queue = queue
        self._huey: Huey | None = None
        self._opening = threading.Lock()
        self._on_open: list[Callable[[Huey], None]] = []
        self.core = core
        self.mailer = mailer or Mailer(None, None)
        #: Turns report data into PDF and e-mail (set by the web layer, which owns the words).
        self.renderer = None
        #: Where each new alert goes; the delivery seam (an e-mail channel is added here).
        self.channels: dict[str, alerts.Channel] = {"webhook": self.webhook_channel,
                                                    "email": self.email_channel}
        core.alert_hook = self.alert_raised

    @property
    def huey(self) -> Huey:
        with self._opening:
            if self._huey is None:
                from huey import crontab  # see build_queue

                huey = self._open_queue()
                self._report = huey.task(name="render_report")(self.render_report)
                self._digest = huey.task(name="send_digest")(self.send_digest)
                self._confirm = huey.task(name="send_confirmation")(self.send_confirmation)
                self._sync = huey.task(name="sync_account")(self.sync_account)
                self._pictures = huey.task(name="store_pictures")(self.pictures)
                self._refresh = huey.task(name="refresh_pages")(self.after_sync)
                self._revoke = huey.task(name="revoke_token", retries=REVOKE_RETRIES,
                                         retry_delay=REVOKE_RETRY_DELAY)(self.revoke_token)
                self._deliver = huey.task(name="deliver_alert")(self.deliver_alert)
                self._send_webhook = huey.task(name="send_webhook")(self.send_webhook)
                huey.periodic_task(crontab(minute="*"), name="tick")(self.tick)
                self._tick_later = huey.task(name="tick_later")(self.tick)
                for bind in self._on_open:
                    bind(huey)
                self._huey = huey
        return self._huey

    def tick_after_leases(self) -> None:
        """Tick once more when the leases a dead worker held have run out: a
        worker that starts right after another died picks its syncs up then,
        not at the next minute's tick."""
        self._queue("_tick_later", delay=self.core.settings.sync_lease_seconds + 1)

    def when_open(self, bind: Callable[[Huey], None]) -> None:
        """Have ``bind(huey)`` register more tasks when the queue opens (research)."""
        with self._opening:
            if self._huey is None:
                self._on_open.append(bind)
                return
        bind(self._huey)

    def _queue(self, task: str, *args, delay: float | None = None) -> None:
        self.huey  # noqa: B018 (opens the queue and binds the tasks)
        if delay is None:
            getattr(self, task)(*args)
        else:
            getattr(self, task).schedule(args, delay=delay)

    # --- what the web layer and the CLI ask for ---------------------------------------

    def request_sync(self, account_id: int) -> str:
        """Queue one sync of the account: ``"queued"``, or ``"already"`` when one
        is queued or running (a sync is queued at most once per account)."""
        runs = self.core.store.runs
        if runs.is_locked("sync", account_id) or not runs.mark_queued(account_id, QUEUED_STALE_AFTER):
            return "already"
        self._queue("_sync", account_id)
        return "queued"

    def request_revoke(self, access_token: str) -> None:
        """Revoke a token at TikTok in the background (it travels encrypted)."""
        self._queue("_revoke", self.core.store.tokens.cipher.encrypt(access_token))

    def alert_raised(self, alert) -> None:
        """A new alert: delivered in the background (a sync never waits on a webhook)."""
        self._queue("_deliver", alert.id)

    def request_refresh(self, account_id: int) -> None:
        """The account's data changed outside a sync (a Studio import): the
        worker renders its pages ahead again."""
        self._queue("_refresh", account_id)

    def request_report(self, report_id: int) -> None:
        self._queue("_report", report_id)

    def request_confirmation(self, address_id: int, secret: str) -> None:
        """E-mail the confirmation link (the secret travels encrypted)."""
        self._queue("_confirm", address_id, self.core.store.tokens.cipher.encrypt(secret))

    # --- the tasks ------------------------------------------------------------------------

    def deliver_alert(self, alert_id: int) -> None:
        alert = self.core.store.alerts.get(alert_id)
        if alert is not None:
            alerts.deliver(alert, self.channels)

    def webhook_channel(self, alert) -> None:
        delivery_id = webhooks.plan(self.core, alert)
        if delivery_id is not None:
            self._queue("_send_webhook", delivery_id)

    def email_channel(self, alert) -> None:
        """Each confirmed address of the alert's account gets it by e-mail (when
        e-mail is on); a refused send raises, and the other addresses still get it."""
        if not self.mailer.enabled or self.renderer is None:
            return
        failed = None
        for address in self.core.store.mail.confirmed(alert.account_id):
            subject, text = self.renderer.alert_email(alert, address)
            try:
                send(self.mailer, to=address.email, subject=subject, text=text,
                     unsubscribe_url=self.renderer.unsubscribe_url(address), lang=address.lang)
            except MailError as exc:
                failed = exc
        if failed is not None:
            raise failed

    def send_webhook(self, delivery_id: int) -> None:
        """One attempt; the next one is scheduled with its backoff (each is recorded)."""
        delay = webhooks.attempt(self.core, delivery_id)
        if delay is not None:
            self._queue("_send_webhook", delivery_id, delay=delay)

    def sync_account(self, account_id: int, progress: Progress | None = None) -> SyncResult:
        """One sync, then the pictures it brought (in a job of their own)."""
        result = run_sync(self.core, account_id, progress=progress)
        log.info("sync of account %s: %s (%d calls)", account_id, result.code, result.api_calls)
        if result.ok:
            if self.core.settings.store_pictures:  # first: pages wait for the avatar
                self._queue("_pictures", account_id)
            self.after_sync(account_id)
        return result

    def pictures(self, account_id: int) -> None:
        if self.core.store.accounts.get(account_id) is None:
            return
        result = store_pictures(self.core, account_id)
        if result.more:
            self._queue("_pictures", account_id)
        else:  # the covers are in: the stored pages get them
            self.after_sync(account_id)

    def after_sync(self, account_id: int) -> None:
        """Run the after-sync hooks (the web layer renders the pages for every process)."""
        for hook in self.core.after_sync:
            try:
                hook(account_id)
            except Exception:  # a page that cannot be rendered now is rendered when viewed
                log.exception("after-sync hook %s failed for account %s", hook, account_id)

    def revoke_token(self, encrypted_token: str) -> None:
        """Revoke at TikTok; a failure raises, so Huey tries again later."""
        token = self.core.store.tokens.cipher.decrypt(encrypted_token)
        if not self.core.tokens.revoke_access_token(token):
            raise RevokeFailed()

    def render_report(self, report_id: int) -> None:
        """Compute and render one queued report; the page polling it shows the outcome."""
        store = self.core.store
        row = store.reports.get(report_id)
        if row is None or row.status not in ("queued", "running"):
            return
        store.reports.mark_running(report_id)
        started = time.perf_counter()
        compared = compared_of(row)
        formula = engagement_formula_of(self.core, row.person_id)
        try:
            if compared is None:
                data = build_report(self.core, row.account_id, row.date_from, row.date_to, row.tz,
                                    formula=formula)
                pdf = self.renderer.report_pdf(data, row.lang)
            else:
                accounts = self._compared_accounts(row.person_id, compared.account_ids)
                if accounts is None:
                    log.info("comparison report %s refused: an account is no longer visible", report_id)
                    store.reports.fail(report_id, "not_visible")
                    return
                data = build_comparison(self.core, accounts, row.date_from, row.date_to, row.tz,
                                        vs=compared.vs, formula=formula)
                pdf = self.renderer.comparison_pdf(data, row.lang)
        except Exception:
            log.exception("report %s of account %s failed", report_id, row.account_id)
            store.reports.fail(report_id, "render_failed")
            return
        seconds = time.perf_counter() - started
        store.reports.finish(report_id, pdf, seconds)
        log.info("report %s of account %s: %d bytes in %.1f s", report_id, row.account_id,
                 len(pdf), seconds)

    def _compared_accounts(self, person_id: int | None, account_ids: list[int]) -> list | None:
        """The accounts in the order asked, when the person may still see every one of them."""
        by_id = {a.id: a for a, _role in self.core.store.accounts.visible_to(person_id)} if person_id else {}
        if not all(i in by_id for i in account_ids):
            return None
        return [by_id[i] for i in account_ids]

    def send_digest(self, address_id: int, start: str, end: str):
        """One digest (its period as ISO dates); sent once, failures kept for a retry."""
        return send_digest(self.core, self.mailer, self.renderer, address_id,
                           (date.fromisoformat(start), date.fromisoformat(end)))

    def send_confirmation(self, address_id: int, encrypted_secret: str) -> None:
        """The confirmation e-mail; an SMTP failure is shown on the settings page."""
        store = self.core.store
        address = store.mail.get(address_id)
        if address is None or address.confirmed_at is not None:
            return
        secret = store.tokens.cipher.decrypt(encrypted_secret)
        subject, text = self.renderer.confirmation(address, secret)
        try:
            send(self.mailer, to=address.email, subject=subject, text=text, lang=address.lang)
        except MailError as exc:
            log.warning("confirmation e-mail to address %s failed: %s", address_id, exc)
            store.mail.mark_confirmation_sent(address_id, utcnow(), str(exc))
            return
        store.mail.mark_confirmation_sent(address_id, utcnow())

    def queue_digests(self) -> int:
        """Queue every digest due now (and the retries due); returns how many."""
        if not self.mailer.enabled or self.renderer is None:
            return 0
        due = due_sends(self.core)
        for address_id, (start, end) in due:
            self._queue("_digest", address_id, start.isoformat(), end.isoformat())
        return len(due)

    def tick(self) -> dict[str, int]:
        """Every minute: pick up syncs whose worker died, queue the due ones,
        delete browser sessions past their lifetime, queue the digests due and
        delete old reports."""
        store, settings = self.core.store, self.core.settings
        picked = [a for a in store.runs.interrupted_accounts() if self.request_sync(a) == "queued"]
        due = []
        if settings.sync_interval_minutes > 0:
            before = utcnow() - timedelta(minutes=settings.sync_interval_minutes)
            due = [a for a in store.runs.due_accounts(before) if self.request_sync(a) == "queued"]
        purged = self.purge_sessions()
        for delivery_id in store.alerts.claim_overdue(utcnow() - WEBHOOK_OVERDUE, utcnow()):
            self._queue("_send_webhook", delivery_id)
        digests = self.queue_digests()
        store.reports.purge(utcnow() - REPORT_KEEP)
        if picked or due or purged or digests:
            log.info("tick: %d interrupted syncs picked up, %d due, %d sessions purged, %d digests",
                     len(picked), len(due), purged, digests)
        return {"interrupted": len(picked), "due": len(due), "purged": purged, "digests": digests}

    def purge_sessions(self) -> int:
        """Delete the browser sessions past their idle or absolute lifetime (an
        expired row is also deleted when its browser comes back; this removes
        the ones whose browser never does)."""
        settings, now = self.core.settings, utcnow()
        return self.core.store.web_sessions.purge(
            now - timedelta(minutes=settings.session_idle_minutes),
            now - timedelta(hours=settings.session_absolute_hours))


def start_in_process(huey: Huey, threads: int) -> Consumer:
    """Run a consumer on threads of this process (``flask run``); returns at once."""
    from huey.consumer import Consumer  # see build_queue

    class QuietConsumer(Consumer):
        """A consumer inside the web process: signals belong to the server there."""

        def _set_signal_handlers(self):
            pass

    consumer = QuietConsumer(huey, workers=threads, worker_type="thread", periodic=True)
    consumer.start()
    return consumer


def run_worker(huey: Huey, threads: int) -> None:
    """``flask worker``: the consumer in the foreground, stopped by SIGINT or SIGTERM."""
    from huey.consumer import Consumer  # see build_queue

    Consumer(huey, workers=threads, worker_type="thread", periodic=True).run()
