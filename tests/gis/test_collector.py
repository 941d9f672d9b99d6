"""The cyclic collector is held off while a county's geometries are made and measured (`gis.collector`), and
runs again afterwards: a pause that leaked would leave a server's cycles uncollected for good."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.collector import cycle_collector_paused, is_paused
from gis.engine import CheckInputs, check
from gis.files import CheckFiles, run_check
from gis.rules import RuleSet
from tests.gc_watch import counted_collections

CRS = "EPSG:4546"


def county(n: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """`n` 10 m houses on a 20 m grid, and farmland polygons under every other column of them (metres)."""
    side = int(np.ceil(np.sqrt(n)))
    x = 500_000.0 + 20.0 * (np.arange(n) % side)
    y = 2_830_000.0 + 20.0 * (np.arange(n) // side)
    houses = gpd.GeoDataFrame({"house_id": [f"H{i}" for i in range(n)]},
                              geometry=shapely.box(x, y, x + 10, y + 10), crs=CRS)
    cols = np.arange(0, side, 2)
    fx = 500_000.0 + 20.0 * cols - 3
    farmland = gpd.GeoDataFrame(geometry=shapely.box(fx, 2_830_000.0 - 5, fx + 8, 2_830_000.0 + 20.0 * side),
                                crs=CRS)
    return houses, farmland


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not was:
            gc.disable()


def test_the_collector_waits_for_the_last_holder_and_runs_again(collector_on):
    first_in, release = threading.Event(), threading.Event()

    def hold() -> None:
        with cycle_collector_paused():
            first_in.set()
            release.wait(10)

    other = threading.Thread(target=hold)
    other.start()
    assert first_in.wait(10)
    with cycle_collector_paused():
        assert not gc.isenabled() and is_paused()
    assert not gc.isenabled(), "the other thread's work still runs: the collector must still wait"
    release.set()
    other.join(10)
    assert gc.isenabled() and not is_paused()


def test_a_collector_switched_off_before_stays_off(collector_on):
    gc.disable()
    with cycle_collector_paused():
        pass
    assert not gc.isenabled()
    gc.enable()


def test_the_collector_runs_again_after_a_failed_check(collector_on):
    houses, farmland = county(4)
    with pytest.raises(Exception, match="house_id"):
        check(CheckInputs(houses.drop(columns="house_id"), farmland), RuleSet())
    assert gc.isenabled() and not is_paused()


def test_a_check_of_thousands_of_houses_makes_no_cyclic_collection(collector_on):
    houses, farmland = county(20_000)
    with counted_collections() as started:
        result = check(CheckInputs(houses, farmland), RuleSet())
    assert started == [], "every geometry made set the collector off (shapely's objects are tracked)"
    assert gc.isenabled()
    # The west 5 m of every other column of houses lies on farmland: 50 m² each, the rest none.
    on = result.houses["farmland_m2"].to_numpy()
    assert np.isin(np.round(on, 6), [0.0, 50.0]).all() and (on > 0).sum() == pytest.approx(10_000, abs=200)


def test_reading_checking_and_writing_files_makes_no_cyclic_collection(collector_on, tmp_path: Path):
    houses, farmland = county(20_000)
    houses.to_parquet(tmp_path / "houses.parquet")
    farmland.to_parquet(tmp_path / "farmland.parquet")
    out = tmp_path / "result.parquet"
    with counted_collections() as started:
        run_check(CheckFiles(houses=tmp_path / "houses.parquet", farmland=tmp_path / "farmland.parquet"), out,
                  RuleSet())
    assert started == []
    assert gc.isenabled()
    written = pd.read_parquet(out, columns=["house_id", "farmland_m2"])
    assert len(written) == 20_000 and written["farmland_m2"].max() == pytest.approx(50.0)
