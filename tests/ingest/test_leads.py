"""Satellite change leads (卫片图斑) become cases, once each, measured against the stored layers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pytest
from shapely import box
from sqlalchemy import select

from api.db import models
from api.ingest.layers import import_layer
from api.ingest.leads import import_leads
from api.ingest.scan import scan
from gis.errors import RedlineInputError
from gis.rules import RuleSet
from tests.conftest import DEMO, Database
from tests.ingest.conftest import farmland_and_houses


def test_leads_become_cases_once(db: Database, tmp_path: Path):
    import_layer(db.factory, "townships", DEMO / "townships.parquet")
    villages = gpd.read_parquet(DEMO / "townships.parquet")
    village = villages[villages["XZQDM"].str.len() == 12].iloc[0]
    c = village.geometry.representative_point()
    x, y = c.x, c.y
    gpd.GeoDataFrame({"BSM": ["F1"]}, geometry=[box(x, y, x + 100, y + 100)], crs=4546).to_file(tmp_path / "f.gpkg")
    import_layer(db.factory, "farmland", tmp_path / "f.gpkg")
    leads = gpd.GeoDataFrame(
        {"JCBH": ["130403SJBG26210183", "130403SJBG26210184"], "PC": ["2026-10", "2026-10"]},
        geometry=[box(x + 10, y + 10, x + 30, y + 25), box(x + 300, y + 300, x + 320, y + 310)],
        crs=4546).to_crs(4490)  # leads often arrive in CGCS2000 geographic coordinates
    leads.to_file(tmp_path / "leads.geojson")
    report = import_leads(db.factory, tmp_path / "leads.geojson", RuleSet())
    assert (report.rows_read, report.created, report.existing) == (2, 2, 0)
    again = import_leads(db.factory, tmp_path / "leads.geojson", RuleSet())
    assert (again.created, again.existing) == (0, 2)
    with db.factory() as s:
        cases = {c.code: c for c in s.execute(select(models.Case)).scalars()}
    on = cases["130403SJBG26210183"]
    assert on.origin == "lead" and on.batch == "2026-10" and on.status == "new"
    assert on.farmland_m2 == pytest.approx(300.0, abs=0.05) and on.still_violating
    assert on.period == "unknown" and on.disposition == "verify"  # every lead needs an on-site check
    assert on.village_code == village["XZQDM"] and on.township_code == village["XZQDM"][:9] + "000"
    off = cases["130403SJBG26210184"]
    assert off.farmland_m2 == 0.0 and not off.still_violating


def test_a_lead_on_the_house_of_an_open_case_is_that_cases_lead(db: Database, tmp_path: Path):
    """A satellite lead drawn on a surveyed house whose case is open is the same building: the case carries the lead
    code (answered with it), and no second case opens — before, the building had two cases, both worked and both
    counted in the month's figures. A lead on the house of a closed case gets a case of its own (it may be the house
    built again), as does a lead on land no case holds."""
    x, y = 500_000, 2_830_000
    farmland_and_houses(db, tmp_path, box(x, y, x + 200, y + 100),
                        {"H1": (box(x + 10, y + 10, x + 20, y + 20), "2021-05-01"),
                         "H2": (box(x + 110, y + 10, x + 120, y + 20), "2021-06-01")})
    with db.factory.begin() as s:
        h2 = s.execute(select(models.Case).join(models.House, models.House.id == models.Case.house_id)
                       .where(models.House.source_key == "H2")).scalar_one()
        h2.status = "closed"  # demolished and passed
    leads = gpd.GeoDataFrame(
        {"JCBH": ["L-ON-H1", "L-ON-H2", "L-ELSEWHERE"], "PC": ["2026-11"] * 3},
        geometry=[box(x + 9, y + 9, x + 21, y + 21), box(x + 110, y + 10, x + 120, y + 20),
                  box(x + 50, y + 50, x + 60, y + 60)], crs=4546)
    leads.to_file(tmp_path / "leads.gpkg")
    report = import_leads(db.factory, tmp_path / "leads.gpkg", RuleSet())
    assert (report.created, report.attached, report.existing) == (2, 1, 0)
    with db.factory() as s:
        cases = {c.code: c for c in s.execute(select(models.Case)).scalars()}
        events = [e.action for e in s.execute(select(models.CaseEvent).where(
            models.CaseEvent.case_id == next(c.id for c in cases.values() if c.lead_code == "L-ON-H1"))).scalars()]
    assert "L-ON-H1" not in cases and set(cases) >= {"L-ON-H2", "L-ELSEWHERE"}
    h1 = next(c for c in cases.values() if c.lead_code == "L-ON-H1")
    assert h1.house_id is not None and h1.origin == "scan" and events[-1] == "lead_attached"
    again = import_leads(db.factory, tmp_path / "leads.gpkg", RuleSet())
    assert (again.created, again.attached, again.existing) == (0, 0, 3)


def test_a_later_lead_on_a_building_whose_case_answers_a_lead_already_is_that_cases_too(db: Database, tmp_path: Path):
    """The next monitoring batch flags the same building again (the construction went on between the images). Before,
    a case answered one lead only, so the second lead opened a second case for one building: both were worked and
    the month counted it twice. Now every later lead on the building of an open case — a lead case, or a house case
    that answers a lead — is that case's: listed with it (`case_leads`), one event each, and known on re-import."""
    from api.cases.deadlines import DeadlinePolicy
    from api.cases.history import lead_codes_at, snapshot
    from api.cases.queries import CaseQuery, lead_codes, list_cases
    from api.reports.dossier import dossier_html
    from api.settings import Settings

    x, y = 500_000, 2_830_000
    farmland_and_houses(db, tmp_path, box(x, y, x + 200, y + 100), {"H1": (box(x + 10, y + 10, x + 20, y + 20),
                                                                         "2021-05-01")})
    first = gpd.GeoDataFrame({"JCBH": ["L-H1-OCT", "L-LAND-OCT"], "PC": ["2026-10"] * 2},
                             geometry=[box(x + 9, y + 9, x + 21, y + 21), box(x + 50, y + 50, x + 60, y + 60)],
                             crs=4546)
    first.to_file(tmp_path / "october.gpkg")
    assert (import_leads(db.factory, tmp_path / "october.gpkg", RuleSet()).attached) == 1
    later = gpd.GeoDataFrame({"JCBH": ["L-H1-NOV", "L-LAND-NOV"], "PC": ["2026-11"] * 2},
                             geometry=[box(x + 10, y + 10, x + 21, y + 20), box(x + 50, y + 50, x + 61, y + 61)],
                             crs=4546)
    later.to_file(tmp_path / "november.gpkg")
    before_november = dt.datetime.now(dt.UTC)
    report = import_leads(db.factory, tmp_path / "november.gpkg", RuleSet())
    assert (report.created, report.attached, report.existing) == (0, 2, 0)
    with db.factory() as s:
        cases = {c.code: c for c in s.execute(select(models.Case)).scalars()}
        assert len(cases) == 2  # the house's case and the October lead's case: one per building
        house_case = next(c for c in cases.values() if c.house_id is not None)
        assert lead_codes(s, house_case) == ["L-H1-OCT", "L-H1-NOV"]
        assert lead_codes(s, cases["L-LAND-OCT"]) == ["L-LAND-OCT", "L-LAND-NOV"]
        notes = [e.note for e in s.execute(select(models.CaseEvent).where(
            models.CaseEvent.case_id == cases["L-LAND-OCT"].id, models.CaseEvent.action == "lead_attached")).scalars()]
    assert len(notes) == 1 and "L-LAND-NOV" in notes[0]
    with db.factory() as s:  # the dossier names every lead the case answers, and where the case came from
        html = dossier_html(s, cases["L-LAND-OCT"].id, Settings())
    assert "卫片图斑（lead） · 卫片图斑 L-LAND-OCT、L-LAND-NOV" in html
    with db.factory() as s:  # the month's export lists the leads each case answered at the month's end
        at = dt.datetime.now(dt.UTC)
        now, then = snapshot(s, at), snapshot(s, before_november)
        assert sorted("、".join(c) for c in lead_codes_at(s, now, at)) == ["L-H1-OCT、L-H1-NOV",
                                                                          "L-LAND-OCT、L-LAND-NOV"]
        assert sorted("、".join(c) for c in lead_codes_at(s, then, before_november)) == ["L-H1-OCT", "L-LAND-OCT"]
        # A county answering its 图斑 list finds the case by any lead code it answers (before: by case code only).
        county = models.User(username="county", role="county_reviewer", township_code=None)
        for code in ("L-H1-OCT", "L-H1-NOV", "L-LAND-NOV"):
            total, page = list_cases(s, county, CaseQuery(search=code), DeadlinePolicy(), limit=10, offset=0)
            assert total == 1 and page["code"].iloc[0] == (house_case.code if "H1" in code else "L-LAND-OCT"), code
    again = import_leads(db.factory, tmp_path / "november.gpkg", RuleSet())
    assert (again.created, again.attached, again.existing) == (0, 0, 2)


