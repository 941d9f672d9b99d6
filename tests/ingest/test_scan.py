"""`redline scan` over both databases: cases match the demo's truth; re-running adds nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import box
from sqlalchemy import event, func, select, update

from api.db import models
from api.ingest.layers import import_layer
from api.ingest.scan import ScanReport, scan
from gis.rules import RuleSet
from tests.conftest import DEMO, Database, from_built, import_demo_layers
from tests.ingest.conftest import farmland_and_houses


@pytest.fixture
def demo_db(db: Database, request: pytest.FixtureRequest) -> Database:
    """The demo county's layers imported, not yet scanned (imported once per session, copied per test)."""
    from_built(request, db, "demo-layers", import_demo_layers)
    return db


def test_scan_queues_exactly_the_violations_the_demo_was_built_with(demo_db: Database):
    report = scan(demo_db.factory, RuleSet())
    truth = pd.read_csv(DEMO / "truth.csv", keep_default_na=False, dtype=str)
    expected = truth[truth["violation"] == "True"].set_index("house_id")
    with demo_db.factory() as s:
        rows = s.execute(select(models.House.source_key, models.Case.period, models.Case.disposition,
                                models.Case.rules, models.Case.date_conflict, models.Case.status,
                                models.Case.township_code)
                         .join(models.House, models.House.id == models.Case.house_id)).all()
    cases = pd.DataFrame(rows, columns=["house_id", "period", "disposition", "rules", "date_conflict", "status",
                                        "township_code"]).set_index("house_id")
    assert report.created == len(expected) == len(cases)
    assert set(cases.index) == set(expected.index)
    joined = cases.merge(expected, left_index=True, right_index=True, suffixes=("", "_truth"))
    for col in ("period", "disposition", "rules"):
        mismatched = joined[joined[col] != joined[f"{col}_truth"]]
        assert mismatched.empty, mismatched[[col, f"{col}_truth"]].head()
    assert (joined["date_conflict"].astype(str) == joined["date_conflict_truth"]).all()
    assert (cases["status"] == "new").all()
    assert cases["township_code"].notna().all()


def writes_during(db: Database, work: Callable[[], object]) -> list[str]:
    """The INSERT, UPDATE and DELETE statements the database receives while `work` runs."""
    seen: list[str] = []

    def record(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement.strip()[:80])

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def row_counts(db: Database) -> dict[str, int]:
    """Rows per table the scan writes: what a COPY (PostgreSQL's bulk insert, which no statement listener
    sees) would change."""
    with db.factory() as s:
        return {m.__tablename__: s.execute(select(func.count()).select_from(m)).scalar_one()
                for m in (models.Case, models.CaseEvent, models.AuditHead)}


def test_rescan_adds_nothing_and_flags_houses_that_stop_violating(demo_db: Database):
    reports: list[ScanReport] = []
    counts = []
    for day in (1, 2):
        when = dt.datetime(2026, 11, day, tzinfo=dt.UTC)
        writes = writes_during(demo_db, lambda at=when: reports.append(scan(demo_db.factory, RuleSet(), now=at)))
        counts.append(row_counts(demo_db))
        if day == 1:
            assert any(w.startswith("UPDATE audit_head") for w in writes)  # the listener sees the first scan's
    first, second = reports
    # Nothing changed, so nothing is written: no case row, no event, no audit head (issue #19).
    assert writes == [] and first.created > 1000
    assert counts[0] == counts[1] and counts[0]["cases"] == first.created
    assert second.created == 0 and second.updated == 0 and second.cleared == 0
    with demo_db.factory.begin() as s:
        case = s.execute(select(models.Case).where(models.Case.disposition == "demolish").limit(1)).scalar_one()
        house = s.get(models.House, case.house_id)
        assert house is not None
        case_id = case.id
        # The house is corrected: it now stands well away from any farmland.
        house.geom = "SRID=4546;MULTIPOLYGON(((0 0, 10 0, 10 10, 0 10, 0 0)))"
    third = scan(demo_db.factory, RuleSet())
    assert third.cleared == 1 and third.created == 0 and third.updated == 0
    with demo_db.factory() as s:
        total = s.execute(select(func.count()).select_from(models.Case)).scalar_one()
        flagged = s.get(models.Case, case_id)
    assert total == first.created  # nothing deleted
    assert flagged is not None and flagged.still_violating is False


