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


def test_findings_handled_before_the_finding_chain_get_their_handling_as_its_first_events(db: Database):
    """Revision 0018 starts the finding audit chain; a finding handled before it keeps its handling, as an event at
    the time it was handled, under the name of who handled it — so the county's reopening follows a recorded word."""
    import datetime as dt

    from api.accounts.users import create_user
    from api.cases.audit import FINDING_CHAIN, verify_chain
    from api.clock import as_utc
    from api.db.models import Finding, FindingEvent

    downgrade(db.engine, "0017")
    at = dt.datetime(2026, 3, 1, 2, 30, tzinfo=dt.UTC)
    with db.factory.begin() as s:
        user = create_user(s, "reviewer", "long-enough-pw", "county_reviewer")
        for n, handled in enumerate((at, None, at - dt.timedelta(days=2))):
            s.add(Finding(client_uuid=f"00000000-0000-4000-8000-00000000000{n}", user_id=user.id, kind="other",
                          at=at - dt.timedelta(days=9), lat=30.0, lon=120.0, outcome="noted", uploaded_at=at,
                          handled_at=handled, handled_by="officer" if handled else None,
                          handled_note=f"已清理{n}" if handled else None))
    upgrade(db.engine, srid=DEFAULT_COUNTY_SRID)
    with db.factory() as s:
        events = s.query(FindingEvent).order_by(FindingEvent.id).all()
        assert [(e.action, e.actor, e.note, as_utc(e.at)) for e in events] == [
            ("handled", "officer", "已清理2", at - dt.timedelta(days=2)), ("handled", "officer", "已清理0", at)]
        report = verify_chain(s, FINDING_CHAIN)
        assert report.ok and report.events == 2


def test_cases_a_pass_opened_for_a_grown_house_are_marked_as_that_houses_new_part(db: Database):
    """Revision 0019: a pass's growth cases opened before it (code `RL-<township>-<house key>-E<date>`) get their
    house as `part_of_house_id`, so the survey's house never takes a wing's case as its own; a new building's case
    (`-N<date>-<id>`) is no part of any house."""
    from sqlalchemy import text

    downgrade(db.engine, "0018")
    point = "ST_GeomFromText" if db.backend == "postgis" else "GeomFromText"
    with db.engine.begin() as conn:
        conn.execute(text(f"INSERT INTO houses (id, source_key, area_m2, geom) VALUES (7, 'H-7', 100, "
                          f"{point}('MULTIPOLYGON(((0 0,10 0,10 10,0 0)))', {DEFAULT_COUNTY_SRID}))"))
        for case_id, code in ((1, "RL-431021101000-H-7-E20260301"), (2, "RL-431021101000-N20260301-5")):
            conn.execute(text(
                "INSERT INTO cases (id, code, footprint_m2, farmland_m2, cultivated_m2, period, disposition, rules, "
                "date_conflict, status, still_violating, created_at, scanned_at, origin, field_rules, remaining_m2, "
                f"version, geom) VALUES ({case_id}, '{code}', 1, 1, 0, 'after_cutoff', 'demolish', '1', false, 'new', "
                "true, '2026-03-02', '2026-03-02', 'imagery', '', 1, 1, "
                f"{point}('MULTIPOLYGON(((0 0,1 0,1 1,0 0)))', {DEFAULT_COUNTY_SRID}))"))
    upgrade(db.engine, srid=DEFAULT_COUNTY_SRID)
    with db.engine.connect() as conn:
        assert dict(conn.execute(text("SELECT id, part_of_house_id FROM cases ORDER BY id")).all()) == {1: 7, 2: None}


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
