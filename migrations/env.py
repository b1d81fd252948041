"""Alembic environment: runs on the connection the app hands over.

``flask db upgrade`` and the app's start-up both call
``store.upgrade_schema``, which passes its open connection in
``config.attributes["connection"]``. Run from the shell, Alembic builds the
engine from ``DATABASE_URL`` the same way the app does.
"""

from alembic import context

from dashboard.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection):
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    import os

    from config import normalize_database_url
    from dashboard.storage.database import build_engine

    engine = build_engine(normalize_database_url(os.environ["DATABASE_URL"]))
    with engine.begin() as conn:
        _run(conn)