def test_scan_of_an_empty_database(db: Database):
    report = scan(db.factory, RuleSet())
    assert report.houses == 0 and report.created == 0


def test_scan_uses_the_configured_cutoff(db: Database, tmp_path):
    x, y = 500_000, 2_830_000
    gpd.GeoDataFrame({"id": ["F1"]}, geometry=[box(x, y, x + 100, y + 100)], crs=4546).to_file(tmp_path / "f.gpkg")
    gpd.GeoDataFrame({"id": ["H1"], "built_on": ["2020-12-01"]}, geometry=[box(x + 10, y + 10, x + 20, y + 20)],
                     crs=4546).to_file(tmp_path / "h.gpkg")
    import_layer(db.factory, "farmland", tmp_path / "f.gpkg")
    import_layer(db.factory, "houses", tmp_path / "h.gpkg")
    from gis.rules import RuleSet

    scan(db.factory, RuleSet(cutoff=dt.date(2021, 1, 1)))
    with db.factory() as s:
        case = s.execute(select(models.Case)).scalar_one()
    assert (case.period, case.disposition, case.rules) == ("before_cutoff", "classify", "1")
    assert case.farmland_m2 == pytest.approx(100.0)


def test_an_import_and_a_scan_make_no_cyclic_collection(db: Database, tmp_path):
    """Importing a county's houses and scanning them make and drop a geometry per house; shapely's objects are
    tracked by Python's cyclic collector, which they set off again and again (`gis.collector`): neither may."""
    from tests.gc_watch import counted_collections
    from tests.gis.test_collector import county

    houses, farmland = county(3_000)
    houses.rename(columns={"house_id": "id"}).assign(built_on="2021-05-01").to_file(tmp_path / "h.gpkg")
    farmland.assign(BSM=[f"F{i}" for i in range(len(farmland))]).to_file(tmp_path / "f.gpkg")
    import_layer(db.factory, "farmland", tmp_path / "f.gpkg")
    with counted_collections() as on_import:
        import_layer(db.factory, "houses", tmp_path / "h.gpkg")
    with counted_collections() as on_scan:
        report = scan(db.factory, RuleSet())
    assert on_import == [] and on_scan == []
    # The west 5 m of every other column of houses (55 columns) lies on farmland.
    assert report.houses == 3_000 and report.created == int((np.arange(3_000) % 55 % 2 == 0).sum()) == 1_527


def test_rescan_records_exactly_what_changed(db: Database, tmp_path):
    x, y = 500_000, 2_830_000
    gpd.GeoDataFrame({"id": ["F1"]}, geometry=[box(x, y, x + 100, y + 100)], crs=4546).to_file(tmp_path / "f.gpkg")
    gpd.GeoDataFrame({"id": ["H1", "H2"], "built_on": ["2021-05-01", None]},
                     geometry=[box(x + 10, y + 10, x + 20, y + 20), box(x + 40, y + 40, x + 50, y + 50)],
                     crs=4546).to_file(tmp_path / "h.gpkg")
    import_layer(db.factory, "farmland", tmp_path / "f.gpkg")
    import_layer(db.factory, "houses", tmp_path / "h.gpkg")

    def rescans() -> list[models.CaseEvent]:
        with db.factory() as s:
            return list(s.execute(select(models.CaseEvent).where(models.CaseEvent.action == "rescan")).scalars())

    scan(db.factory, RuleSet())
    scan(db.factory, RuleSet())
    assert rescans() == []  # nothing changed: no event (no float noise, no None-vs-NaN, no bool-vs-int)
    with db.factory.begin() as s:
        house = s.execute(select(models.House).where(models.House.source_key == "H1")).scalar_one()
        house.geom = f"SRID=4546;MULTIPOLYGON((({x + 95} {y + 10}, {x + 105} {y + 10}, {x + 105} {y + 20}, " \
                     f"{x + 95} {y + 20}, {x + 95} {y + 10})))"  # now half off the farmland
    scan(db.factory, RuleSet())
    events = rescans()
    assert len(events) == 1
    before, after = json.loads(events[0].before), json.loads(events[0].after)
    assert before["farmland_m2"] == pytest.approx(100.0) and after["farmland_m2"] == pytest.approx(50.0)
    assert "period" not in after and "disposition" not in after and "rules" not in after  # unchanged


