"""Sharing an account: roles on every route, invite links, and the sharing page.

One app and one database; the people and their access are built through the
stores (no OAuth flows): an owner, a manager, a viewer, a stranger with an
account of their own, and a visitor who is not logged in.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from flask import url_for
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from dashboard.core import sharing as core_sharing
from dashboard.storage.models import AccountInvite, AccountMember, Alert, Base, Video, utcnow
from tests.conftest import SECRET, consent
from tests.sync_helpers import connect, open_id

TEAM_NAME = "Team Account Zqx"
SECRET_TITLE = "Secret video title Qqv"
VIDEO_ID = "7300000000000000001"


@dataclass
class Team:
    app: object
    account_id: int
    owner: int
    manager: int
    viewer: int
    stranger: int
    stranger_account: int
    report_token: str

    @property
    def store(self):
        return self.app.extensions["core"].store


def _person_with_account(store, open_id: str, name: str, username: str) -> tuple[int, int]:
    person_id, account_id = store.accounts.connect(None, open_id, "user.info.basic,video.list")
    store.accounts.update_profile(account_id, {"display_name": name, "username": username})
    return person_id, account_id


def build_team(app) -> Team:
    store = app.extensions["core"].store
    owner, account_id = _person_with_account(store, "open-owner", TEAM_NAME, "team_zqx")
    manager, _ = _person_with_account(store, "open-manager", "Mia Manager", "mia")
    viewer, _ = _person_with_account(store, "open-viewer", "Vic Viewer", "vic")
    stranger, stranger_account = _person_with_account(store, "open-stranger", "Sam Stranger", "sam")
    store.sharing.add_member(account_id, manager, "manager", owner)
    store.sharing.add_member(account_id, viewer, "viewer", owner)
    now = utcnow()
    with store.session() as db:
        db.add(Video(account_id=account_id, video_id=VIDEO_ID, create_time=now - timedelta(days=3),
                     title=SECRET_TITLE, view_count=10, first_seen_at=now, last_seen_at=now))
        db.add(Alert(account_id=account_id, rule="video_gone", key="video_gone:1", subject=SECRET_TITLE,
                     numbers="{}", occurred_at=now))
    app.extensions["core"].media.save("avatar", account_id, "avatar", b"\xff\xd8\xff-team-avatar")
    app.extensions["core"].media.save("cover", account_id, VIDEO_ID, b"\xff\xd8\xff-team-avatar")
    report = store.reports.create(account_id, owner, now.date(), now.date(), "en", "UTC")
    return Team(app, account_id, owner, manager, viewer, stranger, stranger_account, report.token)


@pytest.fixture
def team(make_app):
    # CSRF stays on: every POST carries a real token, so a refusal is the role check's.
    return build_team(make_app(QUEUE_IMMEDIATE=False))


def _masked_csrf(raw: str) -> str:
    """The form token the pages would carry for a session whose raw CSRF value is ``raw``."""
    signed = URLSafeTimedSerializer(SECRET, salt="wtf-csrf-token").dumps(raw).encode()
    pad = secrets.token_bytes(len(signed))
    return base64.urlsafe_b64encode(pad + bytes(a ^ b for a, b in zip(pad, signed, strict=True))).decode()


def as_person(client, person_id: int | None, account_id: int | None) -> str:
    """Make the client's session that person's, with that account selected; its CSRF token."""
    raw = secrets.token_hex(20)
    with client.session_transaction() as session:
        session.clear()
        session["csrf_token"] = raw
        if person_id:
            session.update(person_id=person_id, account_id=account_id)
    return _masked_csrf(raw)


def team_state(team: Team) -> dict:
    """Everything stored about the team's account, and the job queue's length."""
    state = {}
    with team.store.session() as db:
        for table in Base.metadata.sorted_tables:
            column = table.c.get("account_id") if table.name != "accounts" else table.c.id
            if column is not None:
                state[table.name] = sorted(map(tuple, db.execute(select(table).where(
                    column == team.account_id)).all()), key=repr)
    state["queue"] = team.app.extensions["jobs"].huey.pending_count()
    state["avatar"] = team.app.extensions["core"].media.has("avatar", team.account_id, "avatar")
    return state


# --- every route, with every person ------------------------------------------------------------

#: What each route needs on the team's account. ``account``: anyone below gets
#: 401, 403 or 404 (or, on a GET with a lost account selected, a redirect to
#: another). ``soft``: a page or form of the person's own (any status) that must
#: show or change nothing of the team's account below that role. ``public``:
#: needs no role and never shows or changes the account (tokens here are wrong).
ACCESS = {
    "static": ("viewer", "public"),
    "dashboard.favicon": ("viewer", "public"),
    "review.privacy": ("viewer", "public"),
    "review.terms": ("viewer", "public"),
    "review.setup": ("viewer", "public"),
    "auth.auth": ("viewer", "public"),
    "auth.callback": ("viewer", "public"),
    "auth.logout": ("viewer", "public"),
    "dashboard.set_language": ("viewer", "public"),
    "dashboard.set_timezone": ("viewer", "public"),
    "webhooks.tiktok": ("viewer", "public"),
    "settings.confirm": ("viewer", "public"),
    "settings.confirm_post": ("viewer", "public"),
    "settings.unsubscribe": ("viewer", "public"),
    "settings.unsubscribe_post": ("viewer", "public"),
    "sharing.invite": ("viewer", "public"),
    "sharing.accept": ("viewer", "public"),
    "research.index": ("viewer", "public"),
    "research.ads": ("viewer", "public"),
    "research.build": ("viewer", "public"),
    "research.lookup": ("viewer", "public"),
    "research.saved_query": ("viewer", "public"),
    "research.run": ("viewer", "public"),
    "research.export": ("viewer", "public"),
    "research.control": ("viewer", "public"),
    "dashboard.overview": ("viewer", "soft"),
    "settings.index": ("viewer", "soft"),
    "alerts.index": ("viewer", "soft"),
    "sharing.index": ("viewer", "soft"),
    "alerts.read_all": ("manager", "soft"),
    "dashboard.videos": ("viewer", "account"),
    "dashboard.video": ("viewer", "account"),
    "dashboard.analytics": ("viewer", "account"),
    "dashboard.sync_status_json": ("viewer", "account"),
    "dashboard.avatar": ("viewer", "account"),
    "dashboard.cover": ("viewer", "account"),
    "dashboard.switch_account": ("viewer", "account"),
    "exports.index": ("viewer", "account"),
    "exports.videos": ("viewer", "account"),
    "exports.history": ("viewer", "account"),
    "reports.form": ("viewer", "account"),
    "reports.create": ("viewer", "account"),
    "reports.status": ("viewer", "account"),
    "reports.download": ("viewer", "account"),
    "sharing.leave": ("viewer", "account"),
    "dashboard.sync_now": ("manager", "account"),
    "alerts.settings_page": ("manager", "account"),
    "alerts.save_rules": ("manager", "account"),
    "alerts.save_webhook": ("manager", "account"),
    "settings.save_email": ("manager", "account"),
    "settings.resend_confirmation": ("manager", "account"),
    "dashboard.confirm_delete": ("owner", "account"),
    "dashboard.delete_account": ("owner", "account"),
    "sharing.create_invite": ("owner", "account"),
    "sharing.revoke_invite": ("owner", "account"),
    "sharing.change_role": ("owner", "account"),
    "sharing.remove_member": ("owner", "account"),
    "settings.save_engagement": ("viewer", "public"),  # the person's own choice
    "compare.page": ("viewer", "soft"),  # the person's own accounts, checked per id
    "compare.export_csv": ("viewer", "soft"),
    "compare.export_json": ("viewer", "soft"),
    "compare.make_pdf": ("viewer", "soft"),  # queues a report of the person's own chosen accounts
    "studio_import.index": ("manager", "account"),
    "studio_import.upload": ("manager", "account"),
    "studio_import.confirm": ("manager", "account"),
}
#: POSTs whose success would end the walk's setup; their allowed use has tests of its own.
NOT_REPLAYED = {"dashboard.delete_account", "sharing.leave", "auth.logout"}
RANK = {None: -1, "viewer": 0, "manager": 1, "owner": 2}


def _url(app, rule, team: Team) -> str:
    values = {"account_id": team.account_id, "video_id": VIDEO_ID, "fmt": "csv", "run_id": 1,
              "filename": "app.css", "token": "x" * 43}
    if rule.endpoint.startswith("reports."):
        values["token"] = team.report_token
    with app.test_request_context():
        return url_for(rule.endpoint, **{k: v for k, v in values.items() if k in rule.arguments})


def _forms(team: Team) -> dict:
    """The fields a route needs to reach its check (the rest post empty forms). The
    member whose role changes, or who is removed, is a fifth person, so the
    walk's own people keep their roles to the end."""
    extra = team.store.accounts.connect(None, "open-extra", "")[0]
    team.store.sharing.add_member(team.account_id, extra, "viewer", team.owner)
    return {"dashboard.switch_account": {"account_id": str(team.account_id)},
            "sharing.create_invite": {"role": "manager"},
            "sharing.change_role": {"person_id": str(extra), "role": "manager"},
            "sharing.remove_member": {"person_id": str(extra)}}


