"""Benchmark `redline import` and `redline scan` as a user runs them, at county-in-a-province size, on the
embedded SpatiaLite database and on PostGIS side by side.

    python -m bench.import_scan [--houses 1000000] [--postgis postgresql://user@host:port/postgres]

Writes the bench's synthetic county (`bench.synthetic`: houses and farmland as GeoParquet), then per database:
`redline db upgrade`, `redline import farmland`, `redline import houses`, `redline scan`, and `redline scan`
again — each a fresh process, timed from start to exit. The second scan finds nothing changed and writes
nothing (its statements are counted by `tests/ingest/test_scan.py`; here its time is what a nightly rescan
costs). `--postgis` names a server where a scratch database is created and dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.readme import add_readme_option, markdown_table, write_block
from bench.scratch import scratch_postgis
from bench.synthetic import generate

REDLINE = str(Path(sys.executable).parent / "redline")


def run(env: dict[str, str], *args: str) -> float:
    """Seconds one `redline` command takes, start to exit (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run([REDLINE, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"redline {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - start


def measure(url: str, houses: Path, farmland: Path, var: Path) -> dict[str, float | int]:
    env = {**os.environ, "REDLINE_DATABASE_URL": url, "REDLINE_VAR_DIR": str(var)}
    out: dict[str, float | int] = {"upgrade": run(env, "db", "upgrade")}
    out["import farmland"] = run(env, "import", "farmland", str(farmland))
    out["import houses"] = run(env, "import", "houses", str(houses))
    out["scan"] = run(env, "scan")
    out["rescan (nothing changed)"] = run(env, "scan")
    from api.db.engine import make_engine
    from api.db.models import Case

    engine = make_engine(url)
    with engine.connect() as conn:
        out["cases"] = int(conn.execute(select(func.count()).select_from(Case.__table__)).scalar_one())
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--houses", type=int, default=1_000_000)
    parser.add_argument("--postgis", help="a PostGIS server URL (its maintenance database)")
    parser.add_argument("--no-spatialite", action="store_true", help="measure PostGIS only")
    add_readme_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        houses, farmland = generate(Path(tmp) / "data", args.houses)
        results = {}
        if not args.no_spatialite:
            results["SpatiaLite"] = measure(f"sqlite:///{tmp}/bench.sqlite", houses, farmland, Path(tmp) / "var1")
        if args.postgis:
            with scratch_postgis(args.postgis) as url:
                results["PostGIS"] = measure(url, houses, farmland, Path(tmp) / "var2")
    steps = [k for k in next(iter(results.values())) if k != "cases"]
    columns = list(results)
    commands = {"upgrade": "`redline db upgrade`", "rescan (nothing changed)": "`redline scan` again, nothing changed"}
    rows = [[commands.get(step, f"`redline {step}`"), *(f"{r[step]:.1f}" for r in results.values())]
            for step in steps]
    rows.append(["cases opened", *(f"{r['cases']:,}" for r in results.values())])
    if "PostGIS" in results:
        slowest = max(("import houses", "scan"), key=lambda step: results["PostGIS"][step])
        worst = results["PostGIS"][slowest]
        columns.append("target (PostGIS)")
        for row, step in zip(rows, [*steps, "cases"], strict=True):
            row.append("≤ 60 s" if step in ("import houses", "scan") else "")
        verdict = (f"target ≤ 60 s on PostGIS: {'met' if worst <= 60 else '**missed**'} "
                   f"(slowest of import houses and scan: {slowest}, {worst:.1f} s)")
    else:
        verdict = "PostGIS not measured (give --postgis URL): the ≤ 60 s target is not judged"
    lines = [f"{args.houses:,} houses, seconds per command (a fresh process each, start to exit)", "",
             *markdown_table(["command", *columns], rows), "", verdict]
    print("\n".join(lines))
    write_block("import_scan", lines, args.readme)


if __name__ == "__main__":
    main()
