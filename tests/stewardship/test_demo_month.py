"""The month's field-chief and abandoned-land figures on the demo county (`make demo`'s data and its
stewardship story), on both databases, checked against figures worked out here by hand from the demo's own
files: the patrol's length from its 16-sided ring, the abandoned areas and the township's cultivated land from
`data/demo/dltb.parquet` reprojected with geopandas — and the printable report's section drawing the same."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import geopandas as gpd
import openpyxl
import pytest
import shapely
from sqlalchemy import select

from api.accounts.users import create_user
from api.db.models import AbandonedRecord, Grid
from api.db.repository import read_frame
from api.ingest.layers import import_layer
from api.reports.export import export_month
from api.settings import Settings
from data import DEMO_TOWNSHIP, story
from gis.rules import MU_M2
from tests.conftest import DEMO, Database

#: A fixed day (mid-month, Asia/Shanghai) so the month's window is known: the story's records are made 12 days
#: before it, its patrols that day, the chiefs named 10 days before it.
NOW = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)
MONTH = "2026-11"
LAYERS = [("townships", "townships.parquet"), ("dltb", "dltb.parquet"), ("farmland", "farmland.parquet"),
          ("plots", "plots.parquet")]


def sheet(book: openpyxl.Workbook, name: str) -> list[dict[str, object]]:
    rows = list(book[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_the_demo_countys_month_of_patrols_and_abandoned_land_by_hand(db: Database, tmp_path: Path):
    for kind, name in LAYERS:
        import_layer(db.factory, kind, DEMO / name)
    with db.factory.begin() as s:
        for name, role, town in (("county", "county_reviewer", None), ("township", "township_officer", DEMO_TOWNSHIP),
                                 ("inspector", "inspector", DEMO_TOWNSHIP)):
            create_user(s, name, "demo-month-password", role, town)
    settings = Settings(database_url=db.url, var_dir=tmp_path)
    told = story.tell_stewardship(db.factory, settings, NOW)
    assert told is not None and told["patrols"] == 2 and told["abandoned"] == 3
    with db.factory() as s:
        records = read_frame(s, AbandonedRecord, ["status", "township_code"])
        patroller_cell = s.execute(select(Grid.code).where(Grid.township_code == DEMO_TOWNSHIP)
                                   .order_by(Grid.code)).scalars().first()
        export = export_month(s, MONTH, tmp_path / "out", settings)
    book = openpyxl.load_workbook(next(f for f in export.files if f.name == "redline_202611.xlsx"))

    # By hand, the patrols: two walks round a 16-sided ring of radius 120 m (the story's track).
    ring_km = 16 * 2 * 120 * math.sin(math.pi / 16) / 1000
    duty = {(r["级别"], r["责任区域"]): r for r in sheet(book, "田长巡田 Patrols")}
    assert len(duty) == 4
    patroller = next(r for r in duty.values() if r["区域代码"] == patroller_cell)
    assert patroller["田长"] == "inspector" and patroller["应巡田 (次)"] == 4 and patroller["已巡田 (次)"] == 2
    assert patroller["网格 (个)"] == 1 and patroller["已巡网格 (个)"] == 1
    assert patroller["巡田里程 (km)"] == pytest.approx(round(2 * ring_km, 2))
    required = sorted((r["应巡田 (次)"], r["已巡田 (次)"]) for r in duty.values())
    assert required == [(0, 0), (1, 0), (2, 0), (4, 2)]  # county, township, village (the officer walked none)

    # By hand, the abandoned land: each record is the whole cultivated parcel it was marked on, measured here
    # from the demo file in the county CRS; the township's cultivated land from the same file.
    parcels = gpd.read_parquet(DEMO / "dltb.parquet").to_crs(4546)
    cultivated = parcels[parcels["DLBM"].isin(["0101", "0102", "0103"])]
    marks = shapely.point_on_surface(records.geometry.to_numpy())
    hits = [cultivated[cultivated.geometry.contains(p)] for p in marks]
    assert all(len(h) == 1 for h in hits)
    found = sum(float(h.geometry.area.iloc[0]) for h in hits)
    township_land = float(cultivated[cultivated["ZLDWDM"].str.startswith(DEMO_TOWNSHIP[:9])].geometry.area.sum())
    land = {r["乡镇代码"]: r for r in sheet(book, "耕地抛荒 Abandoned land")}
    mine = land[DEMO_TOWNSHIP]
    assert mine["本月发现抛荒 (m²)"] == pytest.approx(found, abs=0.05)
    assert mine["本月整治到位 (m²)"] == 0 and mine["整治逾期 (宗)"] == 0  # one remedy decided, due in February
    assert mine["尚未整治 (m²)"] == pytest.approx(found, abs=0.05)
    assert mine["尚未整治 (亩)"] == pytest.approx(found / MU_M2, abs=0.001)
    assert mine["占耕地比例"] == pytest.approx(found / township_land, rel=1e-4)
    assert mine["巡田发现 (条)"] == 0
    assert all(r["本月发现抛荒 (m²)"] == 0 for code, r in land.items() if code != DEMO_TOWNSHIP)

    # The printable report's section says and draws the same month.
    html = next(f for f in export.files if f.name == "redline_202611_report.html").read_text(encoding="utf-8")
    with db.factory() as s:
        cells = len(read_frame(s, Grid))
    said = re.search(r"网格 (\d+) 个，本月已巡 (\d+) 个 · 抛荒 (\d+) 宗（月末未整治 (\d+) 宗）· 巡田轨迹 (\d+) 条",
                     html)
    assert said is not None and int(said[1]) == cells and int(said[2]) >= 1
    assert said.groups()[2:] == ("3", "3", "2")
    assert html.count('class="track"') == 2 and html.count('class="record-open"') == 3
    assert html.count('class="cell-patrolled"') == int(said[2])
    assert "田长制与耕地抛荒" in html and f"{found:,.2f}" in html
