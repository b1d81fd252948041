"""The engine, the schema and units of work: the one place that opens the database."""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


def build_engine(url: str) -> Engine:
    """An engine for ``DATABASE_URL``; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def upgrade_schema(engine: Engine, lock_dir: str | None = None) -> None:
    """Bring the schema to the newest migration (Alembic), one process at a time.

    A database already there is told by one query, without loading Alembic:
    every command starts with this, and Alembic is a fifth of a start-up.
    """
    if current_revision(engine) == head_revision():
        return
    from alembic import command  # see above
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    lock_path = Path(lock_dir or ".") / ".migrate.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock, engine.begin() as connection:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at; None for a new (or unreadable) one."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


_REVISION = re.compile(r"^(down_revision|revision) = '([^']*)'", re.MULTILINE)


@cache
def head_revision() -> str:
    """The newest migration: the one no other migration names as its parent."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(_REVISION.findall(path.read_text(encoding="utf-8")))
        revisions.add(found["revision"])
        parents.add(found.get("down_revision"))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


class Database:
    """One engine and its units of work, shared by the storage modules."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        with self._sessions.begin() as db:
            yield db


class DriverQuery:
    """A Core SELECT compiled once per dialect and run straight on the
    driver's cursor, for the reads every page view makes (its session, its
    state, a page the worker stored).

    SQLAlchemy's execution (a cache key built from the whole statement, an
    execution context, a result object, a processor per value) was two
    thirds of those reads on a warm page. Here the SQL text and the order of
    its parameters are made on the first call; later calls bind the values
    and fetch plain tuples, in the statement's column order (:attr:`columns`
    names them), as the driver gives them: only the columns named in
    ``convert`` go through their type (SQLite keeps date-times as text).
    Expanding ``IN`` lists must be written into the statement
    (``in_(("a", "b"))``): only the names in ``binds`` are given per call,
    and their values reach the driver as they are: a bind whose type converts
    values (a date-time) is refused.
    """

    #: Statements run so far in this process: they bypass SQLAlchemy's events,
    #: so whoever counts queries adds these (the page bench does, on one thread;
    #: across threads the count is not exact).
    executed = 0

    def __init__(self, statement, *, binds: tuple[str, ...], convert: tuple[str, ...] = ()):
        self.statement = statement
        self.binds = binds
        self.columns = tuple(statement.selected_columns.keys())
        self.convert = tuple(self.columns.index(name) for name in convert)
        self._compiled: dict[str, tuple] = {}

    def rows(self, engine: Engine, **values) -> tuple[tuple, ...]:
        sql, order, fixed, processors = self._compiled.get(engine.dialect.name) or self._compile(engine)
        params = fixed | values
        parameters = tuple(params[name] for name in order) if order is not None else params
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, parameters)
                fetched = cursor.fetchall()
            finally:
                cursor.close()
        except BaseException as error:
            connection.invalidate()  # as SQLAlchemy would: never hand a broken connection on
            if isinstance(error, engine.dialect.loaded_dbapi.Error):  # SQLAlchemy's error, as ever
                raise DBAPIError.instance(sql, parameters, error, engine.dialect.loaded_dbapi.Error,
                                          dialect=engine.dialect) from error
            raise
        finally:
            connection.close()
        DriverQuery.executed += 1
        if not processors:
            return tuple(map(tuple, fetched))
        return tuple(self._converted(row, processors) for row in fetched)

    @staticmethod
    def _converted(row, processors) -> tuple:
        row = list(row)
        for index, process in processors:
            row[index] = process(row[index])
        return tuple(row)

    def _compile(self, engine: Engine) -> tuple:
        dialect = engine.dialect
        placeholders = dict.fromkeys(self.binds)
        compiled = self.statement.compile(dialect=dialect)
        for name in self.binds:
            if compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect):
                raise ValueError(f"{name} would be converted on its way in: not a driver query's")
        expanded = compiled.construct_expanded_state(placeholders)
        fixed = {k: v for k, v in expanded.parameters.items() if k not in placeholders}
        order = tuple(expanded.positiontup) if expanded.positiontup is not None else None
        if set(self.binds) - set(order if order is not None else expanded.parameters):
            raise ValueError("a per-call value must not expand the statement: name it in binds")
        processors = []
        for index in self.convert:
            column_type = self.statement.selected_columns[index].type
            process = column_type.dialect_impl(dialect).result_processor(dialect, None)
            if process is not None:
                processors.append((index, process))
        prepared = (expanded.statement, order, fixed, tuple(processors))
        self._compiled[dialect.name] = prepared
        return prepared