@pytest.mark.slow  # about 250 requests, a few seconds
def test_every_route_gives_each_person_no_more_than_their_role(team):
    app = team.app
    rules = [r for r in app.url_map.iter_rules()]
    unclassified = {r.endpoint for r in rules} - set(ACCESS)
    assert not unclassified, f"classify these routes in ACCESS: {sorted(unclassified)}"
    actors = {  # name: (person, selected account, role on the team's account)
        "anonymous": (None, None, None),
        "stranger": (team.stranger, team.account_id, None),  # a forged or stale selection
        "viewer": (team.viewer, team.account_id, "viewer"),
        "manager": (team.manager, team.account_id, "manager"),
        "owner": (team.owner, team.account_id, "owner"),
    }
    forms = _forms(team)
    client = app.test_client()
    known = None  # the state after the last refused request: nothing since may change it
    for rule in sorted(rules, key=lambda r: r.rule):
        needs, kind = ACCESS[rule.endpoint]
        url = _url(app, rule, team)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for name, (person, selected, role) in actors.items():
                allowed = RANK[role] >= RANK[needs]
                if allowed and method == "POST" and (rule.endpoint in NOT_REPLAYED or kind == "public"):
                    continue
                token = as_person(client, person, selected)
                before = None if allowed else known or team_state(team)
                if method == "GET":
                    response = client.get(url)
                else:
                    response = client.post(url, data={"csrf_token": token, **forms.get(rule.endpoint, {})})
                where = f"{name} {method} {url} -> {response.status_code}"
                assert response.status_code < 500, where
                body = response.get_data()
                if allowed:
                    known = None
                    if method == "GET" and kind == "account":
                        assert response.status_code in (200, 302), where
                    continue
                known = team_state(team)
                assert known == before, where
                assert TEAM_NAME.encode() not in body and SECRET_TITLE.encode() not in body, where
                assert b"team-avatar" not in body, where
                if kind == "account":
                    stale = method == "GET" and response.status_code == 302 and person and \
                        response.headers["Location"].endswith("/")
                    assert response.status_code in (401, 403, 404) or stale, where
    assert [team.store.accounts.role_of(p, team.account_id) for p, _a, _r in actors.values()] == [
        r for _p, _a, r in actors.values()]


