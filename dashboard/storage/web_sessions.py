"""Browser sessions: the row behind each session cookie (its hash is the key)."""

from __future__ import annotations

import json
from collections import namedtuple
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update

from .database import Database, DriverQuery
from .models import WebSession, utcnow

#: Read on every request with a session cookie: built once, run on the
#: driver's cursor (an ORM ``get`` cost several times the query itself).
_LOAD = DriverQuery(select(WebSession.__table__).where(WebSession.id == bindparam("sid_hash")),
                    binds=("sid_hash",), convert=("created_at", "last_seen_at"))
SessionRow = namedtuple("SessionRow", _LOAD.columns)


class SessionStore:
    def __init__(self, database: Database):
        self.database = database

    def load(self, sid_hash: str) -> SessionRow | None:
        """The session's row (``id``, ``data``, ``created_at``, ``last_seen_at``), or None."""
        rows = _LOAD.rows(self.database.engine, sid_hash=sid_hash)
        return SessionRow(*rows[0]) if rows else None

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
