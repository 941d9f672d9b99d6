"""Benchmark uploads under load: 50 inspectors sending 4 MB JPEGs at once to a real server, with one upload
in ten cut off mid-body (then retried with the same UUID) and one in ten sent twice (an answer lost on the
way back).

    python -m bench.uploads [--inspectors 50] [--per-inspector 6] [--megabytes 4]

The server is `redline serve` in its own process on a synthetic SpatiaLite county (the map bench's), so its
memory is measured apart from the clients'. Prints per-upload latency (median, p95, p99 of the answered
requests), throughput, the server's resident memory before and at its peak, and what the database holds
afterwards: every UUID exactly once (zero lost, zero duplicated) and no staged leftovers of the cut bodies;
and, since an upload is answered before its pixels are decoded, how long after the last answer the last
decode finished (every photo with its difference hash, every distinct picture with its thumbnail).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from sqlalchemy import func, select

from api.db.engine import make_engine, make_sessionmaker
from api.db.models import Case, Photo
from bench.map_scale import PASSWORD, build
from bench.readme import add_readme_option, markdown_table, write_block
from gis.codes import DEFAULT_COUNTY_SRID
from tests.live import free_port
from tests.photo_factory import photo_with_exif


def big_jpeg(megabytes: float, seed: int) -> bytes:
    """A JPEG of about `megabytes` (noise compresses poorly, like a detailed field photo) with real EXIF."""
    rng = np.random.default_rng(seed)
    side = int(np.sqrt(megabytes * (1 << 20) / 0.86 / 0.75))  # noise at quality 90: ~0.86 bytes per pixel, 4:3
    noise = Image.fromarray(rng.integers(0, 256, (int(side * 0.75), side, 3), dtype=np.uint8))
    return photo_with_exif(28.0, 113.0, 0.0, dt.datetime.now(dt.UTC), seed=seed, fmt="JPEG", image=noise)


def multipart(key: str, photo: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"client_uuid\"\r\n\r\n{key}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\npanorama\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()
    return head + photo + f"\r\n--{boundary}--\r\n".encode(), boundary


def cut_off(port: int, path: str, token: str, key: str, photo: bytes) -> None:
    """Send the headers and half the body, then drop the connection (a phone losing its signal)."""
    body, boundary = multipart(key, photo)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n").encode() + body[: len(body) // 2])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inspectors", type=int, default=50)
    parser.add_argument("--per-inspector", type=int, default=6)
    parser.add_argument("--megabytes", type=float, default=4.0)
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds between one inspector's uploads (exponential); 0: a burst, every phone "
                             "sending its queue the moment it reconnects")
    add_readme_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = build(Path(tmp) / "bench.sqlite", 2000, 200)
        port = free_port()
        env = {**os.environ, "REDLINE_DATABASE_URL": url, "REDLINE_VAR_DIR": str(Path(tmp) / "var"),
               "REDLINE_PHOTO_MAX_BYTES": str(int(args.megabytes * 2 * (1 << 20)))}
        server = subprocess.Popen([str(Path(sys.executable).parent / "redline"), "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    httpx.get(f"{base}/health", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            token = httpx.post(f"{base}/api/auth/token", json={"username": "county", "password": PASSWORD}
                               ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            photos = [big_jpeg(args.megabytes, seed) for seed in range(args.inspectors)]
            size = statistics.mean(len(p) for p in photos) / (1 << 20)
            baseline = rss_mb(server.pid)
            peak = [baseline]
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak[0] = max(peak[0], rss_mb(server.pid))
                    time.sleep(0.05)

            latencies: list[float] = []
            statuses: list[int] = []
            sent: set[str] = set()

            def inspector(i: int) -> None:
                pause = np.random.default_rng(i)
                with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
                    for j in range(args.per_inspector):
                        if args.think:
                            time.sleep(float(pause.exponential(args.think)))
                        case = 1 + (i * args.per_inspector + j) % 2000
                        path = f"/api/cases/{case}/photos"
                        key = str(uuid.uuid4())
                        photo = photos[(i + j) % len(photos)]
                        draw = (i * 7 + j * 3) % 10
                        if draw == 0:  # cut off mid-body, then the phone retries the same upload
                            cut_off(port, path, token, key, photo)
                        for _ in range(2 if draw == 1 else 1):  # draw 1: the answer lost, sent again
                            start = time.perf_counter()
                            r = http.post(path, data={"client_uuid": key, "kind": "panorama"},
                                          files={"file": ("p.jpg", photo, "image/jpeg")})
                            latencies.append(time.perf_counter() - start)
                            statuses.append(r.status_code)
                        sent.add(key)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            began = time.perf_counter()
            with ThreadPoolExecutor(args.inspectors) as pool:
                list(pool.map(inspector, range(args.inspectors)))
            wall = time.perf_counter() - began
            # The answers come before the pixels are decoded (`api.evidence.pixels`): wait for the last decode.
            engine = make_engine(url)
            factory = make_sessionmaker(engine, srid=DEFAULT_COUNTY_SRID)
            answered = time.perf_counter()
            while time.perf_counter() - answered < 120:
                with factory() as s:
                    pending = s.execute(select(func.count()).select_from(Photo)
                                        .where(Photo.pixels_checked_at.is_(None))).scalar_one()
                if not pending:
                    break
                time.sleep(0.05)
            settled = time.perf_counter() - answered
            done.set()
            sampler.join()
            after = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        with factory() as s:
            stored = s.execute(select(Photo.client_uuid)).scalars().all()
            decoded = s.execute(select(func.count()).select_from(Photo).where(Photo.pixels_checked_at.is_not(None),
                                                                              Photo.phash.is_not(None))).scalar_one()
            assert s.execute(select(func.count()).select_from(Case)).scalar_one() == 2000
        engine.dispose()
        thumbnails = len(list((Path(tmp) / "var").rglob("thumbs/*.jpg")))
        staged = list((Path(tmp) / "var").rglob(".upload-*"))  # a cut body's staged part, had it been kept
        lost = len(sent - set(stored))
        duplicated = len(stored) - len(set(stored))
        ms = sorted(x * 1000 for x in latencies)
        quantile = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
        p99 = quantile(0.99)
        burst = not args.think
        lines = [
            f"{args.inspectors} inspectors × {args.per_inspector} uploads of {size:.1f} MB, "
            f"{'a burst' if burst else f'one every {args.think:g} s on average per inspector'} "
            f"({len(sent)} photos, {len(latencies)} requests, {statuses.count(201)} answered 201, "
            f"{len([s for s in statuses if s >= 500])} 5xx)", "",
            *markdown_table(["measure", "value"], [
                ["per upload", f"median {quantile(0.5):.0f} ms, p95 {quantile(0.95):.0f} ms, p99 {p99:.0f} ms "
                               + ("(a burst: the p99 < 300 ms target is for field pace, `--think`)" if burst else
                                  f"(target p99 < 300 ms: {'met' if p99 < 300 else '**missed**'})")],
                ["throughput", f"{len(latencies) / wall:.1f} uploads/s, {len(latencies) * size / wall:.0f} MB/s"],
                ["server memory", f"{baseline:.0f} MB at rest, {peak[0]:.0f} MB at peak "
                                  f"(+{peak[0] - baseline:.0f} MB), {after:.0f} MB after"],
                ["stored", f"{len(stored)} photos: lost {lost}, duplicated {duplicated}, "
                           f"staged leftovers {len(staged)}"],
                ["decoded after the answers", f"{decoded} of {len(stored)} with their difference hash, {thumbnails} "
                                              f"thumbnails ({len(photos)} distinct pictures); the last {settled:.1f} s "
                                              "after the last answer"],
            ])]
        print("\n".join(lines))
        write_block("uploads-burst" if burst else "uploads-field-pace", lines, args.readme)


if __name__ == "__main__":
    main()
