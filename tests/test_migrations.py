"""Migrations: the schema the migrations build is the schema the models describe,
and upgrading again never touches what is stored."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from dashboard.storage.database import MIGRATIONS_DIR, upgrade_schema
from dashboard.storage.models import Base, Person
from tests.sync_helpers import store


def _drop_everything(engine) -> None:
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


def _head() -> str:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()


def _schema_diff(engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(context, Base.metadata)


def _schema(engine) -> dict:
    inspector = inspect(engine)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            sorted(i["name"] for i in inspector.get_indexes(table)),
            sorted(str(u["column_names"]) for u in inspector.get_unique_constraints(table)),
        )
        for table in sorted(inspector.get_table_names())
    }


def test_upgrade_from_an_empty_database_builds_exactly_the_models_schema(make_app, tmp_path):
    app = make_app(AUTO_MIGRATE=False)
    engine = store(app).engine
    _drop_everything(engine)
    assert inspect(engine).get_table_names() == []

    upgrade_schema(engine, str(tmp_path))

    assert _schema_diff(engine) == []
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            _head()]


def test_flask_db_upgrade_is_idempotent_and_keeps_the_data(make_app):
    app = make_app(AUTO_MIGRATE=False)
    engine = store(app).engine
    _drop_everything(engine)
    runner = app.test_cli_runner()

    first = runner.invoke(args=["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert "Database schema is up to date." in first.output
    schema = _schema(engine)
    with store(app).session() as db:
        db.add(Person())

    second = runner.invoke(args=["db", "upgrade"])

    assert second.exit_code == 0, second.output
    assert _schema(engine) == schema
    assert _schema_diff(engine) == []
    with store(app).session() as db:
        assert db.scalar(select(func.count()).select_from(Person)) == 1
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            _head()]


def test_starting_the_app_on_an_upgraded_database_changes_nothing(make_app):
    first = make_app()
    engine = store(first).engine
    schema = _schema(engine)
    with store(first).session() as db:
        db.add(Person())

    second = make_app()

    assert _schema(store(second).engine) == schema
    with store(second).session() as db:
        assert db.scalar(select(func.count()).select_from(Person)) == 1


def test_the_newest_migration_is_told_without_alembic_as_alembic_tells_it(app):
    from dashboard.storage.database import current_revision, head_revision

    assert head_revision() == _head()
    assert current_revision(store(app).engine) == _head()


def test_starting_on_a_database_at_the_newest_migration_does_not_load_alembic(tmp_path):
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    script = ("import sys; from sqlalchemy import create_engine;"
              "from dashboard.storage.database import upgrade_schema;"
              f"engine = create_engine({url!r}); upgrade_schema(engine, {str(tmp_path)!r});"
              "first = 'alembic' in sys.modules;"
              "[sys.modules.pop(m) for m in list(sys.modules) if m.startswith('alembic')];"
              f"upgrade_schema(engine, {str(tmp_path)!r}); print(first, 'alembic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=str(MIGRATIONS_DIR.parent), timeout=60)
    assert done.stdout.split() == ["True", "False"], done.stderr
