"""Connecting and disconnecting accounts: the parts of the flows that are not HTTP."""

from __future__ import annotations

import logging

from oauth_handler import ReauthRequired
from tiktok_official_api import TikTokAPIError, user_fields_for_scopes

from . import ingest
from .budget import BudgetTimeout
from .context import Core
from .jobs import Jobs

log = logging.getLogger(__name__)


def connect(core: Core, jobs: Jobs, person_id: int | None, token: dict, *,
            granted: str | None = None, first_sync: bool = True) -> tuple[int, int]:
    """Store a login's tokens for its account and queue the first sync.

    Returns (person_id, account_id). The scopes come from the token response
    (authoritative), else from what the callback said was granted.
    """
    scopes = token.get("scope") or granted or ""
    person_id, account_id = core.store.accounts.connect(person_id, token["open_id"], scopes)
    core.store.tokens.save(account_id, token)
    log.info("account %s connected", account_id)
    if first_sync:
        _read_profile(core, account_id, scopes)
        jobs.request_sync(account_id)
    return person_id, account_id


def _read_profile(core: Core, account_id: int, scopes: str) -> None:
    """One user-info call, so the first page names the account while the first
    sync runs in the background; a failure leaves that to the sync."""
    fields = user_fields_for_scopes({s.strip() for s in scopes.split(",") if s.strip()})
    try:
        user = core.tokens.call(account_id, lambda c: c.get_user_info(fields))
    except (TikTokAPIError, ReauthRequired, BudgetTimeout) as exc:
        log.info("profile of account %s not read at connect: %s", account_id, getattr(exc, "code", "reauth"))
        return
    core.store.accounts.update_profile(account_id, ingest.profile_row(user))


def disconnect(core: Core, jobs: Jobs, account_id: int) -> None:
    """Revoke the account's token at TikTok in the background (it travels to the
    job encrypted) and delete everything stored for the account now."""
    token = core.store.tokens.load(account_id)
    if token is not None:  # queued first: if the queue fails, nothing is deleted yet
        jobs.request_revoke(token.access_token)
    core.store.accounts.delete(account_id)
    core.media.delete_account(account_id)
    log.info("account %s disconnected and deleted", account_id)
