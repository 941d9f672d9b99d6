"""`insert_rows`: what goes in comes back, on PostgreSQL (COPY text formatted column by column) and on SQLite
(executemany) alike — text with tabs, newlines and backslashes, missing values, whole numbers with gaps,
shortest floats, dates, aware times and geometry."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import box
from sqlalchemy import func, select

from api.clock import as_utc
from api.db import models
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
