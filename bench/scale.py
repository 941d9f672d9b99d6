"""Benchmark the Dask path: the single-process engine vs a local Dask cluster of 1 and 2 workers.

    python -m bench.scale [--houses 1000000] [--partitions 16]

The houses and farmland are written as partitioned GeoParquet first (as `redline partition` does), so the
workers read their own partitions instead of receiving them from the client. Prints seconds, the ratio to
the single-process engine, per-partition throughput, and checks the results are identical.
"""

from __future__ import annotations

import argparse
import shutil
import time

import geopandas as gpd
import numpy as np

from bench.check_engine import OUT
from bench.synthetic import generate
from gis.engine import CheckInputs, check
from gis.partitioned import check_partitioned, read_partitions, write_partitions
from gis.rules import RuleSet


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--houses", type=int, default=1_000_000)
    p.add_argument("--partitions", type=int, default=16)
    args = p.parse_args()
    from distributed import Client, LocalCluster

    hp, fp = generate(OUT, args.houses)
    houses, farmland = gpd.read_parquet(hp), gpd.read_parquet(fp)
    parts = OUT / f"parts_{args.houses}"
    shutil.rmtree(parts, ignore_errors=True)
    t = time.perf_counter()
    write_partitions(houses, parts / "houses", args.partitions)
    write_partitions(farmland, parts / "farmland", args.partitions)
    prep = time.perf_counter() - t

    t = time.perf_counter()
    single = check(CheckInputs(houses=houses, farmland=farmland), RuleSet()).houses
    single_s = time.perf_counter() - t
    rows = [("engine, 1 process (2 threads)", single_s)]
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as lc, \
                Client(lc) as client:
            t = time.perf_counter()
            result = check_partitioned(read_partitions(parts / "houses"),
                                       {"farmland": read_partitions(parts / "farmland")}, client=client,
                                       rules=RuleSet()).houses
            seconds = time.perf_counter() - t
        diff = np.abs(np.sort(result["farmland_m2"].to_numpy()) - np.sort(single["farmland_m2"].to_numpy())).max()
        assert len(result) == len(single) and diff < 0.01, diff
        rows.append((f"dask, {workers} worker(s)", seconds))
        # The province form: each worker writes its result partition; only attributes come back.
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as lc, \
                Client(lc) as client:
            t = time.perf_counter()
            check_partitioned(read_partitions(parts / "houses"), {"farmland": read_partitions(parts / "farmland")},
                              client=client, out_dir=parts / "result", rules=RuleSet())
            seconds = time.perf_counter() - t
        written = gpd.read_parquet(parts / "result")
        diff = np.abs(np.sort(written["farmland_m2"].to_numpy()) - np.sort(single["farmland_m2"].to_numpy())).max()
        assert len(written) == len(single) and diff < 0.01, diff
        rows.append((f"dask, {workers} worker(s), writing", seconds))
    print(f"{args.houses} houses, {len(farmland)} farmland polygons, {args.partitions} partitions "
          f"(partitioning took {prep:.1f} s, not counted)")
    for name, seconds in rows:
        print(f"{name:<32} {seconds:8.2f} s  x{seconds / single_s:5.2f} vs engine  "
              f"{args.houses / seconds / 1e3:8.1f} k houses/s")
    per_partition = rows[1][1] / args.partitions
    print(f"per partition on one worker: {per_partition:.2f} s for {args.houses // args.partitions} houses")
    print("identical per-house areas: yes")


if __name__ == "__main__":
    main()