def test_a_case_assigned_while_the_scan_runs_keeps_its_measures(db: Database, tmp_path, monkeypatch):
    """The scan reads which cases are still `new` (those it re-measures), then writes. A user who assigns one in
    between has started work on it: the scan leaves its measures, and writes no `rescan` event for it. Before, the
    update did not look at the state again, and an assigned case took the scan's measures."""
    import api.ingest.scan as scanning

    x, y = 500_000, 2_830_000
    farmland_and_houses(db, tmp_path, box(x, y, x + 100, y + 100),
                        {"H1": (box(x + 10, y + 10, x + 20, y + 20), "2021-05-01"),
                         "H2": (box(x + 40, y + 40, x + 50, y + 50), "2021-05-01")})
    with db.factory.begin() as s:  # both houses half off the farmland now: both cases would be re-measured
        for key, left in (("H1", x + 95), ("H2", x + 95)):
            house = s.execute(select(models.House).where(models.House.source_key == key)).scalar_one()
            low = y + 10 if key == "H1" else y + 40
            house.geom = (f"SRID=4546;MULTIPOLYGON((({left} {low}, {left + 10} {low}, {left + 10} {low + 10}, "
                          f"{left} {low + 10}, {left} {low})))")
    remeasure = scanning._remeasure

    def assigned_meanwhile(session, fresh, cols):  # type: ignore[no-untyped-def]
        with db.factory.begin() as other:  # a user's assign, committed while the scan is between read and write
            h1 = other.execute(select(models.House.id).where(models.House.source_key == "H1")).scalar_one()
            other.execute(update(models.Case).where(models.Case.house_id == h1).values(status="assigned"))
        return remeasure(session, fresh, cols)

    monkeypatch.setattr(scanning, "_remeasure", assigned_meanwhile)
    scan(db.factory, RuleSet())
    with db.factory() as s:
        cases = {key: (status, farmland, cid) for key, status, farmland, cid in s.execute(
            select(models.House.source_key, models.Case.status, models.Case.farmland_m2, models.Case.id)
            .join(models.House, models.House.id == models.Case.house_id))}
        rescanned = set(s.execute(select(models.CaseEvent.case_id).where(models.CaseEvent.action == "rescan"))
                        .scalars())
    assert cases["H1"][:2] == ("assigned", pytest.approx(100.0))  # kept: a user had started on it
    assert cases["H2"][:2] == ("new", pytest.approx(50.0))
    assert rescanned == {cases["H2"][2]}


def test_id_lists_longer_than_one_statement_takes(db: Database):
    # PostgreSQL refuses more than 65 535 bound parameters per statement; a county's scan passes that many ids.
    from api.cases.milestones import reports_by_case

    with db.factory() as s:
        reports = reports_by_case(s, list(range(1, 70_001)))
    assert len(reports) == 70_000 and not any(reports.values())


