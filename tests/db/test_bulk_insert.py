"""`insert_rows`: what goes in comes back, on PostgreSQL (COPY text formatted column by column) and on SQLite
(executemany) alike — text with tabs, newlines and backslashes, missing values, whole numbers with gaps,
shortest floats, dates, aware times and geometry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely
from shapely import box
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from api.clock import as_utc
from api.db import models, repository
from api.db.engine import srid_of
from api.db.pgcopy import copy_csv
from api.db.repository import insert_rows, inserting, table_of, to_db_geometry
from tests.conftest import Database

AWKWARD_TEXT = ["plain", "tab\there", "new\nline", "back\\slash \\N", "cr\rlf\r\n", "引号\"与'单引号'", "", None]


def test_every_kind_of_value_comes_back_as_it_went_in(db: Database):
    n = len(AWKWARD_TEXT)
    geoms = np.array([box(500_000 + i * 20, 3_800_000, 500_010 + i * 20, 3_800_010) for i in range(n)])
    houses = pd.DataFrame({
        "source_key": [f"H{i}" for i in range(n)],
        "attrs": AWKWARD_TEXT,
        "household_key": [None, *AWKWARD_TEXT[:-1]],
        "built_on": [dt.date(2020, 7, 3), None, dt.date(2019, 12, 31),
                     *[dt.date(2021, 1, i + 1) for i in range(n - 3)]],
        "floors": [1.0, np.nan, 3.0, 2.0, np.nan, 1.0, 4.0, 2.0],  # pandas' integers with gaps
        "area_m2": [0.1 + 0.2, 1e-07, 123456.78901234567, 5e-324, 100.0, 2.5e-300, 1e300, 7.0],
        "geom": pd.Series(to_db_geometry(geoms, db.factory), dtype=object),
    })
    with db.factory.begin() as session:
        insert_rows(session, table_of(models.House), houses, chunk=3)  # several COPY chunks
    table = table_of(models.House)
    with db.factory() as session:
        rows = session.execute(select(table.c.source_key, table.c.attrs, table.c.household_key, table.c.built_on,
                                      table.c.floors, table.c.area_m2, func.ST_AsBinary(table.c.geom))
                               .order_by(table.c.id)).all()
    assert [r[0] for r in rows] == houses["source_key"].tolist()
    assert [r[1] for r in rows] == AWKWARD_TEXT
    assert [r[2] for r in rows] == [None, *AWKWARD_TEXT[:-1]]
    assert [r[3] for r in rows] == houses["built_on"].tolist()
    assert [r[4] for r in rows] == [1, None, 3, 2, None, 1, 4, 2]
    assert [r[5] for r in rows] == houses["area_m2"].tolist()  # every float to the last bit
    assert shapely.equals(shapely.from_wkb([bytes(r[6]) for r in rows]), geoms).all()


def test_flags_and_aware_times_come_back_as_they_went_in(db: Database):
    at = dt.datetime(2026, 12, 3, 7, 18, 0, 123456, tzinfo=dt.UTC)
    cutoff = dt.datetime(2020, 7, 2, 16, 0, tzinfo=dt.UTC)  # 2020-07-03 00:00 in Beijing
    geoms = np.array([box(0, 0, 10, 10), box(20, 0, 30, 10)])
    cases = pd.DataFrame({
        "code": ["RL-1", "RL-2"], "status": ["new", "new"], "period": ["after_cutoff", "before_cutoff"],
        "disposition": ["demolish", "classify"], "rules": ["1", ""],
        "footprint_m2": [100.0, 50.0], "farmland_m2": [100.0, 0.0], "cultivated_m2": [0.0, 0.0],
        "unapproved_cultivated_m2": [np.nan, 1.5],
        "date_conflict": [True, False], "retro_approval": [False, True], "still_violating": [True, False],
        "created_at": [at, cutoff], "scanned_at": [at, at],
        "geom": pd.Series(to_db_geometry(geoms, db.factory), dtype=object),
    })
    with db.factory.begin() as session:
        insert_rows(session, table_of(models.Case), cases)
    table = table_of(models.Case)
    with db.factory() as session:
        rows = session.execute(select(table.c.date_conflict, table.c.retro_approval, table.c.still_violating,
                                      table.c.created_at, table.c.unapproved_cultivated_m2, table.c.version,
                                      table.c.field_rules).order_by(table.c.code)).all()
    assert [r[:3] for r in rows] == [(True, False, True), (False, True, False)]
    assert [as_utc(r[3]) for r in rows] == [at, cutoff]
    assert [r[4] for r in rows] == [None, 1.5]  # NaN is missing, as it always was
    assert [r[5:] for r in rows] == [(1, ""), (1, "")]  # the model's defaults, as an INSERT would take them


def test_copy_csv_refuses_a_fraction_for_a_whole_number_column():
    frame = pd.DataFrame({"floors": [2.0, 2.5]})
    with pytest.raises(ValueError, match="floors"):
        copy_csv(frame, table_of(models.House))


def test_copy_csv_quotes_every_text_and_leaves_missing_values_empty():
    """PostgreSQL's CSV COPY reads an unquoted empty field as NULL and a quoted one as an empty text."""
    frame = pd.DataFrame({"source_key": ['a"b', None, ""], "floors": [3.0, np.nan, 1.0], "area_m2": [0.5, np.nan, 2.0],
                          "built_on": [dt.date(2020, 7, 3), None, None]})
    assert copy_csv(frame, table_of(models.House)) == b'"a""b",3,0.5,2020-07-03\n,,,\n"",1,2,\n'


