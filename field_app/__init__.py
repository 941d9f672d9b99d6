"""The inspectors' offline-first mobile web app, served at /field: ES modules, and a service worker that keeps the
app shell on the phone (`static/sw.js`), served with its shell cache named after the shell's content."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
#: The shell cache's name as `sw.js` is written; the served worker names it after the shell's bytes instead.
SHELL_PLACEHOLDER = '"redline-field-v0"'
_SHELL_FILES = re.compile(r"const SHELL_FILES = \[(.*?)\];", re.S)


def shell_paths(worker: str) -> list[str]:
    """The URL paths the worker keeps as the app shell (its `SHELL_FILES`)."""
    found = _SHELL_FILES.search(worker)
    if found is None:
        raise ValueError("sw.js has no SHELL_FILES list")
    return re.findall(r'"([^"]+)"', found.group(1))


def service_worker(site_static: Path, root: Path = STATIC) -> str:
    """`sw.js` as served: its shell cache is `redline-field-v<hash>`, a hash of every shell file's bytes.

    A phone runs the shell it cached, file for file, until the worker itself changes. The name used to be a
    constant bumped by hand, and three changes to `app.js` went out without a bump: phones kept the old app. Now
    any change to a shell file changes the worker, and a phone installs the new shell the next time it is online
    (the old cache is dropped on activation). `/field/…` paths are files of `root`, `/static/…` of `site_static`;
    a shell file that is missing is an error at start-up, not a broken install on the phones."""
    worker = (root / "sw.js").read_text(encoding="utf-8")
    if worker.count(SHELL_PLACEHOLDER) != 1:
        raise ValueError(f"sw.js must name its shell cache {SHELL_PLACEHOLDER} exactly once")
    digest = hashlib.sha256()
    for path in shell_paths(worker):
        if path == "/field/":
            file = root / "index.html"
        elif path.startswith("/field/"):
            file = root / path.removeprefix("/field/")
        elif path.startswith("/static/"):
            file = site_static / path.removeprefix("/static/")
        else:
            raise ValueError(f"sw.js keeps {path}, which this server does not serve")
        digest.update(path.encode() + b"\0" + file.read_bytes() + b"\0")
    return worker.replace(SHELL_PLACEHOLDER, f'"redline-field-v{digest.hexdigest()[:16]}"')
