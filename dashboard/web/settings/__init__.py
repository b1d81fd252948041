"""``/settings``: each person's settings, one section per feature and account.

The page renders, for every account of the person, the partial templates
registered with :func:`register_section`, in order. This module registers
``report`` and ``email``; another feature adds its own with one call::

    register_section("alerts", "alerts/_settings.html", alerts_context)

where ``alerts_context(person_id, account)`` returns the partial's variables
(the partial also sees ``account``, ``person_id`` and ``mail_enabled``) and
its forms post to the feature's own routes. A setting of the person rather
than of one account is registered with ``per="person"``: it is rendered once,
above the accounts, and its context function gets ``account=None``. This
module registers ``engagement`` that way (the engagement formula).

E-mail: an address is confirmed by a link before anything is sent to it;
every e-mail carries a one-click unsubscribe URL (RFC 8058,
``/settings/unsubscribe/<token>/one-click``, POST only, no login, no CSRF
token: the secret is the proof) and, in its text, the page at
``/settings/unsubscribe/<token>`` whose button posts there. A GET (a link
scanner) changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from dashboard import analytics
from dashboard.core.mail import valid_address

from .. import engagement
from ..context import get_jobs, get_store, logged_in_person, require_role
from ..i18n import LANGUAGES, select_timezone
from ..outcomes import N_
from ..security import csrf
from .timezones import valid_timezone

bp = Blueprint("settings", __name__, url_prefix="/settings")

#: A confirmation link works this long after its e-mail was sent.
CONFIRM_MAX_AGE = timedelta(days=7)
FREQUENCIES = {"off": N_("No digest"), "weekly": N_("Weekly"), "monthly": N_("Monthly")}
WEEKDAY_NAMES = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"),
                 N_("Saturday"), N_("Sunday"))


@dataclass(frozen=True)
class Section:
    name: str
    template: str
    context: Callable[[int, object], dict]
    per: str = "account"


SECTIONS: list[Section] = []


def register_section(name: str, template: str, context: Callable[[int, object], dict],
                     per: str = "account") -> None:
    """Add a section to every account's settings, or once for the person with
    ``per="person"`` (once per name; the last one wins)."""
    if per not in ("account", "person"):
        raise ValueError(f"per must be 'account' or 'person', not {per!r}")
    SECTIONS[:] = [s for s in SECTIONS if s.name != name]
    SECTIONS.append(Section(name, template, context, per))


def mail_enabled() -> bool:
    return get_jobs().mailer.enabled


def _report_context(person_id: int, account) -> dict:
    return {}


def _email_context(person_id: int, account) -> dict:
    store = get_store()
    address = store.mail.address(person_id, account.id)
    sends = store.mail.sends_of(address.id) if address else []
    return {"address": address, "sends": sends, "frequencies": FREQUENCIES,
            "weekdays": WEEKDAY_NAMES, "languages": LANGUAGES,
            "default_tz": select_timezone(), "default_lang": str(get_locale() or "en")}


def _engagement_context(person_id: int, account) -> dict:
    return {"choices": engagement.choices(), "chosen": engagement.current_formula()}


register_section("engagement", "settings/_engagement.html", _engagement_context, per="person")
register_section("report", "settings/_report.html", _report_context)
register_section("email", "settings/_email.html", _email_context)


def _page(status: int = 200, errors: dict | None = None):
    person_id = logged_in_person()
    visible = get_store().accounts.visible_to(person_id)
    # A viewer changes no settings: their accounts show who can, and no sections.
    blocks = [(account, role, [(s, s.context(person_id, account)) for s in SECTIONS if s.per == "account"]
               if role != "viewer" else []) for account, role in visible]
    personal = [(s, s.context(person_id, None)) for s in SECTIONS if s.per == "person"]
    return render_template("settings/index.html", blocks=blocks, personal=personal,
                           person_id=person_id, mail_enabled=mail_enabled(),
                           errors=errors or {}), status


@bp.get("/")
def index():
    return _page()


@bp.post("/engagement")
def save_engagement():
    """The person's engagement formula: every page, export and report uses it."""
    person_id = logged_in_person()
    formula = request.form.get("formula", "")
    if formula not in analytics.ENGAGEMENT_FORMULAS:
        flash(_("Choose one of the engagement formulas."), "error")
        return _page(400)
    if not get_store().accounts.set_engagement_formula(person_id, formula):
        abort(401)
    flash(_("Engagement rates now follow the formula: %(name)s.",
            name=engagement.formula_name(formula)), "info")
    return redirect(url_for(".index") + "#engagement", code=303)


