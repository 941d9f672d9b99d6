"""`redline check` end to end against DuckDB and PostGIS loading and querying the same files, side by side.

    python -m bench.check_cli [--houses 1000000] [--families voronoi,fields] [--peers duckdb,postgis,floor]
                              [--pg-url URL] [--repeat 1]

For each synthetic family (bench/synthetic.py) every contestant is a fresh process, timed from its start
until its result file is written (the wall time a user waits):

- `redline`: the command users run, `redline check --farmland F --houses H --out R.parquet` (GeoParquet in,
  GeoParquet out with every result column and the footprint).
- `duckdb`: DuckDB spatial reads both GeoParquet files into tables, joins (`ST_Intersects`), sums
  `ST_Area(ST_Intersection(...))` per house and writes house_id, farmland_m2 to Parquet.
- `postgis`: reads both files, COPYs them into unlogged tables, builds GiST indexes, ANALYZE, runs the same
  query with parallel workers and writes the Parquet (the server is already running: not timed).
- `floor`: the issue's "read + kernel", not a product: read both files with geopandas, find candidate pairs
  with an STRtree and clip each (convex) house against its polygons with Redline's compiled kernel on all
  cores; no validation, no rules, nothing written. It was the lower bound for this job while Redline decoded
  every footprint as the floor does; since stop 43 Redline decodes only those GEOS must handle
  (`gis.footprints`), so it can come close to the floor or pass it while doing more.

The Python contestants (Redline, the floor, the PostGIS loader) run alike: Python's cyclic collector held off
while geometries are made (`gis.collector`) and a frozen heap at exit (`gis.collector.freeze_at_exit`). With
`--repeat N` the contestants run in N rounds, each round all of them one after another, and each keeps its best
time.

Every contestant's per-house farmland area is checked against Redline's (|diff| < 0.01 m²). Without --pg-url a
throwaway PostGIS cluster is started with scripts/postgis.sh.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from bench.readme import add_readme_option, markdown_table, write_block
from gis.collector import cycle_collector_paused, freeze_at_exit

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SRID = 4546

#: The issue's targets: Redline end to end at least this many times faster than each peer (for the floor: at
#: most this many times slower).
TARGETS = {"duckdb": 1.5, "postgis": 5.0, "floor": 1 / 1.2}

PEER_SQL = """
SELECT h.house_id, SUM(ST_Area(ST_Intersection(h.geom, f.geom))) AS farmland_m2
FROM {houses} h JOIN {farmland} f ON ST_Intersects(h.geom, f.geom)
GROUP BY h.house_id
"""


# --- contestants (each runs in its own process: `python -m bench.check_cli peer NAME H F OUT`) -----------------

def peer_duckdb(houses: Path, farmland: Path, out: Path, workers: int, **_: object) -> None:
    import duckdb
    import duckdb_extension_spatial

    con = duckdb.connect()
    ext_dir = Path(duckdb_extension_spatial.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    con.execute(f"LOAD '{ext_dir / 'spatial.duckdb_extension'}'")
    con.execute(f"SET threads = {workers}")

    def geom(path: Path) -> str:
        # With spatial loaded DuckDB reads a GeoParquet geometry column as GEOMETRY; plain WKB otherwise.
        kind = con.execute(f"SELECT typeof(geometry) FROM read_parquet('{path}') LIMIT 1").fetchone()
        return "geometry" if kind and str(kind[0]).startswith("GEOMETRY") else "ST_GeomFromWKB(geometry)"

    con.execute(f"CREATE TABLE houses AS SELECT house_id, {geom(houses)} AS geom FROM read_parquet('{houses}')")
    con.execute(f"CREATE TABLE farmland AS SELECT {geom(farmland)} AS geom FROM read_parquet('{farmland}')")
    query = PEER_SQL.format(houses="houses", farmland="farmland")
    con.execute(f"COPY ({query}) TO '{out}' (FORMAT parquet)")


def peer_postgis(houses: Path, farmland: Path, out: Path, workers: int, pg_url: str, **_: object) -> None:
    import psycopg
    import pyarrow as pa
    import pyarrow.parquet as pq

    def lines(path: Path, with_id: bool) -> bytes:
        """COPY text rows: the id and the geometry as hex EWKB (PostGIS parses it on input)."""
        import shapely

        table = pq.read_table(path, columns=["house_id", "geometry"] if with_id else ["geometry"])
        geoms = shapely.set_srid(shapely.from_wkb(table["geometry"].to_numpy(zero_copy_only=False)), SRID)
        ewkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
        rows = (np.char.add(np.char.add(table["house_id"].to_numpy().astype(str), "\t"), ewkb.astype(str))
                if with_id else ewkb.astype(str))
        return ("\n".join(rows.tolist()) + "\n").encode()

    conninfo = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS e2e_houses, e2e_farmland")
        con.execute(f"CREATE UNLOGGED TABLE e2e_houses (house_id bigint, geom geometry(Polygon, {SRID}))")
        con.execute(f"CREATE UNLOGGED TABLE e2e_farmland (geom geometry(Geometry, {SRID}))")
        for table, path, with_id in (("e2e_houses", houses, True), ("e2e_farmland", farmland, False)):
            data = lines(path, with_id)
            with con.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                for i in range(0, len(data), 1 << 24):
                    copy.write(data[i:i + (1 << 24)])
        con.execute("CREATE INDEX ON e2e_houses USING gist (geom)")
        con.execute("CREATE INDEX ON e2e_farmland USING gist (geom)")
        con.execute("ANALYZE e2e_houses")
        con.execute("ANALYZE e2e_farmland")
        con.execute(f"SET max_parallel_workers_per_gather = {workers}")
        rows = con.execute(PEER_SQL.format(houses="e2e_houses", farmland="e2e_farmland")).fetchall()
        con.execute("DROP TABLE e2e_houses, e2e_farmland")
    ids, areas = zip(*rows, strict=True) if rows else ((), ())
    pq.write_table(pa.table({"house_id": pa.array(ids, pa.int64()), "farmland_m2": pa.array(areas, pa.float64())}),
                   out)


def peer_floor(houses: Path, farmland: Path, out: Path, workers: int, **_: object) -> None:
    import geopandas as gpd
    import shapely

    from gis.kernels import Rings, clipped_areas, convex_clip_polygons

    h = gpd.read_parquet(houses).geometry.to_numpy()
    f = gpd.read_parquet(farmland).geometry.to_numpy()
    hi, fi = shapely.STRtree(f).query(h)  # (house, farmland) pairs whose boxes meet
    convex, clip = convex_clip_polygons(h)
    rings = Rings.of(f)
    if not convex[hi].all():
        raise SystemExit("floor: the kernel needs convex houses")
    chunks = np.array_split(np.arange(len(hi)), workers)
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda c: clipped_areas(rings, fi[c], clip, hi[c]), chunks))
    area = np.bincount(hi, weights=np.concatenate(parts), minlength=len(h))
    # Not timed as part of the job (the floor writes nothing): the areas, for the agreement check.
    pd.DataFrame({"house_id": np.arange(len(h)), "farmland_m2": area}).to_parquet(out)


PEERS = {"duckdb": peer_duckdb, "postgis": peer_postgis, "floor": peer_floor}


# --- driver ----------------------------------------------------------------------------------------------------

def _timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return seconds


def _redline(houses: Path, farmland: Path, out: Path) -> list[str]:
    exe = Path(sys.executable).parent / "redline"
    return [str(exe), "check", "--farmland", str(farmland), "--houses", str(houses), "--out", str(out)]


def run_family(family: str, n: int, peers: list[str], workers: int, pg_url: str, repeat: int) -> list[dict]:
    """Time every contestant `repeat` times, in rounds (each round runs them all, one after another), and keep
    each one's best: this machine's speed drifts by 2× over minutes, and rounds spread the drift over all."""
    from bench.synthetic import FAMILIES

    houses, farmland = FAMILIES[family](OUT, n)
    base_out = OUT / f"e2e_redline_{family}_{n}.parquet"
    commands = {"redline check": (_redline(houses, farmland, base_out), base_out)}
    for peer in peers:
        out = OUT / f"e2e_{peer}_{family}_{n}.parquet"
        commands[peer] = ([sys.executable, "-m", "bench.check_cli", "peer", peer, str(houses), str(farmland),
                           str(out), "--workers", str(workers), "--pg-url", pg_url], out)
    seconds: dict[str, float] = {}
    for _ in range(repeat):
        for name, (cmd, _out) in commands.items():
            seconds[name] = min(seconds.get(name, float("inf")), _timed(cmd))
    best = seconds["redline check"]
    base = pd.read_parquet(base_out, columns=["house_id", "farmland_m2"])
    base = base.assign(house_id=base["house_id"].astype(np.int64)).set_index("house_id")["farmland_m2"]
    rows = [{"family": family, "contestant": "redline check", "seconds": best, "max_diff_m2": 0.0}]
    for peer in peers:
        res = pd.read_parquet(commands[peer][1]).set_index("house_id")["farmland_m2"]
        mine = res.reindex(base.index).fillna(0.0).to_numpy()
        rows.append({"family": family, "contestant": peer, "seconds": seconds[peer],
                     "max_diff_m2": float(np.abs(mine - base.to_numpy()).max())})
    for row in rows:
        row["redline_speedup"] = row["seconds"] / best
        target = TARGETS.get(row["contestant"])
        row["target"] = "" if target is None else (f"≥ {target:g}×" if target >= 1 else f"≥ {target:.2f}×")
        row["met"] = "" if target is None else ("met" if row["redline_speedup"] >= target else "**missed**")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode")
    peer = sub.add_parser("peer")
    peer.add_argument("name", choices=sorted(PEERS))
    peer.add_argument("houses", type=Path)
    peer.add_argument("farmland", type=Path)
    peer.add_argument("out", type=Path)
    peer.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    peer.add_argument("--pg-url", default="")
    p.add_argument("--houses", type=int, default=1_000_000)
    p.add_argument("--families", default="voronoi,fields")
    p.add_argument("--peers", default="duckdb,postgis,floor")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--pg-url", default="")
    p.add_argument("--repeat", type=int, default=1, help="runs per contestant; the best is kept")
    add_readme_option(p)
    args = p.parse_args()
    if args.mode == "peer":
        # As Redline's program runs (`api.cli.main`, `gis.collector`): no cyclic collections while the geometries
        # are made and measured, a frozen heap at exit. Without it the floor would pay ~1 s Redline does not.
        freeze_at_exit()
        with cycle_collector_paused():
            PEERS[args.name](args.houses, args.farmland, args.out, workers=args.workers, pg_url=args.pg_url)
        return
    peers = [x for x in args.peers.split(",") if x]
    pg_url, started = args.pg_url, False
    if "postgis" in peers and not pg_url:
        pg_url = subprocess.run([str(ROOT / "scripts" / "postgis.sh"), "start"], capture_output=True, text=True,
                                check=True).stdout.strip()
        started = True
    try:
        rows = []
        for family in [x for x in args.families.split(",") if x]:
            rows += run_family(family, args.houses, peers, args.workers, pg_url, args.repeat)
        table = pd.DataFrame(rows)
        agree = bool((table["max_diff_m2"] < 0.01).all())
        lines = [f"{args.houses:,} houses, {args.workers} workers, each contestant a fresh process "
                 "(start → result written); Redline × faster is the contestant's seconds ÷ Redline's; "
                 "max diff: the largest difference from Redline's farmland area of a house", "",
                 *markdown_table(["family", "contestant", "seconds", "max diff (m²)", "Redline × faster", "target",
                                  "met"],
                                 [[r["family"], r["contestant"], f"{r['seconds']:.2f}", f"{r['max_diff_m2']:.2g}",
                                   f"{r['redline_speedup']:.2f}", r["target"], r["met"]] for r in rows]),
                 "", "areas agree (|diff| < 0.01 m²)" if agree else "areas DISAGREE (|diff| ≥ 0.01 m²)"]
        print("\n".join(lines))
        if not agree:
            sys.exit(1)
        write_block("check_cli", lines, args.readme)
    finally:
        if started:
            subprocess.run([str(ROOT / "scripts" / "postgis.sh"), "stop"], check=False)


if __name__ == "__main__":
    main()