def test_a_viewer_cannot_sync_and_nothing_is_queued(team):
    client = team.app.test_client()
    token = as_person(client, team.viewer, team.account_id)
    before = team_state(team)
    assert client.post("/sync", data={"csrf_token": token}).status_code == 403
    assert team_state(team) == before
    assert team.store.accounts.get(team.account_id).sync_queued_at is None


def test_a_manager_syncs_but_cannot_delete_or_share(team):
    client = team.app.test_client()
    token = as_person(client, team.manager, team.account_id)
    assert client.post("/sync", data={"csrf_token": token}).status_code == 303
    assert team.store.accounts.get(team.account_id).sync_queued_at is not None
    assert client.post("/account/delete", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/sharing/{team.account_id}/invites",
                       data={"csrf_token": token, "role": "viewer"}).status_code == 403
    assert team.store.accounts.get(team.account_id) is not None
    assert team.store.sharing.pending_invites(team.account_id) == []


def test_only_the_owner_deletes_and_the_memberships_and_invites_go_with_the_account(team):
    core_sharing.create_invite(team.app.extensions["core"], team.account_id, "viewer", team.owner)
    client = team.app.test_client()
    token = as_person(client, team.owner, team.account_id)
    assert client.post("/account/delete", data={"csrf_token": token}).status_code == 302
    assert team.store.accounts.get(team.account_id) is None
    with team.store.session() as db:
        for model in (AccountMember, AccountInvite):
            assert db.scalars(select(model).where(model.account_id == team.account_id)).all() == []
    # The owner still has nothing else, the viewer falls back to their own account.
    viewer = team.app.test_client()
    as_person(viewer, team.viewer, team.account_id)
    response = viewer.get("/videos")
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
    page = viewer.get("/").get_data(as_text=True)
    assert "Vic Viewer" in page and "You no longer have access to that account." in page


