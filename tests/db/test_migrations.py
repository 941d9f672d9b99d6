"""Migrations go down and up again on both databases, and leave the schema the models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from api.db.migrate import downgrade, upgrade
from api.db.models import Base
from gis.codes import DEFAULT_COUNTY_SRID
from tests.conftest import Database


def _indexes(db: Database, table: str) -> set[str]:
    return {ix["name"] for ix in inspect(db.engine).get_indexes(table) if ix["name"]}


def test_recent_migrations_round_trip(db: Database):
    assert "ix_cases_scanned_at" in _indexes(db, "cases")
    downgrade(db.engine, "0003")
    assert "ix_cases_scanned_at" not in _indexes(db, "cases")
    assert "phash" not in {c["name"] for c in inspect(db.engine).get_columns("photos")}
    upgrade(db.engine, srid=DEFAULT_COUNTY_SRID)
    assert "ix_cases_scanned_at" in _indexes(db, "cases")
    assert "phash" in {c["name"] for c in inspect(db.engine).get_columns("photos")}


def test_every_model_index_exists_after_migrating(db: Database):
    for table in Base.metadata.sorted_tables:
        wanted = {ix.name for ix in table.indexes if ix.name and not ix.name.startswith("idx_")}
        assert wanted <= _indexes(db, table.name), table.name


def _ours(_obj: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
    """Compare only the application's tables; SpatiaLite's metadata and spatial indexes are not ours."""
    if type_ == "table":
        return name in Base.metadata.tables
    return not (type_ == "index" and name is not None and name.startswith("idx_"))


def test_migrations_build_exactly_the_models_schema(db: Database):
    # What `alembic revision --autogenerate` would write: nothing, but for the one thing SQLite cannot do.
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _ours, "compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    if db.backend == "spatialite":  # no foreign key can be added to an existing SQLite table (see 0006)
        diffs = [d for d in diffs if not (isinstance(d, tuple) and d[0] == "add_fk")]
    assert diffs == []
