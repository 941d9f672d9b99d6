"""The Dask path gives the single-machine answer: demo county, houses straddling partitions, a real cluster."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import box

from bench.synthetic import farmland as synthetic_farmland
from bench.synthetic import houses as synthetic_houses
from gis.engine import CheckInputs, check
from gis.partitioned import check_partitioned, read_partitions, write_partitions
from gis.rules import RuleSet
from tests.gis.test_demo_truth import load

pytest.importorskip("dask_geopandas")


def same(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    a = a.sort_values("house_id").reset_index(drop=True)
    b = b.sort_values("house_id").reset_index(drop=True)
    assert list(a["house_id"]) == list(b["house_id"])
    for col in a.columns:
        if col == "geometry":
            continue
        if a[col].dtype.kind == "f":
            assert np.allclose(a[col].to_numpy(), b[col].to_numpy(), atol=0.01, equal_nan=True), col
        else:
            assert (a[col].astype(str) == b[col].astype(str)).all(), col


def test_demo_county_partitioned_equals_single(tmp_path: Path):
    inputs = load(Path(__file__).resolve().parents[2] / "data" / "demo")
    single = check(inputs, RuleSet()).houses
    layers = {"farmland": inputs.farmland, "cultivated": inputs.cultivated, "baseline": inputs.baseline,
              "approvals": inputs.approvals, "plots": inputs.plots}
    parted = check_partitioned(inputs.houses, layers, households=inputs.households, npartitions=7, rules=RuleSet())
    assert list(parted.houses["house_id"]) == list(single["house_id"])  # same rows, same order
    same(single, parted.houses)


def test_houses_straddling_partition_edges_are_measured_once():
    rng = np.random.default_rng(3)
    houses = synthetic_houses(6000, rng)
    # Big farmland blocks that span many house partitions, plus houses laid across block edges.
    farmland = gpd.GeoDataFrame(geometry=[box(440_000 + x, 2_800_000 + y, 440_000 + x + 700, 2_800_000 + y + 700)
                                          for x in range(0, 2000, 1000) for y in range(0, 2000, 1000)], crs=4546)
    single = check(CheckInputs(houses=houses, farmland=farmland), RuleSet()).houses
    parted = check_partitioned(houses, {"farmland": farmland}, npartitions=12, rules=RuleSet()).houses
    assert len(parted) == len(single) == 6000 and parted["house_id"].is_unique
    same(single, parted)
    assert ((single.farmland_m2 > 0) & (single.farmland_m2 < single.footprint_m2)).sum() > 10  # straddlers


def test_partition_files_round_trip(tmp_path: Path):
    rng = np.random.default_rng(4)
    houses = synthetic_houses(5000, rng)
    farm = synthetic_farmland(800, 1800.0, rng)
    n = write_partitions(houses, tmp_path / "houses", 6)
    assert n == 6 and len(list((tmp_path / "houses").glob("*.parquet"))) == 6
    write_partitions(farm, tmp_path / "farm", 3)
    parted = check_partitioned(read_partitions(tmp_path / "houses"), {"farmland": read_partitions(tmp_path / "farm")},
                               rules=RuleSet())
    single = check(CheckInputs(houses=houses, farmland=farm), RuleSet()).houses
    same(single, parted.houses)


def test_workers_write_the_result_partitions(tmp_path: Path):
    rng = np.random.default_rng(7)
    houses = synthetic_houses(5000, rng)
    farm = synthetic_farmland(800, 1800.0, rng)
    write_partitions(houses, tmp_path / "houses", 5)
    out = tmp_path / "result"
    out.mkdir()
    (out / "part.00099.parquet").write_bytes(b"stale")  # a previous run's leftover must not survive
    parted = check_partitioned(read_partitions(tmp_path / "houses"), {"farmland": farm}, out_dir=out, rules=RuleSet())
    single = check(CheckInputs(houses=houses, farmland=farm), RuleSet()).houses
    assert sorted(p.name for p in out.glob("*.parquet")) == [f"part.{i:05d}.parquet" for i in range(5)]
    written = gpd.read_parquet(out)
    assert written.crs == single.crs and len(written) == 5000
    same(single, written)
    assert np.allclose(written.sort_values("house_id").area, single.sort_values("house_id").footprint_m2)
    # Only attributes came back to the client, in input order.
    assert parted.houses.geometry.isna().all() and len(parted.houses) == 5000
    same(single.drop(columns="geometry"), parted.houses.drop(columns="geometry"))


@pytest.mark.xdist_group("dask")
def test_on_a_cluster_with_worker_processes(dask_scheduler: str):
    from distributed import Client

    rng = np.random.default_rng(5)
    houses = synthetic_houses(8000, rng)
    farm = synthetic_farmland(1200, 2300.0, rng)
    single = check(CheckInputs(houses=houses, farmland=farm), RuleSet()).houses
    with Client(dask_scheduler) as client:
        done: list[int] = []
        parted = check_partitioned(houses, {"farmland": farm}, client=client, npartitions=8,
                                   progress=done.append, rules=RuleSet()).houses
    same(single, parted)
    assert sum(done) == 8
    assert isinstance(parted, pd.DataFrame)


def test_empty_house_geometries_are_reported_not_lost():
    from shapely import Polygon

    rng = np.random.default_rng(6)
    houses = synthetic_houses(500, rng)
    houses.loc[[3, 7], "geometry"] = [Polygon(), None]
    farm = synthetic_farmland(100, 600.0, rng)
    result = check_partitioned(houses, {"farmland": farm}, npartitions=4, rules=RuleSet())
    assert len(result.houses) == 498
    dropped = result.repairs[result.repairs["action"] == "dropped"]
    assert sorted(dropped["row"]) == [4, 8]


@pytest.mark.xdist_group("dask")
def test_a_worker_lost_mid_run_does_not_change_the_result(dask_scheduler: str):
    """A worker process killed with its tasks in flight (SIGKILL, as the OOM killer would): the scheduler
    reruns them elsewhere and the answer is the single-machine one. On the shared cluster (its nanny starts a
    new worker, so the tests after this one still have two): a cluster of its own cost 10-50 s to start."""
    import os
    import signal
    import threading

    from distributed import Client

    rng = np.random.default_rng(8)
    houses = synthetic_houses(12000, rng)
    farm = synthetic_farmland(2000, 2800.0, rng)
    single = check(CheckInputs(houses=houses, farmland=farm), RuleSet()).houses
    with Client(dask_scheduler) as client:
        pids = client.run(os.getpid)
        assert len(pids) == 2
        done: list[int] = []
        killed = threading.Event()

        def kill_one_worker_after_the_first_partition(n: int) -> None:
            done.append(n)
            if len(done) == 1 and not killed.is_set():
                killed.set()
                os.kill(next(iter(pids.values())), signal.SIGKILL)  # the worker dies with its tasks in flight

        parted = check_partitioned(houses, {"farmland": farm}, client=client, npartitions=12, retries=3,
                                   progress=kill_one_worker_after_the_first_partition, rules=RuleSet()).houses
        assert killed.is_set()
        client.wait_for_workers(2, timeout=120)  # the nanny's new worker, for the tests that follow
    same(single, parted)
