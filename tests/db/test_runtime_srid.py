"""The county CRS is a setting read at run time, not at import: a database made for Beijing's zone (EPSG:4548,
CGCS2000 3-degree GK CM 117E) stores, measures and serves geometry in that CRS, and settings that name another
CRS than the database's are refused with the reason, before anything is read or written."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from api.cli import app as cli
from api.db import models
from api.db.engine import make_engine, make_sessionmaker, stored_srid
from api.db.migrate import upgrade
from api.http.app import create_app
from api.ingest.layers import import_layer
from api.settings import Settings, get_settings
from gis.errors import RedlineInputError
from tests.conftest import BACKENDS, fixture_path

BEIJING = 4548
GBK_SHP = ("vector", "china_coord_convert", "DERIVED_gbk_cgcs2000", "beijing_buildings_cgcs2000_gk117_gbk.shp")


@pytest.fixture(params=BACKENDS)
def beijing_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new database migrated for EPSG:4548."""
    if request.param == "spatialite":
        url = f"sqlite:///{tmp_path / 'beijing.sqlite'}"
        engine = make_engine(url)
        upgrade(engine, srid=BEIJING)
        engine.dispose()
        yield url
        return
    base = os.environ.get("REDLINE_TEST_POSTGIS_URL")
    if not base:
        if os.environ.get("REDLINE_REQUIRE_POSTGIS") == "1":
            pytest.fail("REDLINE_REQUIRE_POSTGIS=1 but REDLINE_TEST_POSTGIS_URL is not set")
        pytest.skip("PostGIS not configured")
    name = f"redline_srid_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    upgrade(engine, srid=BEIJING)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_database_in_another_zone_stores_and_serves_in_that_crs(beijing_db: str, tmp_path: Path):
    engine = make_engine(beijing_db)
    assert stored_srid(engine) == BEIJING
    factory = make_sessionmaker(engine, srid=BEIJING)
    report = import_layer(factory, "houses", fixture_path(*GBK_SHP), id_field="gid")
    assert report.inserted == 263 and report.dropped == 0
    source = gpd.read_file(fixture_path(*GBK_SHP)).sort_values("gid")
    with factory() as s:
        srids = set(s.execute(select(func.ST_SRID(models.House.geom))).scalars())
        stored = dict(s.execute(select(models.House.source_key, models.House.area_m2)).all())
    assert srids == {BEIJING}
    # The source is in this very CRS: no reprojection, the same areas to the square millimetre.
    np.testing.assert_allclose([stored[str(g)] for g in source["gid"]], source.geometry.area.to_numpy(), atol=1e-6)
    engine.dispose()

    settings = Settings(database_url=beijing_db, srid=BEIJING, var_dir=tmp_path / "var")
    web = create_app(settings)
    with TestClient(web) as client:
        lon, lat = source.to_crs(4326).geometry.union_all().centroid.coords[0]
        factory2 = web.state.sessionmaker
        with factory2.begin() as s:
            from api.accounts.users import create_user

            create_user(s, "viewer", "long-enough-pw", "county_reviewer")
        token = client.post("/api/auth/token", json={"username": "viewer", "password": "long-enough-pw"}).json()
        got = client.get(f"/api/layers/houses?bbox={lon - 0.05},{lat - 0.05},{lon + 0.05},{lat + 0.05}",
                         headers={"Authorization": f"Bearer {token['access_token']}"})
        assert got.status_code == 200 and len(got.json()["features"]) == 263
        first = got.json()["features"][0]["geometry"]["coordinates"][0][0][0]
        assert abs(first[0] - lon) < 0.1 and abs(first[1] - lat) < 0.1  # WGS84 degrees in Beijing
    web.state.engine.dispose()


def test_settings_naming_another_crs_are_refused(beijing_db: str, tmp_path: Path):
    with pytest.raises(RedlineInputError, match=r"EPSG:4548.*EPSG:4546.*REDLINE_SRID=4548"):
        create_app(Settings(database_url=beijing_db, srid=4546, var_dir=tmp_path / "var"))


def test_db_upgrade_makes_the_columns_in_the_configured_crs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("REDLINE_DATABASE_URL", url)
    monkeypatch.setenv("REDLINE_SRID", str(BEIJING))
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(cli, ["db", "upgrade"])
        assert done.exit_code == 0, done.output
        assert stored_srid(make_engine(url)) == BEIJING
        monkeypatch.setenv("REDLINE_SRID", "4546")
        get_settings.cache_clear()
        refused = CliRunner().invoke(cli, ["db", "upgrade"])
        assert refused.exit_code == 2 and "REDLINE_SRID=4548" in refused.output
    finally:
        get_settings.cache_clear()
