"""Satellite change leads (卫片图斑) become cases, once each, measured against the stored layers."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely import box
from sqlalchemy import select

from api.db import models
from api.ingest.layers import import_layer
from api.ingest.leads import import_leads
from gis.errors import RedlineInputError
from gis.rules import RuleSet
from tests.conftest import DEMO, Database


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


def test_leads_without_a_code_are_refused(db: Database, tmp_path: Path):
    gpd.GeoDataFrame({"name": ["x"]}, geometry=[box(500000, 2830000, 500001, 2830001)], crs=4546
                     ).to_file(tmp_path / "l.gpkg")
    with pytest.raises(RedlineInputError, match="lead code"):
        import_leads(db.factory, tmp_path / "l.gpkg", RuleSet())
