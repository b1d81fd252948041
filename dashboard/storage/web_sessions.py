"""Browser sessions: the row behind each session cookie (its hash is the key)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update

from .database import Database
from .models import WebSession, utcnow

#: Read on every request with a session cookie: built once, run through Core
#: (an ORM ``get`` costs several times the query itself).
_LOAD = select(WebSession.__table__).where(WebSession.id == bindparam("sid_hash"))


class SessionStore:
    def __init__(self, database: Database):
        self.database = database

    def load(self, sid_hash: str):
        """The session's row (``id``, ``data``, ``created_at``, ``last_seen_at``), or None."""
        with self.database.engine.connect() as connection:
            return connection.execute(_LOAD, {"sid_hash": sid_hash}).first()

    def save(self, sid_hash: str, data: dict, person_id: int | None, touch: bool) -> None:
        with self.database.session() as db:
            row = db.get(WebSession, sid_hash)
            payload = json.dumps(data, separators=(",", ":"))
            if row is None:
                db.add(WebSession(id=sid_hash, data=payload, person_id=person_id))
                return
            row.data = payload
            row.person_id = person_id
            if touch:
                row.last_seen_at = utcnow()

    def touch(self, sid_hash: str) -> None:
        with self.database.session() as db:
            db.execute(update(WebSession).where(WebSession.id == sid_hash).values(last_seen_at=utcnow()))

    def delete(self, sid_hash: str) -> None:
        with self.database.session() as db:
            db.execute(delete(WebSession).where(WebSession.id == sid_hash))

    def purge(self, idle_before: datetime, created_before: datetime) -> int:
        """Delete every session idle since ``idle_before`` or created before ``created_before``."""
        with self.database.session() as db:
            result = db.execute(
                delete(WebSession).where(
                    (WebSession.last_seen_at < idle_before) | (WebSession.created_at < created_before)
                )
            )
            return result.rowcount