def _managed_account(account_id: int) -> int:
    """The person, when they own or manage the account (e-mail settings are a manager's)."""
    return require_role(account_id, "manager")


def email_form_errors(form) -> tuple[dict, list[str]]:
    """The e-mail form's values, and every problem with them in words."""
    problems = []
    email = form.get("email", "").strip()
    if not valid_address(email):
        problems.append(_("Enter an e-mail address such as name@example.com."))
    lang = form.get("lang", "")
    if lang not in LANGUAGES:
        problems.append(_("Choose a language from the list."))
    tz = form.get("tz", "").strip()
    if not valid_timezone(tz):
        problems.append(_("Choose a time zone such as Europe/Berlin or Asia/Shanghai."))
    frequency = form.get("frequency", "")
    if frequency not in FREQUENCIES:
        problems.append(_("Choose how often the digest comes."))
    numbers = {}
    for field, top in (("weekday", 6), ("hour", 23)):
        raw = form.get(field, "")
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 2 and int(raw) <= top):
            problems.append(_("Choose a weekday and an hour from the lists."))
            break
        numbers[field] = int(raw)
    values = {"email": email, "lang": lang, "tz": tz, "frequency": frequency, **numbers}
    return values, problems


@bp.post("/email/<int:account_id>")
def save_email(account_id: int):
    person_id = _managed_account(account_id)
    if not mail_enabled():
        flash(_("E-mail is off on this dashboard: its administrator has not set SMTP_URL and MAIL_FROM."),
              "error")
        return _page(400)
    values, problems = email_form_errors(request.form)
    if problems:
        return _page(400, {account_id: problems})
    address, secret = get_store().mail.save(person_id, account_id, **values)
    if secret:
        get_jobs().request_confirmation(address.id, secret)
        flash(_("Saved. We sent a confirmation link to %(email)s: nothing is sent there before you open it.",
                email=address.email), "info")
    else:
        flash(_("Your e-mail settings are saved."), "info")
    return redirect(url_for(".index"), code=303)


@bp.post("/email/<int:account_id>/resend")
def resend_confirmation(account_id: int):
    person_id = _managed_account(account_id)
    address = get_store().mail.address(person_id, account_id)
    if address is None or address.confirmed_at is not None or not mail_enabled():
        abort(400)
    get_jobs().request_confirmation(address.id, get_store().mail.new_confirmation(address.id))
    flash(_("We sent a new confirmation link to %(email)s.", email=address.email), "info")
    return redirect(url_for(".index"), code=303)


def _token_ok(token: str) -> bool:
    return 0 < len(token) <= 64 and token.isascii()


@bp.get("/confirm/<token>")
def confirm(token: str):
    """The link in the confirmation e-mail: a page with a button (a GET changes nothing)."""
    address = get_store().mail.by_confirmation(token) if _token_ok(token) else None
    return render_template("settings/confirm.html", address=address, token=token,
                           done=False), 200 if address else 404


@bp.post("/confirm/<token>/done")
def confirm_post(token: str):
    address = get_store().mail.confirm(token, CONFIRM_MAX_AGE) if _token_ok(token) else None
    return render_template("settings/confirm.html", address=address, token=token,
                           done=address is not None), 200 if address else 404


@bp.get("/unsubscribe/<token>")
def unsubscribe(token: str):
    address = get_store().mail.by_unsubscribe(token) if _token_ok(token) else None
    return render_template("settings/unsubscribe.html", address=address, token=token,
                           done=False), 200 if address else 404


@bp.post("/unsubscribe/<token>/one-click")
@csrf.exempt
def unsubscribe_post(token: str):
    """RFC 8058 one-click (the ``List-Unsubscribe`` URL): the mail client POSTs
    ``List-Unsubscribe=One-Click`` with no cookie and no CSRF token; the
    secret in the URL is the proof. The page's button posts here too."""
    if request.form.get("List-Unsubscribe") != "One-Click":
        abort(400)
    address = get_store().mail.unsubscribe(token) if _token_ok(token) else None
    return render_template("settings/unsubscribe.html", address=address, token=token,
                           done=address is not None), 200 if address else 404
