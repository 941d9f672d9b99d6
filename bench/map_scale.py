"""Benchmark the review map at scale in headless Chromium: 100k cases and 100k farmland polygons.

    python -m bench.map_scale [--cases 100000] [--farmland 100000]

Builds a SpatiaLite database with that many cases and farmland polygons (synthetic, EPSG:4546), serves the
app, logs in and measures, in Debian's Chromium: page weight (HTML + scripts + styles), time until the first
features are drawn (on a running server, and right after it started, while its map snapshots are built),
and the duration of the data requests of ten pans and zooms. Targets (issue 6): page
< 2 MB, first features < 2 s, each pan/zoom request < 200 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import uvicorn

from api.accounts.users import create_user
from api.db.engine import make_engine, make_sessionmaker
from api.db.migrate import upgrade
from api.db.models import Case, Farmland
from api.db.repository import records, table_of, to_db_geometry
from api.http.app import create_app
from api.settings import Settings
from bench.synthetic import farmland as synthetic_farmland
from bench.synthetic import houses as synthetic_houses
from gis.codes import DEFAULT_COUNTY_SRID
from gis.geometry import clean_polygons

PASSWORD = "bench-map-password"


def build(path: Path, n_cases: int, n_farmland: int) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine, srid=DEFAULT_COUNTY_SRID)
    factory = make_sessionmaker(engine, srid=DEFAULT_COUNTY_SRID)
    rng = np.random.default_rng(11)
    houses = synthetic_houses(n_cases, rng, spacing=60.0)
    extent = float(np.ceil(np.sqrt(n_cases))) * 60.0
    farm, _report = clean_polygons(synthetic_farmland(int(n_farmland / 0.22), extent, rng).iloc[:n_farmland])
    now = dt.datetime.now(dt.UTC)
    with factory.begin() as s:
        geoms = farm.geometry.to_numpy()
        s.execute(table_of(Farmland).insert(), records(pd.DataFrame({
            "source_key": [f"F{i}" for i in range(len(farm))], "area_m2": shapely.area(geoms),
            "geom": to_db_geometry(geoms, s)})))
        geoms = houses.geometry.to_numpy()
        area = shapely.area(geoms)
        s.execute(table_of(Case).insert(), records(pd.DataFrame({
            "code": [f"RL-BENCH-{i:07d}" for i in range(len(houses))], "township_code": "431021101000",
            "footprint_m2": area, "farmland_m2": area * 0.5, "cultivated_m2": area, "period": "after_cutoff",
            "disposition": "demolish", "rules": "1", "date_conflict": False, "status": "new",
            "still_violating": True, "created_at": now, "scanned_at": now, "origin": "scan", "field_rules": "",
            "remaining_m2": area, "occupied_m2": area, "version": 1,
            "geom": to_db_geometry(geoms, s)})))
        create_user(s, "county", PASSWORD, "county_reviewer")
    engine.dispose()
    return url


def _zoom(url: str) -> str:
    """The zoom of a map data request, if it names one (for the list of slowest requests)."""
    query = dict(part.split("=", 1) for part in url.split("?", 1)[-1].split("&") if "=" in part)
    return f"zoom={query['zoom']}" if "zoom" in query else ""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=100_000)
    p.add_argument("--farmland", type=int, default=100_000)
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="redline-map-bench-"))
    t = time.perf_counter()
    url = build(work / "bench.sqlite", args.cases, args.farmland)
    print(f"built {args.cases} cases and {args.farmland} farmland polygons in {time.perf_counter() - t:.0f} s")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Settings(database_url=url, var_dir=work)), host="127.0.0.1",
                                           port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "county")
        page.fill("input[name=password]", PASSWORD)
        t = time.perf_counter()
        page.click("button[type=submit]")
        page.wait_for_url("**/map")
        page.wait_for_function("document.getElementById('rl-status').dataset.total !== undefined", timeout=60_000)
        cold = time.perf_counter() - t  # the server has just started: its map snapshots may still be building
        sizes: dict[str, int] = {}
        durations: list[tuple[str, float]] = []

        def record(response) -> None:  # type: ignore[no-untyped-def]
            # A response of a page navigated away from has no body any more.
            with contextlib.suppress(Exception):
                sizes[response.url] = len(response.body())

        page.on("response", record)
        page.on("requestfinished", lambda r: durations.append((r.url, r.timing["responseEnd"])))
        t = time.perf_counter()
        page.reload()
        page.wait_for_function("document.getElementById('rl-status').dataset.total !== undefined", timeout=60_000)
        first = time.perf_counter() - t
        weight = sum(v for k, v in sizes.items() if "/api/" not in k)
        durations.clear()
        moves = ["setZoom(13)", "setZoom(15)", "panBy([400, 0])", "panBy([0, 300])", "setZoom(12)",
                 "setZoom(16)", "panBy([-500, 200])", "setZoom(14)", "panBy([300, -300])", "setZoom(10)"]
        for move in moves:
            page.evaluate(f"() => {{ for (const k of Object.keys(window).filter(k => k.startsWith('map_'))) "
                          f"window[k].{move}; }}")
            page.wait_for_timeout(150)
            page.wait_for_load_state("networkidle")
        timed = [(d, u) for u, d in durations if "/api/" in u and d > 0]
        api = [d for d, _ in timed]
        browser.close()
    server.should_exit = True
    print(f"page weight (HTML, scripts, styles): {weight / 1024:.0f} KiB (target < 2048 KiB)")
    print(f"first features drawn: {first:.2f} s (target < 2 s); "
          f"right after the server started (snapshots still building): {cold:.2f} s")
    if api:
        print(f"pan/zoom data requests: {len(api)}, median {statistics.median(api):.0f} ms, "
              f"max {max(api):.0f} ms (target < 200 ms each)")
        over = sorted(timed, reverse=True)[:3]
        print("slowest:", "; ".join(f"{d:.0f} ms {u.split('?')[0].split('/api/')[1]}?{_zoom(u)}" for d, u in over))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