def test_a_failure_in_the_body_of_inserting_leaves_nothing_stored(db: Database):
    """The body runs while PostgreSQL still reads the COPY; if it fails, neither the rows nor anything else of
    the transaction is kept."""
    geoms = np.array([box(0, 0, 10, 10), box(20, 0, 30, 10)])
    houses = pd.DataFrame({"source_key": ["A", "B"], "area_m2": [100.0, 100.0],
                           "geom": pd.Series(to_db_geometry(geoms, db.factory), dtype=object)})
    with (pytest.raises(RuntimeError, match="the caller's own work failed"), db.factory.begin() as session,
          inserting(session, table_of(models.House), houses)):
        raise RuntimeError("the caller's own work failed")
    with db.factory() as session:
        assert session.execute(select(func.count()).select_from(table_of(models.House))).scalar_one() == 0
    with db.factory.begin() as session:  # and the database takes the same rows afterwards
        insert_rows(session, table_of(models.House), houses)
    with db.factory() as session:
        assert session.execute(select(func.count()).select_from(table_of(models.House))).scalar_one() == 2



def _schema(session) -> list[Any]:  # type: ignore[no-untyped-def]
    """Every index and every key of the application's tables, as the catalogue defines them."""
    return list(session.execute(text("""
        SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()
        UNION ALL SELECT conname, conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2""")).all())


def _houses(keys: list[str], db: Database) -> pd.DataFrame:
    geoms = np.array([box(i * 20, 0, i * 20 + 10, 10) for i in range(len(keys))])
    return pd.DataFrame({"source_key": keys, "household_key": [f"HH{k}" for k in keys], "area_m2": 100.0,
                         "geom": pd.Series(to_db_geometry(geoms, db.factory), dtype=object)})


def _events(case_ids: list[int], hashes: list[str]) -> pd.DataFrame:
    n = len(case_ids)
    return pd.DataFrame({"id": range(1, n + 1), "case_id": case_ids, "at": dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
                         "actor": "scan", "action": "create", "before": "{}", "after": "{}", "prev_hash": "0" * 64,
                         "hash": hashes})


