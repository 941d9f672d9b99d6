"""A moment is stored, read back and compared as the same instant on both databases, whatever offset it was
given with. SQLite keeps a time as text and SQLAlchemy's SQLite DateTime writes the wall-clock digits of the
value it is handed, dropping the offset: 03:00 in Asia/Shanghai went in as "03:00", read back as 03:00 UTC
(eight hours late), and a month's bounds in county time (`month_bounds`) were compared digit by digit with
UTC digits, so on the embedded database a month started and ended eight hours late."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import func, select, update

from api.cases.deadlines import COUNTY_TZ
from api.clock import as_utc
from api.db.models import Case, Epoch
from api.db.repository import insert_rows, table_of
from api.reports.dossier import cases_of_period
from api.reports.monthly import month_bounds
from tests.conftest import Database
from tests.http.conftest import T1, Site
from tests.http.conftest import site as site

#: 03:00 on 1 September in the county: 19:00 on 31 August in UTC.
EARLY_SEPTEMBER = dt.datetime(2026, 9, 1, 3, 0, tzinfo=COUNTY_TZ)


def _in_month(db: Database, month: str) -> list[dt.date]:
    start, end = month_bounds(month)
    with db.factory() as s:
        return list(s.execute(select(Epoch.imaged_on).where(Epoch.imported_at >= start, Epoch.imported_at < end)
                              .order_by(Epoch.imaged_on)).scalars())


def test_an_aware_time_is_stored_as_its_instant_and_a_county_month_holds_it(db: Database):
    with db.factory.begin() as s:
        s.add(Epoch(imaged_on=dt.date(2026, 8, 1), source="orm", source_sha256="0" * 64, imported_at=EARLY_SEPTEMBER))
        s.add(Epoch(imaged_on=dt.date(2026, 8, 2), source="orm", source_sha256="1" * 64,
                    imported_at=dt.datetime(2026, 8, 31, 23, 30, tzinfo=COUNTY_TZ)))
    with db.factory() as s:
        stored = dict(s.execute(select(Epoch.imaged_on, Epoch.imported_at)).all())
    assert as_utc(stored[dt.date(2026, 8, 1)]) == EARLY_SEPTEMBER == dt.datetime(2026, 8, 31, 19, tzinfo=dt.UTC)
    assert _in_month(db, "2026-09") == [dt.date(2026, 8, 1)]
    assert _in_month(db, "2026-08") == [dt.date(2026, 8, 2)]


def test_a_county_month_holds_a_moment_written_in_utc(db: Database):
    """What every writer stores (`api.clock`: UTC), found by the month it belongs to in county time: a patrol at
    03:00 on 1 September is September's on both databases (before: August's on SpatiaLite)."""
    with db.factory.begin() as s:
        s.add(Epoch(imaged_on=dt.date(2026, 8, 1), source="orm", source_sha256="0" * 64,
                    imported_at=as_utc(EARLY_SEPTEMBER)))
    assert _in_month(db, "2026-09") == [dt.date(2026, 8, 1)]
    assert _in_month(db, "2026-08") == []


def test_the_bulk_writer_stores_the_same_instant(db: Database):
    frame = pd.DataFrame({"id": [1], "imaged_on": [dt.date(2026, 8, 1)], "source": ["bulk"],
                          "source_sha256": ["0" * 64], "imported_at": [EARLY_SEPTEMBER]})
    with db.factory.begin() as s:
        insert_rows(s, table_of(Epoch), frame)
    with db.factory() as s:
        assert as_utc(s.execute(select(Epoch.imported_at)).scalar_one()) == EARLY_SEPTEMBER
        assert s.execute(select(func.count()).select_from(Epoch)).scalar_one() == 1
    assert _in_month(db, "2026-09") == [dt.date(2026, 8, 1)]


def test_a_case_found_at_three_in_the_morning_on_the_first_is_in_that_months_dossier_batch(site: Site):
    """The batch of dossiers a township files for a month (`cases_of_period`) is chosen by county time. A case
    found at 03:00 on 1 September belongs to September (before: to August, on SpatiaLite)."""
    with site.db.factory.begin() as s:
        found = s.execute(select(Case.id).where(Case.code.like("%-A1"))).scalar_one()
        s.execute(update(Case).where(Case.id == found).values(created_at=as_utc(EARLY_SEPTEMBER)))
    with site.db.factory() as s:
        assert found in cases_of_period(s, T1, "2026-09")
        assert found not in cases_of_period(s, T1, "2026-08")
        # The quarterly check's batch (季核) and the year's (年度评估): every case of their months, by county time.
        assert found in cases_of_period(s, T1, "2026-Q3") and found in cases_of_period(s, T1, "2026")
        assert found not in cases_of_period(s, T1, "2026-Q2")
        assert set(cases_of_period(s, T1, "2026-Q3")) == {
            i for month in ("2026-07", "2026-08", "2026-09") for i in cases_of_period(s, T1, month)}


def test_a_stored_time_reads_back_aware_in_utc_on_both_databases(db: Database):
    """PostgreSQL hands a TIMESTAMPTZ back aware; SQLite handed back its UTC digits naive, so a reader that forgot
    `as_utc` compared naive with aware (a TypeError, a 500) or, formatting it, dropped the offset — on the
    embedded database alone. Every stored time now reads back aware, in UTC, whichever database holds it."""
    with db.factory.begin() as s:
        s.add(Epoch(imaged_on=dt.date(2026, 8, 1), source="orm", source_sha256="0" * 64, imported_at=EARLY_SEPTEMBER))
    with db.factory() as s:
        read = s.execute(select(Epoch.imported_at)).scalar_one()
        epoch = s.execute(select(Epoch)).scalar_one()
    for value in (read, epoch.imported_at):
        assert value.tzinfo is not None and value.utcoffset() == dt.timedelta(0)
        assert value == EARLY_SEPTEMBER and value < dt.datetime.now(dt.UTC)
        assert value.isoformat() == "2026-08-31T19:00:00+00:00"
