"""Benchmark the review map at province scale: vector tiles from PostGIS with 5M cases and 1M farmland polygons.

    python -m bench.map_tiles --postgis postgresql://user@host:port/postgres [--cases 5000000]
                              [--farmland 1000000] [--moves 40] [--spatialite]

Builds a synthetic province in a scratch database (cases on a 200 m grid over ~450 km × 450 km — about 25 cases
per km², a province's density — and farmland polygons of 16 vertices; 25 townships), starts `redline serve` in
its own process and drives it as the tiled review map does (`api/http/static/js/review/tiles.js`): log in, open
/map, then the tiles of a 1280 × 860 view — cases and farmland from z14, counts per quarter tile below it,
township boundaries at every zoom — fetched six at a time like a browser, through a walk of pans and zooms
between z10 and z17. Nothing is warmed: each tile is asked for the first time.

Prints: the server's start (process start → /health), first features (the /map page, then the first case tile
with features of the opening view), the opening view complete, per-request latency by kind (p50, p95, max),
and the server's resident memory (peak and after). Targets (issue #19): first features < 1 s on a cold server,
pan/zoom tile requests p95 < 150 ms, server RSS < 1 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil
import shapely
from pyproj import Transformer
from sqlalchemy import text

from api.accounts.users import create_user
from api.db.engine import make_engine, make_sessionmaker
from api.db.migrate import upgrade
from api.db.models import AdminArea, Case, Farmland
from api.db.repository import insert_rows, table_of, to_db_geometry
from bench.readme import add_readme_option, markdown_table, write_block
from bench.scratch import scratch_postgis
from gis.codes import DEFAULT_COUNTY_SRID

PASSWORD = "bench-tiles-password"
REDLINE = str(Path(sys.executable).parent / "redline")
ORIGIN = (275_000.0, 2_600_000.0)  # south-west corner in EPSG:4546 (metres), around 111°E 23.5°N
SPACING = 200.0  # between cases (m): 25 per km²
TOWNSHIPS = 5  # per side: 25 townships
VIEW = (1280, 860)  # pixels
CHUNK = 500_000


def _townships(x: np.ndarray, y: np.ndarray, side: float) -> np.ndarray:
    block = side / TOWNSHIPS
    i = np.clip(((x - ORIGIN[0]) // block).astype(int), 0, TOWNSHIPS - 1)
    j = np.clip(((y - ORIGIN[1]) // block).astype(int), 0, TOWNSHIPS - 1)
    return np.char.add("4310211", np.char.add(np.char.zfill((j * TOWNSHIPS + i + 1).astype(str), 2), "000"))


def build(url: str, n_cases: int, n_farmland: int) -> float:
    """Fill a migrated database with the synthetic province; return the side of its square (m)."""
    engine = make_engine(url)
    upgrade(engine, srid=DEFAULT_COUNTY_SRID)
    factory = make_sessionmaker(engine, srid=DEFAULT_COUNTY_SRID)
    rng = np.random.default_rng(19)
    per_side = math.ceil(math.sqrt(n_cases))
    side = per_side * SPACING
    now = dt.datetime.now(dt.UTC)
    with factory.begin() as s:
        block = side / TOWNSHIPS
        corners = [(ORIGIN[0] + i * block, ORIGIN[1] + j * block) for j in range(TOWNSHIPS) for i in range(TOWNSHIPS)]
        boxes = np.array([shapely.box(x, y, x + block, y + block) for x, y in corners], dtype=object)
        codes = _townships(np.array([c[0] + 1 for c in corners]), np.array([c[1] + 1 for c in corners]), side)
        insert_rows(s, table_of(AdminArea), pd.DataFrame({
            "source_key": codes, "code": codes, "name": [f"乡镇{k + 1}" for k in range(len(codes))],
            "level": "township", "township_code": codes, "area_m2": shapely.area(boxes),
            "geom": to_db_geometry(boxes, s)}))
        create_user(s, "county", PASSWORD, "county_reviewer")
    for start in range(0, n_cases, CHUNK):
        k = np.arange(start, min(n_cases, start + CHUNK))
        cx = ORIGIN[0] + (k % per_side) * SPACING + rng.uniform(-60, 60, len(k))
        cy = ORIGIN[1] + (k // per_side) * SPACING + rng.uniform(-60, 60, len(k))
        w, h = rng.uniform(8, 20, len(k)), rng.uniform(8, 16, len(k))
        geoms = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        area = shapely.area(geoms)
        disposition = rng.choice(np.array(["demolish", "classify", "verify"]), len(k), p=[0.4, 0.5, 0.1])
        status = rng.choice(np.array(["new", "assigned", "closed"]), len(k), p=[0.6, 0.3, 0.1])
        with factory.begin() as s:
            insert_rows(s, table_of(Case), pd.DataFrame({
                "code": np.char.add("RL-B-", np.char.zfill(k.astype(str), 8)),
                "township_code": _townships(cx, cy, side),
                "footprint_m2": area, "farmland_m2": area * 0.5, "cultivated_m2": area,
                "period": np.where(disposition == "demolish", "after_cutoff", "before_cutoff"),
                "disposition": disposition, "rules": "1", "date_conflict": False, "status": status,
                "still_violating": True, "created_at": now, "scanned_at": now, "origin": "scan", "field_rules": "",
                "remaining_m2": area, "occupied_m2": area, "version": 1,
                "assigned_at": np.where(status == "new", None, now - dt.timedelta(hours=6)),
                "geom": to_db_geometry(geoms, s)}))
        print(f"  cases {k[-1] + 1:,}", flush=True)
    fields_per_side = math.ceil(math.sqrt(n_farmland))
    pitch = side / fields_per_side
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    for start in range(0, n_farmland, CHUNK):
        k = np.arange(start, min(n_farmland, start + CHUNK))
        cx = ORIGIN[0] + (k % fields_per_side + 0.5) * pitch
        cy = ORIGIN[1] + (k // fields_per_side + 0.5) * pitch
        radius = pitch * rng.uniform(0.3, 0.45, (len(k), 16))
        ring = np.stack([cx[:, None] + radius * np.cos(angles), cy[:, None] + radius * np.sin(angles)], axis=-1)
        geoms = shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1))
        with factory.begin() as s:
            insert_rows(s, table_of(Farmland), pd.DataFrame({
                "source_key": np.char.add("F", k.astype(str)), "dlbm": "0101", "bsm": np.char.add("B", k.astype(str)),
                "area_m2": shapely.area(geoms), "geom": to_db_geometry(geoms, s)}))
        print(f"  farmland {k[-1] + 1:,}", flush=True)
    if engine.dialect.name == "postgresql":
        with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return side


def _pixel(lon: float, lat: float, z: int) -> tuple[float, float]:
    n = 256 * 2**z
    return (lon + 180) / 360 * n, (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n


def _lonlat(px: float, py: float, z: int) -> tuple[float, float]:
    n = 256 * 2**z
    return px / n * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * py / n))))


def view_tiles(lon: float, lat: float, z: int) -> list[str]:
    """The tile requests of a 1280 × 860 view centred on (lon, lat) at zoom z, as tiles.js makes them."""
    cx, cy = _pixel(lon, lat, z)
    xs = range(int((cx - VIEW[0] / 2) // 256), int((cx + VIEW[0] / 2) // 256) + 1)
    ys = range(int((cy - VIEW[1] / 2) // 256), int((cy + VIEW[1] / 2) // 256) + 1)
    out = []
    for x in xs:
        for y in ys:
            out.append(f"/api/tiles/admin/{z}/{x}/{y}.pbf?")
            if z >= 13:
                out.append(f"/api/tiles/farmland/{z}/{x}/{y}.pbf?")
            out.append(f"/api/tiles/cases/{z}/{x}/{y}.pbf?" if z >= 14 else f"/api/tiles/case-counts/{z}/{x}/{y}.json?")
    return out


def _kind(path: str) -> str:
    name = path.split("/api/tiles/")[1].split("/")[0]
    return {"case-counts": "case counts (z<14)", "cases": "cases (z≥14)"}.get(name, name)


class Server:
    """`redline serve` in its own process, and its resident memory sampled while it runs."""

    def __init__(self, url: str, var: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        # The tiled map whatever the size (a small trial run too); above 200 000 cases it is the default.
        env = {**os.environ, "REDLINE_DATABASE_URL": url, "REDLINE_VAR_DIR": str(var), "REDLINE_MAP_TILES_ABOVE": "0"}
        self.started = time.perf_counter()
        self.process = subprocess.Popen([REDLINE, "serve", "--port", str(self.port)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.base = f"http://127.0.0.1:{self.port}"
        self.peak = 0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        proc = psutil.Process(self.process.pid)
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.1)

    def wait_ready(self) -> float:
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"redline serve exited: {self.process.stderr.read() if self.process.stderr else ''}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)

    def rss(self) -> int:
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def stop(self) -> None:
        self._stop.set()
        self.process.terminate()
        self.process.wait(timeout=30)


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def drive(server: Server, side: float, moves: int) -> dict[str, object]:
    """Open the map and walk it; per-request latencies by kind."""
    to_lonlat = Transformer.from_crs(DEFAULT_COUNTY_SRID, 4326, always_xy=True)
    lon, lat = to_lonlat.transform(ORIGIN[0] + side / 2, ORIGIN[1] + side / 2)
    out: dict[str, object] = {"start (process → /health)": server.wait_ready()}
    client = httpx.Client(base_url=server.base, timeout=60)
    token = client.post("/api/auth/token", json={"username": "county", "password": PASSWORD}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    latencies: list[tuple[str, float, int]] = []
    lock = threading.Lock()

    def fetch(path: str) -> tuple[float, int]:
        began = time.perf_counter()
        r = client.get(path, headers=auth)
        if r.status_code != 200:
            raise SystemExit(f"{path}: HTTP {r.status_code} {r.text[:200]}")
        took = time.perf_counter() - began
        with lock:
            latencies.append((path, took, len(r.content)))
        return time.perf_counter(), len(r.content)

    opened = time.perf_counter()
    page = client.get("/map", headers=auth)
    out["the /map page"] = time.perf_counter() - opened
    assert page.status_code == 200 and '"tiles": true' in page.text.replace('"tiles":true', '"tiles": true'), \
        "the map did not switch to tiles"
    with ThreadPoolExecutor(6) as pool:  # a browser's six connections to one host
        tiles = view_tiles(lon, lat, 14)
        done = list(pool.map(fetch, tiles))
        first_case = min(t for (t, size), p in zip(done, tiles, strict=True) if "/cases/" in p and size > 0)
        first = first_case - opened
        out["first case features (from opening /map)"] = f"{first:.2f} s (target < 1 s: {_verdict(first < 1)})"
        out["opening view complete"] = max(t for t, _ in done) - opened
        opening = len(latencies)
        rng = random.Random(7)
        z = 14
        for _ in range(moves):
            if rng.random() < 0.4:
                z = min(17, max(10, z + rng.choice([-1, 1])))
            else:
                px, py = _pixel(lon, lat, z)
                lon, lat = _lonlat(px + rng.choice([-1, 1]) * VIEW[0] / 2, py + rng.choice([-1, 1]) * VIEW[1] / 2, z)
            list(pool.map(fetch, view_tiles(lon, lat, z)))
    walk = latencies[opening:]
    out["requests (opening view + walk)"] = f"{opening} + {len(walk)}"
    by_kind: dict[str, list[float]] = {}
    for path, took, _ in walk:
        by_kind.setdefault(_kind(path), []).append(took)
    everything = [took for _, took, _ in walk]
    for kind, values in [("all tile requests", everything), *sorted(by_kind.items())]:
        values = sorted(values)
        p95 = values[int(0.95 * (len(values) - 1))]
        verdict = f"; target p95 < 150 ms: {_verdict(p95 < 0.150)}" if kind == "all tile requests" else ""
        out[f"walk: {kind} p50 / p95 / max (ms)"] = (
            f"{1000 * statistics.median(values):.0f} / {1000 * p95:.0f} / "
            f"{1000 * values[-1]:.0f}  (n={len(values)}{verdict})")
    sizes = [size for path, _, size in walk if "/cases/" in path]
    if sizes:
        out["case tile size p50 / max (KiB)"] = f"{statistics.median(sizes) / 1024:.1f} / {max(sizes) / 1024:.1f}"
    out["server RSS after / peak (MiB)"] = (f"{server.rss() / 2**20:.0f} / {server.peak / 2**20:.0f} "
                                            f"(target < 1 GB: {_verdict(server.peak < 2**30)})")
    client.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgis", help="a PostGIS server URL (its maintenance database)")
    parser.add_argument("--spatialite", action="store_true", help="also measure the embedded SpatiaLite database")
    parser.add_argument("--cases", type=int, default=5_000_000)
    parser.add_argument("--farmland", type=int, default=1_000_000)
    parser.add_argument("--moves", type=int, default=40)
    add_readme_option(parser)
    args = parser.parse_args()
    if not args.postgis and not args.spatialite:
        raise SystemExit("name --postgis URL and/or --spatialite")
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as scratch:
        targets = [("PostGIS", scratch.enter_context(scratch_postgis(args.postgis, "redline_tiles")))] \
            if args.postgis else []
        if args.spatialite:
            targets.append(("SpatiaLite", f"sqlite:///{tmp}/tiles.sqlite"))
        for label, url in targets:
            began = time.perf_counter()
            print(f"{label}: building {args.cases:,} cases and {args.farmland:,} farmland polygons", flush=True)
            side = build(url, args.cases, args.farmland)
            print(f"  built in {time.perf_counter() - began:.0f} s", flush=True)
            server = Server(url, Path(tmp) / f"var-{label}")
            try:
                results[label] = drive(server, side, args.moves)
            finally:
                server.stop()
    def cell(value: object) -> str:
        return f"{value:.2f} s" if isinstance(value, float) else str(value)

    keys = list(next(iter(results.values())))
    lines = [f"{args.cases:,} cases, {args.farmland:,} farmland polygons; the tiled review map, cold server", "",
             *markdown_table(["measure", *results],
                             [[key, *(cell(r.get(key, "")) for r in results.values())] for key in keys])]
    print("\n" + "\n".join(lines))
    write_block("map_tiles", lines, args.readme)


if __name__ == "__main__":
    main()