def _cases(house_ids: list[int], geoms: pd.Series) -> pd.DataFrame:
    """New cases of the houses with these ids (nobody assigned yet)."""
    at = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    return pd.DataFrame({"id": house_ids, "code": [f"RL-{h}" for h in house_ids], "house_id": house_ids,
                         "footprint_m2": 100.0, "farmland_m2": 100.0, "cultivated_m2": 100.0, "period": "after_cutoff",
                         "disposition": "demolish", "rules": "1", "created_at": at, "scanned_at": at,
                         "geom": geoms.to_numpy()})


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent while the `with` runs."""
    engine, sent = db.factory.kw["bind"], []
    listen = lambda conn, cursor, statement, *rest: sent.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", listen)


@pytest.mark.parametrize("db", ["postgis"], indirect=True)
def test_a_large_load_into_an_empty_table_builds_its_keys_and_indexes_after_and_leaves_the_schema_as_it_was(
        db: Database, monkeypatch: pytest.MonkeyPatch):
    """A first import or scan sets the table's keys and secondary indexes aside and puts the very same ones
    back over the loaded rows; a load into a table that holds rows, or a small one, keeps them as it goes."""
    monkeypatch.setattr(repository, "BUILD_AFTER_ROWS", 3)
    houses = table_of(models.House)
    with db.factory() as session:
        before = _schema(session)
    with _statements(db) as first, db.factory.begin() as session:
        insert_rows(session, houses, _houses(["A", "B", "C", "D"], db))
    with _statements(db) as later, db.factory.begin() as session:  # not empty now
        insert_rows(session, houses, _houses(["E", "F", "G", "H"], db))
    with _statements(db) as small, db.factory.begin() as session:  # into an empty table, but few
        one = pd.Series(to_db_geometry(np.array([box(0, 0, 5, 5)]), db.factory), dtype=object)
        insert_rows(session, table_of(models.Farmland), pd.DataFrame({"source_key": ["F1"], "area_m2": [25.0],
                                                                      "geom": one}))
    with _statements(db) as cases, db.factory.begin() as session:
        insert_rows(session, table_of(models.Case), _cases([1, 2, 3, 4], _houses(list("ABCD"), db)["geom"]))
    assert sorted(s for s in first if s.startswith("DROP INDEX")) == [
        'DROP INDEX "idx_houses_geom"', 'DROP INDEX "ix_houses_household_key"', 'DROP INDEX "ix_houses_source_key"',
        'DROP INDEX "ix_houses_township_code"', 'DROP INDEX "ix_houses_village_code"']
    assert not any("INDEX" in s or "CONSTRAINT" in s for s in later + small)
    # The cases' keys, but not the key to the users: nobody is assigned yet, so it would check nothing, and
    # taking it away would lock the users' table (every login) until the load commits.
    assert sorted(s.split()[-1] for s in cases if "DROP CONSTRAINT" in s) == [
        '"cases_code_key"', '"cases_house_id_fkey"', '"cases_house_id_key"']
    with db.factory() as session:
        assert _schema(session) == before
        # The rebuilt indexes hold every row: found through each of them, and the unique one still refuses.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        assert session.execute(select(func.count()).select_from(houses)
                               .where(houses.c.household_key == "HHG")).scalar_one() == 1
        near = houses.c.geom.op("&&")(func.ST_MakeEnvelope(0, 0, 200, 10, srid_of(session)))
        assert session.execute(select(func.count()).select_from(houses).where(near)).scalar_one() == 8
    with pytest.raises(psycopg.errors.UniqueViolation), db.factory.begin() as session:
        insert_rows(session, houses, _houses(["A"], db))


@pytest.mark.parametrize("db", ["postgis"], indirect=True)
@pytest.mark.parametrize(("case_ids", "hashes", "refused"), [
    ([1, 1, 99, 1], ["a", "b", "c", "d"], "case_events_case_id_fkey"),  # an event of a case that does not exist
    ([1, 1, 1, 1], ["a", "b", "a", "d"], "case_events_hash_key"),  # two events with one hash
], ids=["dangling-reference", "duplicate-key"])
def test_keys_put_back_after_a_large_load_still_refuse_it_whole(db: Database, monkeypatch: pytest.MonkeyPatch,
                                                               case_ids: list[int], hashes: list[str], refused: str):
    """Checked once over every row instead of row by row, a key still fails the load: nothing of it is kept,
    and the keys are all there afterwards."""
    monkeypatch.setattr(repository, "BUILD_AFTER_ROWS", 3)
    houses = _houses(["A"], db)
    with db.factory.begin() as session:
        insert_rows(session, table_of(models.House), houses.assign(id=1))
        insert_rows(session, table_of(models.Case), _cases([1], houses["geom"]))
    with db.factory() as session:
        before = _schema(session)
    with pytest.raises(IntegrityError, match=refused), db.factory.begin() as session:
        insert_rows(session, table_of(models.CaseEvent), _events(case_ids, [h * 64 for h in hashes]))
    with db.factory() as session:
        assert session.execute(select(func.count()).select_from(table_of(models.CaseEvent))).scalar_one() == 0
        assert _schema(session) == before
    with db.factory.begin() as session:  # the same load, put right, goes in
        insert_rows(session, table_of(models.CaseEvent), _events([1] * 4, [h * 64 for h in "abcd"]))
