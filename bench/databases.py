"""A throwaway database for one benchmark run, shared by the bench scripts."""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit


@contextmanager
def throwaway_database(url: str | None, workdir: Path, prefix: str = "bench"):
    """SQLite in ``workdir``, or a new database on the PostgreSQL server of ``url``, dropped after."""
    if not url:
        yield f"sqlite:///{workdir / 'dashboard.sqlite3'}"
        return
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://").replace("postgres://", "postgresql://")
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(plain, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(plain)._replace(path="/" + name).geturl()
    finally:
        with psycopg.connect(plain, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
