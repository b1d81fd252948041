"""Alerts for people: the bell in the header, ``/alerts``, and the alert and
webhook settings of the selected account.

The settings are a partial, ``templates/settings/_alerts.html``, posted to
``/settings/alerts/rules`` (rules) and ``/settings/webhooks`` (the webhook); until
``/settings`` includes it, ``GET /settings/alerts`` shows it on a page of its own.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from dashboard.alerts import RULES, AlertRules
from dashboard.core import alert_text, webhooks
from dashboard.storage.alerts import StoredAlert

from .. import settings
from ..context import current_account_id, get_store, logged_in_person

bp = Blueprint("alerts", __name__)

PER_PAGE = 50
MAX_PAGE = 1000

#: Why a webhook URL was refused, in words.
REFUSALS = {
    "bad_url": alert_text.N_("That is not a web address that can receive webhooks "
                             "(no user name or password in it, at most 2,048 characters)."),
    "not_https": alert_text.N_("The webhook address must start with https://."),
    "unresolvable": alert_text.N_("The webhook's host name could not be found."),
    "private_address": alert_text.N_("The webhook's host is a loopback, private or link-local "
                                     "address, which this deployment does not send to."),
}
#: What happened to one attempt, in words.
OUTCOMES = {
    "ok": alert_text.N_("delivered"),
    "http_error": alert_text.N_("refused by the receiver"),
    "timeout": alert_text.N_("timed out"),
    "connection": alert_text.N_("could not connect"),
    "webhook_removed": alert_text.N_("webhook removed"),
    **REFUSALS,
}
#: Where a delivery stands, in words.
DELIVERY_STATES = {
    "pending": alert_text.N_("retrying"),
    "delivered": alert_text.N_("delivered"),
    "failed": alert_text.N_("given up"),
}


@dataclass(frozen=True)
class AlertView:
    id: int
    rule: str
    title: str
    body: str
    occurred_at: datetime
    created_at: datetime
    unread: bool
    account_name: str
    video_id: str | None
    account_id: int

    @classmethod
    def of(cls, alert: StoredAlert, names: dict[int, str]) -> AlertView:
        language = str(get_locale() or "en")
        video_id = alert.numbers.get("video_id")
        return cls(alert.id, alert.rule, alert_text.title(alert, _),
                   alert_text.body(alert, _, language), alert.occurred_at, alert.created_at,
                   alert.read_at is None, names.get(alert.account_id, ""),
                   video_id if isinstance(video_id, str) and video_id.isdigit() else None,
                   alert.account_id)


def unread_alerts() -> int:
    """The bell's count: the logged-in person's unread alerts (0 when logged out)."""
    person_id = session.get("person_id")
    return get_store().alerts.count_of_person(person_id, unread=True) if person_id else 0


def account_disconnection(account_id: int) -> dict | None:
    """Why an account is disconnected, when TikTok's webhook said so."""
    row = get_store().accounts.get(account_id)
    if row is None or row.disconnected_at is None:
        return None
    return {"at": row.disconnected_at, "reason": alert_text.reason_text(row.disconnect_reason, _)}


@bp.get("/alerts")
def index():
    person_id = logged_in_person()
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        abort(400)
    page = int(raw)
    store = get_store()
    visible = store.accounts.visible_to(person_id)
    names = {a.id: a.display_name or a.username or a.open_id for a, _role in visible}
    rows = store.alerts.of_person(person_id, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE)
    return render_template("alerts/index.html", alerts=[AlertView.of(a, names) for a in rows[:PER_PAGE]],
                           page=page, more=len(rows) > PER_PAGE,
                           selected=session.get("account_id"),
                           managed={a.id for a, role in visible if role != "viewer"})


@bp.post("/alerts/read")
def read_all():
    """Mark every alert read, or the one named by the form's ``alert_id`` (an id
    in the form, not the path: the CSRF check comes before any routing)."""
    raw = request.form.get("alert_id")
    if raw is None:
        get_store().alerts.mark_read(logged_in_person())
        return redirect(url_for(".index"))
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or int(raw) > 2**31 - 1:
        abort(400)
    if not get_store().alerts.mark_read(logged_in_person(), int(raw)):
        abort(404)
    return redirect(url_for(".index") + f"#alert-{raw}")


# --- settings ------------------------------------------------------------------------------------


