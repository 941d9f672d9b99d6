"""Two imagery passes compared house by house at county-in-a-province size (default 1M houses).

Usage: python -m bench.compare_epochs [--houses N] [--peers]

The county of `bench/synthetic.py`; the earlier pass shows every house shifted by up to 0.4 m (a different
flight, a different digitiser); the later pass loses 5% of the houses (demolished), grows 2% by a wing of
6 m × 7 m, and adds 1% new buildings in the gaps. Timed: `gis.compare.compare` end to end (matching both passes
to the houses, the new parts, the new footprints), and — side by side, with `--peers` — the matching step
alone (each pass's footprints to the houses by the share-of-the-smaller rule) in Redline, in DuckDB spatial
and in geopandas (`sjoin` + `intersection`), which is the part the peers can express directly. The
classification is checked against what the generator did.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from bench.synthetic import houses as synthetic_houses
from gis.compare import CompareRules, compare, matches

SHARE = CompareRules().match_share


def passes(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Houses, the earlier pass, the later pass, and what happened (indices of gone and grown houses)."""
    rng = np.random.default_rng(seed)
    houses = synthetic_houses(n, rng).geometry.to_numpy()
    shift = rng.uniform(-0.4, 0.4, (n, 2))
    before = shapely.transform(houses, lambda xy: xy + np.repeat(shift, 5, axis=0))
    fate = rng.random(n)
    gone, grown = np.flatnonzero(fate < 0.05), np.flatnonzero((fate >= 0.05) & (fate < 0.07))
    after = houses.copy()
    _minx, miny, maxx, _maxy = shapely.bounds(houses[grown]).T
    after[grown] = shapely.union(houses[grown], shapely.box(maxx - 0.5, miny, maxx + 6, miny + 7))
    kept = np.ones(n, dtype=bool)
    kept[gone] = False
    side = int(np.ceil(np.sqrt(n)))
    slots = rng.choice(n, n // 100, replace=False)
    ix, iy = np.divmod(slots, side)
    x = 440_000.0 + ix * 25.0 + 12.5
    y = 2_800_000.0 + iy * 25.0 + 12.5
    new = shapely.box(x - 2.5, y - 2.5, x + 2.5, y + 2.5)  # 5 m × 5 m sheds in the gaps between houses
    return houses, before, np.concatenate([after[kept], new]), {"gone": gone, "grown": grown}


def duckdb_matching(houses: np.ndarray, footprints: np.ndarray) -> tuple[int, float]:
    import duckdb
    import duckdb_extension_spatial

    con = duckdb.connect()
    ext = Path(duckdb_extension_spatial.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    con.execute(f"LOAD '{ext / 'spatial.duckdb_extension'}'")
    con.register("h", pd.DataFrame({"i": np.arange(len(houses)), "wkb": shapely.to_wkb(houses)}))
    con.register("f", pd.DataFrame({"j": np.arange(len(footprints)), "wkb": shapely.to_wkb(footprints)}))
    con.execute("CREATE TABLE houses AS SELECT i, ST_GeomFromWKB(wkb) AS geom FROM h")
    con.execute("CREATE TABLE prints AS SELECT j, ST_GeomFromWKB(wkb) AS geom FROM f")
    t = time.perf_counter()
    pairs = con.execute(f"""
        SELECT count(*) FROM houses h JOIN prints p ON ST_Intersects(h.geom, p.geom)
        WHERE ST_Area(ST_Intersection(h.geom, p.geom)) >= {SHARE} * least(ST_Area(h.geom), ST_Area(p.geom))
    """).fetchone()
    return int(pairs[0]) if pairs else 0, time.perf_counter() - t


def geopandas_matching(houses: np.ndarray, footprints: np.ndarray) -> tuple[int, float]:
    h = gpd.GeoDataFrame({"i": np.arange(len(houses))}, geometry=houses)
    f = gpd.GeoDataFrame({"j": np.arange(len(footprints))}, geometry=footprints)
    t = time.perf_counter()
    pairs = gpd.sjoin(h, f, predicate="intersects")
    right = f.geometry.to_numpy()[pairs["index_right"].to_numpy()]
    left = pairs.geometry.to_numpy()
    common = shapely.area(shapely.intersection(left, right))
    keep = common >= SHARE * np.minimum(shapely.area(left), shapely.area(right))
    return int(keep.sum()), time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--houses", type=int, default=1_000_000)
    parser.add_argument("--peers", action="store_true", help="also time the matching step in DuckDB and geopandas")
    args = parser.parse_args()
    t = time.perf_counter()
    houses, before, after, truth = passes(args.houses)
    print(f"generated {len(houses):,} houses, {len(before):,} + {len(after):,} footprints in "
          f"{time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    result = compare(houses, before, after)
    seconds = time.perf_counter() - t
    counts = result.houses["change"].value_counts().to_dict()
    print(f"redline compare (end to end): {seconds:.1f} s — {counts}, new {len(result.new):,}")
    change = result.houses["change"].to_numpy()
    assert (change[truth["gone"]] == "gone").all(), "a demolished house was not found gone"
    assert (change[truth["grown"]] == "grown").all(), "a grown house was not found grown"
    assert counts.get("gone", 0) == len(truth["gone"]) and counts.get("grown", 0) == len(truth["grown"])
    assert len(result.new) == args.houses // 100
    if not args.peers:
        return
    t = time.perf_counter()
    ours = len(matches(houses, after, SHARE)[0])
    mine = time.perf_counter() - t
    duck_pairs, duck = duckdb_matching(houses, after)
    gp_pairs, gp = geopandas_matching(houses, after)
    assert ours == duck_pairs == gp_pairs, (ours, duck_pairs, gp_pairs)
    print(f"matching the later pass to the houses ({ours:,} pairs): redline {mine:.1f} s · DuckDB {duck:.1f} s "
          f"(×{duck / mine:.2f}) · geopandas {gp:.1f} s (×{gp / mine:.2f})")


if __name__ == "__main__":
    main()