def test_a_lead_on_the_house_of_a_stock_case_gets_its_own_case(db: Database, tmp_path: Path):
    """A lead on the house of an open case is that case's — not on a stock case's house. A monitoring batch flags a
    change between images taken after the cutoff: construction after it, a wing or the house rebuilt in place.
    Taken into the stock case, it would have been classified and kept with the old house, out of zero tolerance
    unseen. Each such lead gets a case of its own (measured against the baseline imagery: a wing shows as an
    extension), for an inspector to see on site — a duplicate to close there, never a wing kept unseen."""
    x, y = 500_000, 2_830_000
    house = box(x + 10, y + 10, x + 20, y + 20)
    gpd.GeoDataFrame({"id": ["B1"], "imaged_on": ["2020-06-01"]}, geometry=[house], crs=4546
                     ).to_file(tmp_path / "baseline.gpkg")
    import_layer(db.factory, "baseline", tmp_path / "baseline.gpkg")
    farmland_and_houses(db, tmp_path, box(x, y, x + 200, y + 100), {"H1": (house, "2018-05-01")})
    with db.factory() as s:
        stock = s.execute(select(models.Case)).scalar_one()
    assert stock.period == "before_cutoff"
    gpd.GeoDataFrame({"JCBH": ["L-IN-PLACE", "L-WITH-A-WING"], "PC": ["2026-10", "2026-11"]},
                     geometry=[house, box(x + 10, y + 10, x + 20, y + 26)], crs=4546).to_file(tmp_path / "leads.gpkg")
    report = import_leads(db.factory, tmp_path / "leads.gpkg", RuleSet())
    assert (report.created, report.attached) == (2, 0)
    with db.factory() as s:
        cases = {c.code: c for c in s.execute(select(models.Case)).scalars()}
        assert s.get(models.Case, stock.id).lead_code is None
    assert cases["L-WITH-A-WING"].period == "extended_after_cutoff" and cases["L-WITH-A-WING"].disposition == "demolish"
    assert cases["L-IN-PLACE"].status == "new" and cases["L-IN-PLACE"].origin == "lead"