def masked(url: str | None) -> str | None:
    """The webhook address without its secret parts (Slack's and Discord's paths are keys)."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…"


def settings_context(account_id: int, *, rules: AlertRules | None = None, secret: str | None = None,
                     url_value: str = "") -> dict:
    store = get_store()
    config = store.alerts.config(account_id)
    deliveries = store.alerts.recent_deliveries(account_id)
    for d in deliveries:
        d["state"] = _(DELIVERY_STATES.get(d["status"], d["status"]))
        for a in d["attempts"]:
            a["text"] = _(OUTCOMES.get(a["outcome"], a["outcome"]))
    return {
        "alert_rules": rules or AlertRules.from_dict(config.rules),
        "rule_titles": {r: _(alert_text.TITLES[r]) for r in RULES},
        "webhook": {"url": masked(config.webhook_url), "language": config.webhook_language,
                    "kind": webhooks.kind_of(urlsplit(config.webhook_url or "").hostname or "",
                                             urlsplit(config.webhook_url or "").path)},
        "webhook_secret_once": secret,
        "webhook_url_value": url_value,
        "deliveries": deliveries,
        "alert_limits": AlertRules.LIMITS,
    }


def _page(account_id: int, status: int = 200, **extra):
    return render_template("settings/alerts_page.html", **settings_context(account_id, **extra)), status


@bp.get("/settings/alerts")
def settings_page():
    return _page(current_account_id("manager"))


def rules_from_form(form) -> AlertRules | None:
    """The submitted rules; None when a threshold is not a number in its range."""
    values: dict = {r: form.get(r) == "on" for r in RULES}
    for name, (low, high) in AlertRules.LIMITS.items():
        raw = form.get(name, "").strip()
        kind = float if isinstance(getattr(AlertRules(), name), float) else int
        try:
            value = kind(raw) if len(raw) <= 20 else None
        except ValueError:
            value = None
        if value is None or value != value or not low <= value <= high:
            return None
        values[name] = value
    return AlertRules(**values)


@bp.post("/settings/alerts/rules")
def save_rules():
    account_id = current_account_id("manager")
    rules = rules_from_form(request.form)
    if rules is None:
        flash(_("Each threshold must be a number within the range shown beside it."), "error")
        return _page(account_id, 400)
    get_store().alerts.save_rules(account_id, rules.to_dict())
    flash(_("Alert settings saved."), "info")
    return redirect(url_for(".settings_page"))


@bp.post("/settings/webhooks")
def save_webhook():
    account_id = current_account_id("manager")
    action = request.form.get("action", "save")
    store, config = get_store(), get_store().alerts.config(account_id)
    language = request.form.get("language", "en")
    if action not in {"save", "remove", "new_secret"} or language not in alert_text.LANGUAGES:
        abort(400)
    if action == "remove":
        store.alerts.save_webhook(account_id, None, None)
        flash(_("The webhook was removed."), "info")
        return redirect(url_for(".settings_page"))
    if action == "new_secret":
        if not config.webhook_url:
            abort(400)
        secret = secrets.token_urlsafe(32)
        store.alerts.save_webhook(account_id, config.webhook_url, secret, config.webhook_language)
        return _page(account_id, secret=secret)
    url = request.form.get("url", "").strip()
    try:
        webhooks.check_url(url, allow_private=current_app.config["WEBHOOKS_ALLOW_PRIVATE_HOSTS"])
    except webhooks.WebhookRefused as exc:
        flash(_(REFUSALS[exc.reason]), "error")
        return _page(account_id, 400, url_value=url[:webhooks.MAX_URL_LENGTH])
    secret = config.webhook_secret if config.webhook_url == url and config.webhook_secret else None
    store.alerts.save_webhook(account_id, url, secret or secrets.token_urlsafe(32), language)
    flash(_("Webhook saved."), "info")
    return _page(account_id, secret=None if secret else store.alerts.config(account_id).webhook_secret)


def _section_context(person_id: int, account) -> dict:
    """The alerts section of ``/settings``: the forms act on the account being viewed."""
    if account.id != session.get("account_id") or get_store().accounts.role_of(
            person_id, account.id) not in ("owner", "manager"):
        return {"current": False}
    return {"current": True, **settings_context(account.id)}


def init_app(app) -> None:
    app.register_blueprint(bp)
    settings.register_section("alerts", "settings/_alerts_section.html", _section_context)
    app.jinja_env.globals.update(unread_alerts=unread_alerts, account_disconnection=account_disconnection)
