"""Sharing an account with a team: ``/sharing`` and the invite links ``/invite/<token>``.

The owner makes an invite link for a role (viewer or manager); it works once,
for :data:`dashboard.core.sharing.INVITE_LIFETIME`, and can be withdrawn. The
link is shown once, when it is made: only a hash of its secret is stored.
Opening it while logged out goes through the TikTok login and comes back; the
page says what is offered and its button POSTs (a GET changes nothing). The
owner sees who has access, changes roles and removes anyone; a member leaves.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from dashboard.core import sharing as core_sharing
from dashboard.storage.sharing import SHARED_ROLES

from ..context import get_core, get_jobs, get_store, logged_in_person, require_role

bp = Blueprint("sharing", __name__)


def role_names() -> dict[str, str]:
    return {"owner": _("owner"), "manager": _("manager"), "viewer": _("viewer")}


def role_help() -> dict[str, str]:
    return {"viewer": _("reads the pages and exports"),
            "manager": _("also syncs and changes the alert, report and e-mail settings")}


def _form_id(name: str) -> int:
    """A row id from the form: ASCII digits that fit a 32-bit integer, else 400."""
    raw = request.form.get(name, "")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or int(raw) > 2**31 - 1:
        abort(400)
    return int(raw)


def invite_url(token: str) -> str:
    """The link to hand over: under ``PUBLIC_BASE_URL`` when it is set, else this
    dashboard's address as the owner opened it."""
    if current_app.config.get("PUBLIC_BASE_URL_SET"):
        return get_jobs().renderer.url("sharing.invite", token=token)
    return url_for("sharing.invite", token=token, _external=True)


def _page(status: int = 200, new_invite: dict | None = None):
    person_id = logged_in_person()
    store = get_store()
    visible = store.accounts.visible_to(person_id)
    owned = [{"account": a, "members": store.sharing.members(a.id),
              "invites": store.sharing.pending_invites(a.id)} for a, role in visible if role == "owner"]
    shared_accounts = [(a, role) for a, role in visible if role != "owner"]
    owners = store.sharing.names([a.person_id for a, _role in shared_accounts])
    shared = [{"account": a, "role": role, "owner": owners.get(a.person_id)} for a, role in shared_accounts]
    return render_template("sharing/index.html", owned=owned, shared=shared, new_invite=new_invite,
                           role_names=role_names(), role_help=role_help(),
                           shared_roles=SHARED_ROLES), status


@bp.get("/sharing")
def index():
    return _page()


@bp.post("/sharing/<int:account_id>/invites")
def create_invite(account_id: int):
    """Make an invite link and show it, this once (the page is not cached)."""
    person_id = require_role(account_id, "owner")
    role = request.form.get("role", "")
    if role not in SHARED_ROLES:
        abort(400)
    invite, token = core_sharing.create_invite(get_core(), account_id, role, person_id)
    body, status = _page(new_invite={"account_id": account_id, "url": invite_url(token), "role": role,
                                     "expires_at": invite.expires_at})
    return body, status, {"Cache-Control": "no-store"}


@bp.post("/sharing/<int:account_id>/invites/revoke")
def revoke_invite(account_id: int):
    require_role(account_id, "owner")
    if not get_store().sharing.revoke_invite(account_id, _form_id("invite_id")):
        abort(404)
    flash(_("The invite link was withdrawn: it no longer works."), "info")
    return redirect(url_for(".index"), code=303)


@bp.post("/sharing/<int:account_id>/members/role")
def change_role(account_id: int):
    require_role(account_id, "owner")
    member, role = _form_id("person_id"), request.form.get("role", "")
    if role not in SHARED_ROLES:
        abort(400)
    if not core_sharing.set_role(get_core(), account_id, member, role):
        abort(404)
    flash(_("The role was changed to %(role)s.", role=role_names()[role]), "info")
    return redirect(url_for(".index"), code=303)


@bp.post("/sharing/<int:account_id>/members/remove")
def remove_member(account_id: int):
    require_role(account_id, "owner")
    if not core_sharing.remove_member(get_core(), account_id, _form_id("person_id")):
        abort(404)
    flash(_("Their access to the account was removed."), "info")
    return redirect(url_for(".index"), code=303)


@bp.post("/sharing/<int:account_id>/leave")
def leave(account_id: int):
    """A member gives up their access (the owner disconnects instead)."""
    person_id = require_role(account_id, "viewer")
    if get_store().accounts.role_of(person_id, account_id) == "owner":
        abort(400)
    core_sharing.remove_member(get_core(), account_id, person_id)
    if session.get("account_id") == account_id:
        remaining = get_store().accounts.visible_to(person_id)
        if remaining:
            session["account_id"] = remaining[0][0].id
        else:
            session.pop("account_id", None)
    flash(_("You left the account: it is no longer shared with you."), "info")
    return redirect(url_for(".index"), code=303)


# --- the invite link ------------------------------------------------------------------------


def _gone(status: int):
    """An invite that does not work, saying nothing of whose it was."""
    return render_template("sharing/invite.html", gone=status, check=None, account=None,
                           offer=None, inviter=None, token=None, role_names=role_names(),
                           role_help=role_help()), status, {"Cache-Control": "no-store"}


def _offer(check, offer: str, token: str, status: int = 200):
    store = get_store()
    invite = check.invite
    inviter = store.sharing.names([invite.created_by]).get(invite.created_by) if invite.created_by else None
    return render_template("sharing/invite.html", gone=None, check=check, offer=offer, token=token,
                           account=store.accounts.get(invite.account_id), inviter=inviter,
                           role_names=role_names(), role_help=role_help()), status, {
        "Cache-Control": "no-store"}


@bp.get("/invite/<token>")
def invite(token: str):
    """What the link offers, with an Accept button; logged out: log in first."""
    check = core_sharing.check_invite(get_core(), token)
    if check is None:
        return _gone(404)
    if check.status != "ok":
        return _gone(410)
    if not session.get("person_id"):
        return redirect(url_for("auth.auth", next=request.path))
    return _offer(check, core_sharing.offer_for(get_core(), check, session["person_id"]), token)


@bp.post("/invite/<token>/accept")
def accept(token: str):
    person_id = logged_in_person()
    outcome, account_id = core_sharing.accept_invite(get_core(), token, person_id)
    if outcome == "unknown":
        return _gone(404)
    if outcome in ("expired", "used", "revoked"):
        return _gone(410)
    if outcome in ("own", "already"):
        return _offer(core_sharing.check_invite(get_core(), token), outcome, token, 409)
    session["account_id"] = account_id
    flash(_("The account is now shared with you."), "info")
    return redirect(url_for("dashboard.overview"), code=303)
