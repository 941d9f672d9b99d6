"""Migrations go down and up again on both databases, and leave the schema the models describe."""

from __future__ import annotations

from sqlalchemy import inspect

from api.migrate import downgrade, upgrade
from api.models import Base
from tests.conftest import Database


def _indexes(db: Database, table: str) -> set[str]:
    return {ix["name"] for ix in inspect(db.engine).get_indexes(table) if ix["name"]}


def test_recent_migrations_round_trip(db: Database):
    assert "ix_cases_scanned_at" in _indexes(db, "cases")
    downgrade(db.engine, "0003")
    assert "ix_cases_scanned_at" not in _indexes(db, "cases")
    assert "phash" not in {c["name"] for c in inspect(db.engine).get_columns("photos")}
    upgrade(db.engine)
    assert "ix_cases_scanned_at" in _indexes(db, "cases")
    assert "phash" in {c["name"] for c in inspect(db.engine).get_columns("photos")}


def test_every_model_index_exists_after_migrating(db: Database):
    for table in Base.metadata.sorted_tables:
        wanted = {ix.name for ix in table.indexes if ix.name and not ix.name.startswith("idx_")}
        assert wanted <= _indexes(db, table.name), table.name
