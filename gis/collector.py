"""Python's cyclic garbage collector, held off while a county's geometries are made and measured.

Why: shapely 2's geometry objects are tracked by the cyclic collector, though they refer to no other Python
object and so can never be part of a cycle. Making a million of them (reading a county's houses, clipping them)
sets the collector off again and again, and its full collections walk every live tracked object: on the bench's
county of 1M houses, eight full collections cost 0.6–0.8 s of a 5 s `redline check`, all of it with the GIL
held, so the engine's other threads waited too. Reference counting frees geometries either way; the collector
finds nothing among them.

While work runs inside `cycle_collector_paused()` the collector makes no automatic collections; reference
counting goes on as ever, so memory is freed as usual, except objects in reference cycles, which wait for the
collector's next run after the last such work ends. The pause is process-wide (the collector is) and counted:
threads (the engine's own, those of a long-running process) may enter it at once, and the collector runs again
when the last one leaves — unless it was off before the first came in.
"""

from __future__ import annotations

import atexit
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_resume = False


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """No automatic cyclic collections while the block runs (usable as a decorator, as any `contextmanager`)."""
    global _holders, _resume
    with _lock:
        if _holders == 0:
            _resume = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _resume:
                gc.enable()


def freeze_at_exit() -> None:
    """Leave the heap out of the interpreter's last collections, for a program that ends when its work does.

    When a Python process ends, its finalisation runs full cyclic collections over every object still alive —
    after `redline check` the modules of pandas, numba, pyproj and the rest: 0.15–0.3 s of waiting for a prompt
    that has nothing left to do. Objects frozen (`gc.freeze`, registered here to run at exit) are left out of those
    walks; the memory goes back to the system with the process as it would anyway. For programs only
    (`api.cli.main`, the bench's contestants): a library call or a test must not freeze its caller's heap.
    """
    atexit.register(gc.freeze)


def is_paused() -> bool:
    """Some work holds the collector off now (for tests and diagnostics)."""
    with _lock:
        return _holders > 0


__all__ = ["cycle_collector_paused", "freeze_at_exit", "is_paused"]
