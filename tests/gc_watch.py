"""Watching Python's cyclic collector from a test: which collections start from inside Redline's own code."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import api
import gis
from gis import collector

#: Redline's own code: a collection started with one of these files on the stack counts.
REDLINE_CODE = (str(Path(gis.__file__).parent), str(Path(api.__file__).parent))


@contextmanager
def counted_collections(under: tuple[str, ...] = REDLINE_CODE) -> Iterator[list[int]]:
    """The generations of the collections that start while the block runs from inside code `under` those
    folders — in any thread (the engine's own included). The one collection the collector may make on resuming
    (from `gis.collector` itself, once the work has returned) is not among them."""
    started: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase != "start":
            return
        frame = sys._getframe(1)
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith(under) and name != collector.__file__:
                started.append(info["generation"])
                return
            frame = frame.f_back

    gc.callbacks.append(seen)
    try:
        yield started
    finally:
        gc.callbacks.remove(seen)
