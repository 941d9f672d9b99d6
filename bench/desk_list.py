"""Benchmark the desk's case list at 100 000 cases: paging, sorting, filtering and the full download.

    python -m bench.desk_list [--cases 100000]

Builds the same synthetic SpatiaLite county as `bench.map_scale`, starts the app in-process and times each
request as the desk page makes it (median of 5 after one warm-up): the first page, a page deep in the list, a
sort by farmland area descending, a township filter, the overdue filter (computed per case, not stored), and
the CSV and xlsx downloads of every case.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from bench.map_scale import PASSWORD, build


def timed(client: TestClient, url: str, repeat: int = 5) -> tuple[float, int]:
    client.get(url)  # warm-up
    runs = []
    size = 0
    for _ in range(repeat):
        start = time.perf_counter()
        r = client.get(url)
        runs.append(time.perf_counter() - start)
        assert r.status_code == 200, (url, r.status_code, r.text[:200])
        size = len(r.content)
    return statistics.median(runs), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = build(Path(tmp) / "bench.sqlite", args.cases, 1000)
        app = create_app(Settings(database_url=url, var_dir=Path(tmp) / "var"))
        with TestClient(app) as client:
            token = client.post("/api/auth/token", json={"username": "county", "password": PASSWORD}).json()
            client.headers["Authorization"] = f"Bearer {token['access_token']}"
            deep = max(0, args.cases - 100)
            for name, request, repeat in [
                ("first page (100)", "/api/cases?limit=100", 5),
                (f"page at offset {deep}", f"/api/cases?limit=100&offset={deep}", 5),
                ("sorted by farmland, largest first", "/api/cases?limit=100&sort=-farmland_m2", 5),
                ("township filter", "/api/cases?limit=100&township=431021101000", 5),
                ("overdue filter (computed per case)", "/api/cases?limit=100&overdue=true", 3),
                ("CSV of every case", "/api/cases/download?format=csv", 1),
                ("xlsx of every case", "/api/cases/download?format=xlsx", 1),
            ]:
                seconds, size = timed(client, request, repeat)
                print(f"{name:<40} {seconds * 1000:>9.0f} ms  {size / 1024:>9.0f} KiB")
        app.state.engine.dispose()


if __name__ == "__main__":
    main()
