"""An app on a fresh database (both backends) with a small scanned county and one user per role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely import box

from api.accounts.users import create_user
from api.db.models import Case
from api.db.repository import read_frame
from api.http.app import create_app
from api.ingest.layers import import_layer
from api.ingest.scan import scan
from api.settings import Settings
from gis.rules import RuleSet
from tests.conftest import DEMO, Database, from_built

TO_WEB = Transformer.from_crs(4546, 4326, always_xy=True)
PASSWORD = "correct-horse-battery"
T1, T2 = "431021101000", "431021102000"


@dataclass
class Site:
    """The test client, the database and what the fixture built."""

    client: TestClient
    db: Database
    village_code: str
    centre: tuple[float, float]
    tokens: dict[str, str] = field(default_factory=dict)

    def as_user(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            r = self.client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def _houses_in(village, tag: str, built: list[str | None]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    c = village.geometry.representative_point()
    x, y = c.x, c.y
    farmland = gpd.GeoDataFrame({"BSM": [f"F{tag}"], "DLBM": ["0101"]}, geometry=[box(x, y, x + 100, y + 100)],
                                crs=4546)
    houses = gpd.GeoDataFrame(
        {"id": [f"{tag}{i}" for i in range(1, 6)], "built_on": built},
        geometry=[box(x + 10, y + 10, x + 20, y + 20), box(x + 30, y + 10, x + 45, y + 22),
                  box(x + 95, y + 50, x + 105, y + 60), box(x + 50, y + 50, x + 60, y + 60),
                  box(x + 200, y + 200, x + 210, y + 210)], crs=4546)
    return farmland, houses


def build_site(db: Database, folder: Path) -> tuple[str, tuple[float, float]]:
    """Two townships, five houses in a village of each (four on farmland), scanned; users for every role.
    Returns the first village's code and a point (lon, lat) inside its farmland square."""
    import_layer(db.factory, "townships", DEMO / "townships.parquet")
    villages = gpd.read_parquet(DEMO / "townships.parquet")
    villages = villages[villages["XZQDM"].str.len() == 12]
    v1 = villages[villages["XZQDM"].str.startswith(T1[:9])].iloc[0]
    v2 = villages[villages["XZQDM"].str.startswith(T2[:9])].iloc[0]
    built = ["2021-05-01", "2019-01-01", "2022-01-01", None, "2021-01-01"]
    parts = [_houses_in(v1, "A", built), _houses_in(v2, "B", built)]
    farmland = gpd.GeoDataFrame(gpd.pd.concat([p[0] for p in parts]), crs=4546)
    houses = gpd.GeoDataFrame(gpd.pd.concat([p[1] for p in parts]), crs=4546)
    farmland.to_file(folder / "f.gpkg")
    houses.to_file(folder / "h.gpkg")
    import_layer(db.factory, "farmland", folder / "f.gpkg")
    import_layer(db.factory, "houses", folder / "h.gpkg")
    scan(db.factory, RuleSet())
    with db.factory.begin() as s:
        create_user(s, "admin", PASSWORD, "admin")
        create_user(s, "county", PASSWORD, "county_reviewer")
        create_user(s, "officer1", PASSWORD, "township_officer", T1)
        create_user(s, "inspector1", PASSWORD, "inspector", T1)
        create_user(s, "officer2", PASSWORD, "township_officer", T2)
        create_user(s, "inspector2", PASSWORD, "inspector", T2)
    c = v1.geometry.representative_point()
    lon, lat = TO_WEB.transform(c.x + 50, c.y + 50)
    return str(v1["XZQDM"]), (float(lon), float(lat))


@pytest.fixture
def site(db: Database, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """Two townships, five houses in a village of each (four on farmland), scanned; users for every role
    (`build_site`, built once per session and copied into this test's database)."""
    village_code, centre = from_built(request, db, "site", build_site)
    with serving_site(db, tmp_path, village_code, centre) as built:
        yield built


@contextmanager
def serving_site(db: Database, tmp_path: Path, village_code: str, centre: tuple[float, float]) -> Iterator[Site]:
    """The app on `db` (photos under tmp_path/var), with a test client."""
    app = create_app(Settings(database_url=db.url, var_dir=tmp_path / "var"))
    with TestClient(app) as client:
        yield Site(client, db, village_code, centre)
    app.state.engine.dispose()


def off_permanent_farmland(site: Site, folder: Path, house: str = "A2") -> int:
    """Move `house` (still a new case) from permanent basic farmland onto ordinary cultivated land, and return its
    case: the farmland square loses the house and 10 m around it (room for a wing), which a 三调 dry-land parcel
    (旱地 0103) takes; then a scan measures the case again. Keeping a house, for a fine, after the fact or
    confiscated, is lawful only off permanent basic farmland, so that is where a test of those paths stands."""
    cid = case_id(site, house)
    with site.db.factory() as s:
        footprint = read_frame(s, Case, where=[Case.id == cid]).geometry.iloc[0]
    around = footprint.buffer(10, join_style="mitre")
    farmland = gpd.read_file(folder / "f.gpkg")
    farmland["geometry"] = farmland.geometry.difference(around)
    farmland.to_file(folder / "f_without_house.gpkg")
    import_layer(site.db.factory, "farmland", folder / "f_without_house.gpkg")
    gpd.GeoDataFrame({"BSM": [f"DLTB-{house}"], "DLBM": ["0103"], "DLMC": ["旱地"]}, geometry=[around],
                     crs=farmland.crs).to_file(folder / "dltb.gpkg")
    import_layer(site.db.factory, "dltb", folder / "dltb.gpkg")
    scan(site.db.factory, RuleSet())
    return cid


def case_id(site: Site, house: str, user: str = "admin") -> int:
    items = site.client.get("/api/cases", headers=site.as_user(user)).json()["items"]
    return next(i["id"] for i in items if i["code"].endswith(f"-{house}"))