def test_the_switcher_lists_shared_accounts_with_the_role(team):
    client = team.app.test_client()
    as_person(client, team.viewer, team.account_id)
    page = client.get("/").get_data(as_text=True)
    assert f"{TEAM_NAME} (viewer)" in page and "Vic Viewer" in page
    assert "Shared with you as viewer." in page
    assert 'action="/sync"' not in page and "/account/disconnect" not in page
    assert [(a.id, role) for a, role in team.store.accounts.visible_to(team.viewer)] == [
        (team.store.accounts.by_open_id("open-viewer").id, "owner"), (team.account_id, "viewer")]


def test_role_of_names_each_persons_role(team):
    role_of = team.store.accounts.role_of
    assert [role_of(p, team.account_id) for p in (team.owner, team.manager, team.viewer, team.stranger)] == [
        "owner", "manager", "viewer", None]
    assert role_of(None, team.account_id) is None and role_of(team.owner, 2**31) is None
    assert role_of(team.owner, team.account_id + 999) is None


# --- invites -----------------------------------------------------------------------------------


def _invite(team: Team, role: str = "viewer", now=None) -> str:
    _row, token = core_sharing.create_invite(team.app.extensions["core"], team.account_id, role,
                                             team.owner, now=now)
    return token


def test_an_invite_link_is_shown_once_and_only_its_hash_is_stored(team):
    client = team.app.test_client()
    token = as_person(client, team.owner, team.account_id)
    response = client.post(f"/sharing/{team.account_id}/invites",
                           data={"csrf_token": token, "role": "manager"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    link = re.search(r'value="(http://localhost:5000/invite/[^"]+)"', page).group(1)
    secret = link.rsplit("/", 1)[1]
    with team.store.session() as db:
        [row] = db.scalars(select(AccountInvite)).all()
    assert row.token_hash != secret and len(row.token_hash) == 64 and row.role == "manager"
    again = client.get("/sharing").get_data(as_text=True)
    assert secret not in again and "For a manager" in again


def test_an_invite_opened_logged_out_goes_through_the_login_and_back(team):
    token = _invite(team)
    client = team.app.test_client()
    response = client.get(f"/invite/{token}")
    assert response.status_code == 302
    assert "/auth?next=/invite/" in response.headers["Location"]


def test_an_invite_shows_the_offer_and_a_get_changes_nothing(team):
    token = _invite(team, "manager")
    client = team.app.test_client()
    as_person(client, team.stranger, team.stranger_account)
    before = team_state(team)
    page = client.get(f"/invite/{token}").get_data(as_text=True)
    assert TEAM_NAME in page and "Team Account Zqx" in page and "manager" in page
    assert "@team_zqx" in page  # who invited: the owner's own account
    assert team_state(team) == before


def test_an_invite_works_once(team):
    token = _invite(team, "viewer")
    client = team.app.test_client()
    csrf = as_person(client, team.stranger, team.stranger_account)
    response = client.post(f"/invite/{token}/accept", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert team.store.accounts.role_of(team.stranger, team.account_id) == "viewer"
    with client.session_transaction() as session:
        assert session["account_id"] == team.account_id
    other = team.app.test_client()
    csrf = as_person(other, team.owner, None)
    _p, newcomer_account = _person_with_account(team.store, "open-new", "Nia New", "nia")
    newcomer = team.store.accounts.get(newcomer_account).person_id
    csrf = as_person(other, newcomer, newcomer_account)
    response = other.post(f"/invite/{token}/accept", data={"csrf_token": csrf})
    assert response.status_code == 410 and TEAM_NAME not in response.get_data(as_text=True)
    assert team.store.accounts.role_of(newcomer, team.account_id) is None
    assert other.get(f"/invite/{token}").status_code == 410


def test_an_expired_invite_is_gone(team):
    token = _invite(team, now=utcnow() - core_sharing.INVITE_LIFETIME - timedelta(seconds=1))
    client = team.app.test_client()
    csrf = as_person(client, team.stranger, team.stranger_account)
    assert client.get(f"/invite/{token}").status_code == 410
    assert client.post(f"/invite/{token}/accept", data={"csrf_token": csrf}).status_code == 410
    assert team.store.accounts.role_of(team.stranger, team.account_id) is None


def test_a_revoked_invite_is_gone_and_only_the_owner_revokes(team):
    token = _invite(team)
    [invite] = team.store.sharing.pending_invites(team.account_id)
    client = team.app.test_client()
    csrf = as_person(client, team.manager, team.account_id)
    assert client.post(f"/sharing/{team.account_id}/invites/revoke",
                       data={"csrf_token": csrf, "invite_id": str(invite.id)}).status_code == 403
    csrf = as_person(client, team.owner, team.account_id)
    assert client.post(f"/sharing/{team.account_id}/invites/revoke",
                       data={"csrf_token": csrf, "invite_id": str(invite.id)}).status_code == 303
    assert team.store.sharing.pending_invites(team.account_id) == []
    csrf = as_person(client, team.stranger, team.stranger_account)
    assert client.get(f"/invite/{token}").status_code == 410
    assert client.post(f"/invite/{token}/accept", data={"csrf_token": csrf}).status_code == 410


@pytest.mark.parametrize("token", ["x" * 43, "a" * 65, "%00", "ü" * 10])
def test_an_unknown_invite_is_not_found(team, token):
    client = team.app.test_client()
    csrf = as_person(client, team.stranger, team.stranger_account)
    assert client.get(f"/invite/{token}").status_code == 404
    assert client.post(f"/invite/{token}/accept", data={"csrf_token": csrf}).status_code == 404


def test_the_owner_or_a_member_accepting_gets_a_clear_message_and_the_invite_stays(team):
    token = _invite(team, "manager")
    client = team.app.test_client()
    csrf = as_person(client, team.owner, team.account_id)
    response = client.post(f"/invite/{token}/accept", data={"csrf_token": csrf})
    assert response.status_code == 409 and "This is your own account" in response.get_data(as_text=True)
    csrf = as_person(client, team.viewer, team.account_id)
    response = client.post(f"/invite/{token}/accept", data={"csrf_token": csrf})
    assert response.status_code == 409 and "You have access to this account already" in response.get_data(
        as_text=True)
    assert team.store.accounts.role_of(team.viewer, team.account_id) == "viewer"
    assert len(team.store.sharing.pending_invites(team.account_id)) == 1


# --- the sharing page --------------------------------------------------------------------------


def test_the_owner_sees_who_has_access_and_a_member_does_not(team):
    client = team.app.test_client()
    as_person(client, team.owner, team.account_id)
    page = client.get("/sharing").get_data(as_text=True)
    assert "Mia Manager @mia" in page and "Vic Viewer @vic" in page
    as_person(client, team.manager, team.account_id)
    page = client.get("/sharing").get_data(as_text=True)
    assert "Vic Viewer" not in page and TEAM_NAME in page and "Leave" in page


def test_a_person_without_an_account_is_named_so(team):
    store = team.store
    lone = store.accounts.connect(None, "open-lone", "")[0]
    store.sharing.add_member(team.account_id, lone, "viewer", team.owner)
    store.accounts.delete(store.accounts.by_open_id("open-lone").id)  # their own account goes
    assert store.accounts.role_of(lone, team.account_id) == "viewer"  # the person stays, with access
    client = team.app.test_client()
    as_person(client, team.owner, team.account_id)
    assert "a person without a connected account" in client.get("/sharing").get_data(as_text=True)


def test_the_owner_changes_a_role(team):
    client = team.app.test_client()
    csrf = as_person(client, team.owner, team.account_id)
    response = client.post(f"/sharing/{team.account_id}/members/role",
                           data={"csrf_token": csrf, "person_id": str(team.viewer), "role": "manager"})
    assert response.status_code == 303
    assert team.store.accounts.role_of(team.viewer, team.account_id) == "manager"
    for bad in ("owner", "admin", ""):
        assert client.post(f"/sharing/{team.account_id}/members/role", data={
            "csrf_token": csrf, "person_id": str(team.viewer), "role": bad}).status_code == 400
    assert team.store.accounts.role_of(team.viewer, team.account_id) == "manager"


def test_the_owner_removes_a_member_and_their_session_falls_back(team):
    member = team.app.test_client()
    as_person(member, team.manager, team.account_id)
    team.store.mail.save(team.manager, team.account_id, email="mia@example.com", lang="en", tz="UTC",
                         frequency="weekly", weekday=0, hour=8)
    client = team.app.test_client()
    csrf = as_person(client, team.owner, team.account_id)
    response = client.post(f"/sharing/{team.account_id}/members/remove",
                           data={"csrf_token": csrf, "person_id": str(team.manager)})
    assert response.status_code == 303
    assert team.store.accounts.role_of(team.manager, team.account_id) is None
    assert team.store.mail.address(team.manager, team.account_id) is None  # no more digests
    assert member.get("/analytics").status_code == 302
    with member.session_transaction() as session:
        assert session["account_id"] == team.store.accounts.by_open_id("open-manager").id


def test_a_member_leaves_and_a_person_with_nothing_left_lands_on_the_login_page(team):
    store = team.store
    lone = store.accounts.connect(None, "open-lone", "")[0]
    store.sharing.add_member(team.account_id, lone, "viewer", team.owner)
    store.accounts.delete(store.accounts.by_open_id("open-lone").id)
    client = team.app.test_client()
    csrf = as_person(client, lone, team.account_id)
    assert client.post(f"/sharing/{team.account_id}/leave", data={"csrf_token": csrf}).status_code == 303
    assert store.accounts.role_of(lone, team.account_id) is None
    page = client.get("/")
    assert page.status_code == 200 and "/auth" in page.get_data(as_text=True)
    assert client.get("/videos").status_code == 401


def test_the_owner_cannot_leave_their_own_account(team):
    client = team.app.test_client()
    csrf = as_person(client, team.owner, team.account_id)
    assert client.post(f"/sharing/{team.account_id}/leave", data={"csrf_token": csrf}).status_code == 400
    assert team.store.accounts.get(team.account_id).person_id == team.owner


# --- end to end, through the sandbox's login -----------------------------------------------------


def test_a_second_person_invited_as_viewer_logs_in_accepts_and_cannot_sync_or_delete(make_app):
    app = make_app(SYNC_ON_CONNECT=False)
    core = app.extensions["core"]
    account_id = connect(app, "creator")
    owner = core.store.accounts.get(account_id).person_id
    _row, token = core_sharing.create_invite(core, account_id, "viewer", owner)
    client = app.test_client()

    to_login = client.get(f"/invite/{token}")
    assert to_login.status_code == 302
    to_tiktok = client.get(to_login.headers["Location"])
    back = urlsplit(consent(to_tiktok.headers["Location"], account="second"))
    landed = client.get(back.path + "?" + back.query)
    assert landed.status_code == 302 and landed.headers["Location"] == f"/invite/{token}"
    offer = client.get(f"/invite/{token}").get_data(as_text=True)
    assert "Accept" in offer
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', offer).group(1)
    assert client.post(f"/invite/{token}/accept", data={"csrf_token": csrf}).status_code == 303

    viewer = core.store.accounts.by_open_id(open_id("second")).person_id
    assert viewer != owner and core.store.accounts.role_of(viewer, account_id) == "viewer"
    assert client.get("/videos").status_code == 200
    assert client.post("/sync", data={"csrf_token": csrf}).status_code == 403
    assert client.get("/account/disconnect").status_code == 403
    assert client.post("/account/delete", data={"csrf_token": csrf}).status_code == 403
    assert core.store.accounts.get(account_id) is not None


def test_the_sharing_page_speaks_chinese(team):
    client = team.app.test_client()
    as_person(client, team.owner, team.account_id)
    with client.session_transaction() as session:
        session["lang"] = "zh"
    page = client.get("/sharing").get_data(as_text=True)
    assert "谁有访问权限" in page and "生成邀请链接" in page and "查看者" in page


def test_an_invite_link_points_at_public_base_url_when_it_is_set(make_app):
    app = make_app(PUBLIC_BASE_URL="https://dash.example.com/tiktok")
    team = build_team(app)
    client = app.test_client()
    csrf = as_person(client, team.owner, team.account_id)
    page = client.post(f"/sharing/{team.account_id}/invites",
                       data={"csrf_token": csrf, "role": "viewer"}).get_data(as_text=True)
    assert re.search(r'value="https://dash\.example\.com/tiktok/invite/[\w-]{43}"', page)


def test_when_tiktok_removes_access_only_the_owner_is_offered_to_reconnect_or_delete(team):
    team.store.accounts.mark_disconnected(team.account_id, utcnow(), 1)
    client = team.app.test_client()
    as_person(client, team.manager, team.account_id)
    page = client.get("/").get_data(as_text=True)
    assert "Its owner can reconnect it" in page and 'action="/account/delete"' not in page
    as_person(client, team.owner, team.account_id)
    page = client.get("/").get_data(as_text=True)
    assert "Log in with TikTok again" in page and 'action="/account/delete"' in page