def test_a_rescan_never_takes_a_case_out_of_zero_tolerance_by_itself(db: Database, tmp_path,
                                                                     monkeypatch: pytest.MonkeyPatch):
    """A house re-imported with an earlier date (or under a new baseline) measures as stock. A change of period
    out of zero tolerance is the county's decision (decide_period) on a request with its reason; the scan had
    made it silently for every case still `new`. Now the case keeps its period, disposition and measures, and
    the scan's measure waits as a request for the county. Into zero tolerance, a new measure applies at once."""
    x, y = 500_000, 2_830_000
    gpd.GeoDataFrame({"id": ["F1"]}, geometry=[box(x, y, x + 100, y + 100)], crs=4546).to_file(tmp_path / "f.gpkg")
    footprints = [box(x + 10, y + 10, x + 20, y + 20), box(x + 40, y + 40, x + 50, y + 50)]
    gpd.GeoDataFrame({"id": ["H1", "H2"], "built_on": ["2021-05-01", "2019-05-01"]}, geometry=footprints,
                     crs=4546).to_file(tmp_path / "h.gpkg")
    import_layer(db.factory, "farmland", tmp_path / "f.gpkg")
    import_layer(db.factory, "houses", tmp_path / "h.gpkg")
    scan(db.factory, RuleSet())
    gpd.GeoDataFrame({"id": ["H1", "H2"], "built_on": ["2019-05-01", "2021-05-01"]}, geometry=footprints,
                     crs=4546).to_file(tmp_path / "h2.gpkg")  # the dates swapped in a new delivery
    import_layer(db.factory, "houses", tmp_path / "h2.gpkg")
    with db.factory.begin() as s:  # as an earlier scan leaves a case whose house had stopped violating
        s.execute(update(models.Case).values(still_violating=False))
    # A patrol finding at H1 from before the survey had it, still waiting for a footprint: the command looks again.
    from api.accounts.users import create_user
    from gis.crs import transformer

    lon, lat = transformer("EPSG:4546", "EPSG:4326").transform(x + 15, y + 15)
    with db.factory.begin() as s:
        patroller = create_user(s, "reviewer", "long-enough-pw", "county_reviewer")
        s.add(models.Finding(client_uuid="00000000-0000-4000-8000-000000000001", user_id=patroller.id,
                             kind="new_construction", at=dt.datetime.now(dt.UTC), lat=float(lat), lon=float(lon),
                             outcome="awaiting_footprint", uploaded_at=dt.datetime.now(dt.UTC)))
    from typer.testing import CliRunner

    from api.cli import app
    from api.settings import get_settings

    monkeypatch.setenv("REDLINE_DATABASE_URL", db.url)
    get_settings.cache_clear()
    try:
        ran = CliRunner().invoke(app, ["scan"])  # the command says what it filed for the county
    finally:
        get_settings.cache_clear()
    assert ran.exit_code == 0 and "changes of period for the county to decide 1" in ran.output, ran.output
    assert "patrol findings that found their building 1" in ran.output
    assert scan(db.factory, RuleSet()).period_requests == 0  # and again: one request, not two

    def case(key: str) -> models.Case:
        with db.factory() as s:
            return s.execute(select(models.Case).join(models.House, models.House.id == models.Case.house_id)
                             .where(models.House.source_key == key)).scalar_one()

    held, raised = case("H1"), case("H2")
    assert (held.period, held.disposition, held.after_cutoff_m2) == ("after_cutoff", "demolish", pytest.approx(100.0))
    assert held.requested_period == "before_cutoff" and held.still_violating  # held, and violating again
    request = json.loads(held.period_request)
    assert request["by"] == "scan" and request["evidence"] == [] and "before_cutoff" in request["reason"]
    assert (raised.period, raised.disposition, raised.requested_period) == ("after_cutoff", "demolish", None)
    with db.factory() as s:
        asked = s.execute(select(models.CaseEvent.actor, models.CaseEvent.after).where(
            models.CaseEvent.case_id == held.id, models.CaseEvent.action == "request_period")).all()
    assert [(actor, json.loads(after)["requested_period"]) for actor, after in asked] == [("scan", "before_cutoff")]
    # The county refuses the change (the imagery shows a 2021 house, whatever the delivery says). The next scan
    # measures the same and filed the same request again, every scan: a re-scan of an unchanged county wrote,
    # and the county decided the same question over and over. A measure the county has decided is not asked
    # again; a new measure (another period) is.
    from api.cases.service import transition
    from api.db.models import User

    with db.factory.begin() as s:
        county = User(username="county", password_hash="x", role="county_reviewer", active=True)
        s.add(county)
        s.flush()
        s.expunge(county)
    transition(db.factory, county, held.id, "decide_period", {"approve": False, "reason": "影像显示2021年新建"})
    with db.factory() as s:
        events_before = s.execute(select(func.count()).select_from(models.CaseEvent)).scalar_one()
    again = scan(db.factory, RuleSet())
    assert (again.period_requests, again.updated, again.created) == (0, 0, 0)
    with db.factory() as s:
        assert s.execute(select(func.count()).select_from(models.CaseEvent)).scalar_one() == events_before
    assert case("H1").requested_period is None
