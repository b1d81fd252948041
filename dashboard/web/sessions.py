"""Server-side sessions: the cookie carries a random id, the database the rest.

Flask's default session cookie is signed, not encrypted, and cannot be
revoked. Here the cookie holds 32 random bytes; the table holds their
SHA-256, the session's data and its age, so logging out deletes the row and
a stolen database does not yield working cookies. The id is replaced at
login (no fixation) and the session ends after an idle and an absolute
lifetime, both settings.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta

from flask import request, session
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from dashboard.storage.models import utcnow

#: Keys that alone are nothing to keep: every page's forms make a CSRF token,
#: and an anonymous visitor's page views must not each leave a database row
#: and a 30-day cookie. A session is stored from its first real key on (a
#: login started, a language chosen, a message to show).
VOLATILE_KEYS = frozenset({"csrf_token"})

#: ``last_seen_at`` is written at most this often, so browsing does not
#: turn every page view into a database write.
TOUCH_INTERVAL = timedelta(minutes=5)


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, initial=None, sid=None, new=False, touch=False):
        def on_update(_self):
            _self.modified = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.new = new
        self.modified = False
        self.touch = touch
        self.regenerate = False


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def regenerate_session() -> None:
    """Give this session a new id at the end of the request (login, logout)."""
    session.regenerate = True
    session.modified = True


class DatabaseSessionInterface(SessionInterface):
    def __init__(self, store_getter):
        self._store = lambda app: store_getter(app).web_sessions

    def open_session(self, app, request):
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > 128:
            return ServerSession(new=True)
        store = self._store(app)
        row = store.load(_hash(sid))
        if row is None:
            return ServerSession(new=True)
        if self._expired(app, row):
            store.delete(row.id)
            return ServerSession(new=True)
        try:
            data = json.loads(row.data)
        except ValueError:
            data = {}
        touch = utcnow() - row.last_seen_at > TOUCH_INTERVAL
        return ServerSession(data, sid=sid, touch=touch)

    @staticmethod
    def _expired(app, row) -> bool:
        now = utcnow()
        idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
        absolute = timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"])
        return now - row.last_seen_at > idle or now - row.created_at > absolute

    def save_session(self, app, session, response):
        store = self._store(app)
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        if session.sid and (session.regenerate or not session):
            if session.modified or session.regenerate:
                store.delete(_hash(session.sid))
                if not session:
                    response.delete_cookie(name, domain=domain, path=path)
                    return
                session.sid = None
        if not session or not session.sid and set(session) <= VOLATILE_KEYS:
            return
        if not session.sid:
            session.sid = secrets.token_urlsafe(32)
            session.modified = True
        if session.modified:
            store.save(
                _hash(session.sid), dict(session), session.get("person_id"), touch=True
            )
        elif session.touch:
            store.touch(_hash(session.sid))
        else:
            return
        response.set_cookie(
            name,
            session.sid,
            max_age=app.config["SESSION_ABSOLUTE_HOURS"] * 3600,
            httponly=True,
            # Secure when configured, and always when this request came over https.
            secure=self.get_cookie_secure(app) or request.is_secure,
            samesite=self.get_cookie_samesite(app) or "Lax",
            domain=domain,
            path=path,
        )
