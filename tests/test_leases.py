"""Leases: a holder whose lease ran out can neither extend nor free its successor's."""

from datetime import timedelta

from sqlalchemy import update

from dashboard.storage.models import Account, utcnow
from dashboard.web.context import get_store
from tests.conftest import login


def _expire_lease(store, account_id):
    with store.session() as db:
        db.execute(update(Account).where(Account.id == account_id)
                   .values(sync_locked_until=utcnow() - timedelta(seconds=1)))


def test_a_stale_holder_cannot_renew_or_free_the_next_holders_lease(client, app):
    login(client)
    with app.app_context():
        store = get_store()
        account_id = store.accounts.all()[0].id
        first = store.runs.try_lock("sync", account_id, 60)
        assert first is not None
        assert store.runs.try_lock("sync", account_id, 60) is None
        _expire_lease(store, account_id)
        with store.session() as db:
            expired = db.get(Account, account_id).sync_locked_until
        second = store.runs.try_lock("sync", account_id, 60)
        assert second is not None
        assert store.runs.renew_lock("sync", account_id, 60, expired) is None
        store.runs.unlock("sync", account_id, expired)
        assert store.runs.try_lock("sync", account_id, 60) is None, "the stale holder freed the lease"
        renewed = store.runs.renew_lock("sync", account_id, 60, second)
        assert renewed is not None
        store.runs.unlock("sync", account_id, renewed)
        assert store.runs.try_lock("sync", account_id, 60) is not None
