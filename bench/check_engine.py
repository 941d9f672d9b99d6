"""Benchmark `redline check`'s engine against PostGIS, DuckDB spatial and geopandas.overlay, side by side.

    python -m bench.check_engine [--houses 1000000] [--peers postgis,duckdb,geopandas] [--pg-url URL]

Generates the synthetic county (bench/synthetic.py), runs each contestant in its own process on the same
files, checks every per-house farmland area agrees with Redline's (|diff| < 0.01 m²), then runs Redline on
10% / 30% / 100% of the houses for scaling, and prints one table of times, ratios and peak RSS.
Without --pg-url a throwaway PostGIS cluster is started with scripts/postgis.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from bench.synthetic import generate

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def run(name: str, houses: Path, farmland: Path, workers: int, pg_url: str) -> tuple[dict, pd.DataFrame]:
    result_path = OUT / f"{name}_{houses.stem}.parquet"
    cmd = [sys.executable, "-m", "bench.contestants", name, str(houses), str(farmland), str(result_path),
           "--workers", str(workers), "--pg-url", pg_url]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    return stats, pd.read_parquet(result_path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--houses", type=int, default=1_000_000)
    p.add_argument("--peers", default="postgis,duckdb,geopandas")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    p.add_argument("--pg-url", default="")
    args = p.parse_args()
    peers = [x for x in args.peers.split(",") if x]
    pg_url = args.pg_url
    started_pg = False
    if "postgis" in peers and not pg_url:
        pg_url = subprocess.run([str(ROOT / "scripts" / "postgis.sh"), "start"], capture_output=True, text=True,
                                check=True).stdout.strip()
        started_pg = True
    try:
        houses, farmland = generate(OUT, args.houses)
        f_count = len(pd.read_parquet(farmland, columns=["farmland_id"]))
        print(f"{args.houses} houses, {f_count} farmland polygons (with holes), {args.workers} workers")
        rows = []
        base_stats, base = run("redline", houses, farmland, args.workers, pg_url)
        touching = float((base["farmland_m2"] > 0).mean())
        rows.append({**base_stats, "max_diff_m2": 0.0})
        for peer in peers:
            stats, res = run(peer, houses, farmland, args.workers, pg_url)
            diff = np.abs(res.sort_values("house_id")["farmland_m2"].to_numpy()
                          - base.sort_values("house_id")["farmland_m2"].to_numpy())
            rows.append({**stats, "max_diff_m2": float(diff.max())})
        table = pd.DataFrame(rows)
        table["vs_redline"] = table["seconds"] / base_stats["seconds"]
        print(f"houses touching farmland: {touching:.1%}")
        print(table[["name", "houses", "seconds", "vs_redline", "peak_rss_mb", "max_diff_m2"]]
              .to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        agree = (table["max_diff_m2"] < 0.01).all()
        print("areas agree (|diff| < 0.01 m²):", "yes" if agree else "NO")
        scaling = []
        for share in (0.1, 0.3):
            n = int(args.houses * share)
            h, f = generate(OUT, n)
            stats, _ = run("redline", h, f, args.workers, pg_url)
            scaling.append(stats)
        scaling.append(base_stats)
        s = pd.DataFrame(scaling)
        s["us_per_house"] = s["seconds"] / s["houses"] * 1e6
        print("scaling (redline):")
        print(s[["houses", "seconds", "us_per_house", "peak_rss_mb"]].to_string(index=False,
                                                                                float_format=lambda v: f"{v:.2f}"))
        if not agree:
            sys.exit(1)
    finally:
        if started_pg:
            subprocess.run([str(ROOT / "scripts" / "postgis.sh"), "stop"], check=False)


if __name__ == "__main__":
    main()
