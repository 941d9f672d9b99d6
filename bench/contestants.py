"""One contestant per process (so peak RSS is its own): compute each house's area on farmland.

Usage: python -m bench.contestants NAME HOUSES.parquet FARMLAND.parquet OUT.parquet [--workers N] [--pg-url URL]
Prints one JSON line: {"name", "seconds", "peak_rss_mb", "houses"}; writes house_id, farmland_m2 to OUT.
Only the computation is timed: loading the files (and, for the databases, loading and indexing the tables)
is not, so each engine is measured on the work itself.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from gis.rules import RuleSet


def redline(houses: gpd.GeoDataFrame, farmland: gpd.GeoDataFrame, workers: int | None,
            **_: object) -> tuple[pd.DataFrame, float]:
    from gis.engine import CheckInputs, check
    from gis.kernels import warm_up

    warm_up()  # Numba loads its compiled kernels from disk (as DuckDB loads its extension before timing)
    t = time.perf_counter()
    result = check(CheckInputs(houses=houses, farmland=farmland), RuleSet(), workers=workers).houses
    seconds = time.perf_counter() - t
    return pd.DataFrame({"house_id": result["house_id"], "farmland_m2": result["farmland_m2"]}), seconds


def geopandas_overlay(houses: gpd.GeoDataFrame, farmland: gpd.GeoDataFrame,
                      **_: object) -> tuple[pd.DataFrame, float]:
    t = time.perf_counter()
    pieces = gpd.overlay(houses, farmland, how="intersection", keep_geom_type=True)
    area = pieces.assign(a=pieces.area).groupby("house_id")["a"].sum()
    seconds = time.perf_counter() - t
    out = pd.DataFrame({"house_id": houses["house_id"]})
    out["farmland_m2"] = out["house_id"].map(area).fillna(0.0)
    return out, seconds


SQL = """
SELECT h.house_id, SUM(ST_Area(ST_Intersection(h.geom, f.geom))) AS farmland_m2
FROM houses h JOIN farmland f ON ST_Intersects(h.geom, f.geom)
GROUP BY h.house_id
"""


def duckdb_spatial(houses: gpd.GeoDataFrame, farmland: gpd.GeoDataFrame, workers: int | None,
                   **_: object) -> tuple[pd.DataFrame, float]:
    import duckdb
    import duckdb_extension_spatial

    con = duckdb.connect()
    # The PyPI package ships the extension binary; load it by path (no download at run time).
    ext_dir = Path(duckdb_extension_spatial.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    con.execute(f"LOAD '{ext_dir / 'spatial.duckdb_extension'}'")
    if workers:
        con.execute(f"SET threads = {workers}")
    h = pd.DataFrame({"house_id": houses["house_id"], "wkb": shapely.to_wkb(houses.geometry.to_numpy())})
    f = pd.DataFrame({"wkb": shapely.to_wkb(farmland.geometry.to_numpy())})
    con.register("h", h)
    con.register("f", f)
    con.execute("CREATE TABLE houses AS SELECT house_id, ST_GeomFromWKB(wkb) AS geom FROM h")
    con.execute("CREATE TABLE farmland AS SELECT ST_GeomFromWKB(wkb) AS geom FROM f")
    t = time.perf_counter()
    res = con.execute(SQL).df()
    seconds = time.perf_counter() - t
    return _complete(houses, res), seconds


def postgis(houses: gpd.GeoDataFrame, farmland: gpd.GeoDataFrame, workers: int | None, pg_url: str,
            **_: object) -> tuple[pd.DataFrame, float]:
    import psycopg

    conninfo = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS bench_houses, bench_farmland")
        con.execute("CREATE UNLOGGED TABLE bench_houses (house_id bigint, geom geometry(Polygon, 4546))")
        con.execute("CREATE UNLOGGED TABLE bench_farmland (geom geometry(Geometry, 4546))")
        for table, frame, cols in (("bench_houses", houses, ["house_id"]), ("bench_farmland", farmland, [])):
            ewkb = shapely.to_wkb(shapely.set_srid(frame.geometry.to_numpy(), 4546), hex=True, include_srid=True)
            keys = [frame[c].to_numpy() for c in cols]
            with con.cursor().copy(f"COPY {table} ({', '.join([*cols, 'geom'])}) FROM STDIN") as copy:
                for i, geom in enumerate(ewkb):
                    copy.write_row([*(int(k[i]) for k in keys), geom])
        con.execute("CREATE INDEX ON bench_houses USING gist (geom)")
        con.execute("CREATE INDEX ON bench_farmland USING gist (geom)")
        con.execute("ANALYZE bench_houses")
        con.execute("ANALYZE bench_farmland")
        con.execute(f"SET max_parallel_workers_per_gather = {workers or 2}")
        t = time.perf_counter()
        sql = SQL.replace("houses h", "bench_houses h").replace("farmland f", "bench_farmland f")
        rows = con.execute(sql).fetchall()
        seconds = time.perf_counter() - t
        con.execute("DROP TABLE bench_houses, bench_farmland")
    res = pd.DataFrame(rows, columns=["house_id", "farmland_m2"])
    return _complete(houses, res), seconds


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM: unlike ru_maxrss it does not inherit the parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _complete(houses: gpd.GeoDataFrame, res: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"house_id": houses["house_id"]})
    out["farmland_m2"] = out["house_id"].map(res.set_index("house_id")["farmland_m2"].astype(float)).fillna(0.0)
    return out


CONTESTANTS = {"redline": redline, "geopandas": geopandas_overlay, "duckdb": duckdb_spatial, "postgis": postgis}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("name", choices=sorted(CONTESTANTS))
    p.add_argument("houses", type=Path)
    p.add_argument("farmland", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--pg-url", default="")
    args = p.parse_args()
    houses, farmland = gpd.read_parquet(args.houses), gpd.read_parquet(args.farmland)
    result, seconds = CONTESTANTS[args.name](houses, farmland, workers=args.workers, pg_url=args.pg_url)
    result.to_parquet(args.out)
    rss = _peak_rss_mb()
    print(json.dumps({"name": args.name, "seconds": seconds, "peak_rss_mb": rss, "houses": len(houses)}))


if __name__ == "__main__":
    main()