def test_a_house_surveyed_after_its_lead_is_the_lead_cases_house(db: Database, tmp_path: Path):
    """The lead came first (its case opened, measured on the lead's outline); a survey then brings the house. The
    scan gives the house to the lead's case — one case for one building, with the lead code — where before it
    opened a second case for the house. A house off the lead opens its own case."""
    x, y = 500_000, 2_830_000
    gpd.GeoDataFrame({"BSM": ["F1"]}, geometry=[box(x, y, x + 200, y + 100)], crs=4546).to_file(tmp_path / "f.gpkg")
    import_layer(db.factory, "farmland", tmp_path / "f.gpkg")
    gpd.GeoDataFrame({"JCBH": ["L-1"]}, geometry=[box(x + 9, y + 9, x + 21, y + 21)], crs=4546
                     ).to_file(tmp_path / "leads.gpkg")
    assert import_leads(db.factory, tmp_path / "leads.gpkg", RuleSet()).created == 1
    gpd.GeoDataFrame({"id": ["H1", "H2"], "built_on": ["2021-05-01", "2021-06-01"]},
                     geometry=[box(x + 10, y + 10, x + 20, y + 20), box(x + 110, y + 10, x + 120, y + 20)],
                     crs=4546).to_file(tmp_path / "h.gpkg")
    import_layer(db.factory, "houses", tmp_path / "h.gpkg")
    report = scan(db.factory, RuleSet())
    assert report.created == 1  # H2 alone
    with db.factory() as s:
        keys = dict(s.execute(select(models.House.id, models.House.source_key)).all())
        cases = {c.code: c for c in s.execute(select(models.Case)).scalars()}
        lead = cases["L-1"]
        actions = [e.action for e in s.execute(select(models.CaseEvent).where(models.CaseEvent.case_id == lead.id)
                                               .order_by(models.CaseEvent.id)).scalars()]
    assert len(cases) == 2 and keys[lead.house_id] == "H1" and lead.origin == "lead"
    assert lead.period == "after_cutoff" and lead.footprint_m2 == pytest.approx(100.0)  # measured on the house now
    assert "house_attached" in actions  # the survey's house is the lead's building
    assert keys[next(c.house_id for c in cases.values() if c.code != "L-1")] == "H2"
    again = scan(db.factory, RuleSet())
    assert again.created == 0


def test_leads_without_a_code_are_refused(db: Database, tmp_path: Path):
    gpd.GeoDataFrame({"name": ["x"]}, geometry=[box(500000, 2830000, 500001, 2830001)], crs=4546
                     ).to_file(tmp_path / "l.gpkg")
    with pytest.raises(RedlineInputError, match="lead code"):
        import_leads(db.factory, tmp_path / "l.gpkg", RuleSet())
