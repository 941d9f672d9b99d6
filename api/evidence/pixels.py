"""The second half of a photo upload: decoding its pixels, just after the upload has been answered.

Why apart: libjpeg's entropy decoding of a 4 MB field photo takes ~70 ms, most of an upload's server time;
with 50 inspectors on two cores it made the slowest uploads wait close to a second (#19). The upload itself
(`api.evidence.upload`) proves the file whole without decoding it — the bytes arrived complete and were
hashed as they came, and a JPEG's markers are walked to its end-of-image — stores it, runs the checks its
EXIF allows and answers 201. The phone may then delete its copy: the server holds exactly its bytes.

The decode follows at once, on the server's decoding thread (`PixelQueue`, `check_pixels`): the thumbnail, the
difference hash and the near-duplicate check against the other cases' photos. A photo whose compressed data
turns out to be damaged keeps its record, as the inspector sent it, flagged `UNDECODABLE`; it never counts as
a photo of the site. Until its pixels are checked a photo does not count as re-inspection evidence either
(`api.cases.service`). A server stopped in between finishes the rest at its next start (`check_pending`), and a
thumbnail asked for before its turn is made on the spot.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.clock import utcnow
from api.db.models import Photo
from api.evidence.store import THUMBNAIL_PX, make_thumbnail, original_path, thumbnail_path
from api.evidence.turn import take_evidence_turn
from gis.evidence import (
    PHASH_HEX_DIGITS,
    SAME_FILE,
    UNDECODABLE,
    EvidencePolicy,
    dhash,
    near_duplicate_flag,
    phash_text,
    phashes,
)
from gis.photo_meta import read_meta_and_preview

log = logging.getLogger(__name__)

#: What the pages say of a photo between its upload's answer and the decode of its pixels (`pixels_checked`
#: false in its JSON): label kind "photo_state" of `/api/config`.
PHOTO_STATE_NAMES: dict[str, str] = {"being_checked": "图像检查中"}


def phashes_of_other_cases(session: Session, case_id: int) -> np.ndarray:
    """Every other case's photo difference hashes as 64-bit integers, for the near-duplicate check.

    The database concatenates the 16-hex-digit texts into one string (GROUP_CONCAT / string_agg), read as one
    value and parsed by NumPy: row by row through the ORM it cost ~0.2 s per upload at 50 000 stored photos."""
    return phashes(session.execute(select(func.aggregate_strings(Photo.phash, "")).where(
        Photo.case_id != case_id, func.length(Photo.phash) == PHASH_HEX_DIGITS)).scalar_one())


def check_pixels(factory: sessionmaker[Session], root: Path, photo_id: int, policy: EvidencePolicy | None = None,
                 now: dt.datetime | None = None) -> bool:
    """Decode one stored photo: its thumbnail, its difference hash and the near-duplicate check, or the
    `UNDECODABLE` flag. Returns False when there was nothing to do (done already, by another request or
    process, or no such photo). Safe to run twice at once: only the first to finish records its result."""
    with factory() as session:
        row = session.execute(select(Photo.sha256, Photo.case_id, Photo.pixels_checked_at)
                              .where(Photo.id == photo_id)).one_or_none()
    if row is None or row.pixels_checked_at is not None:
        return False
    original = original_path(root, row.sha256)
    if not original.exists():  # a store not mounted, or restored without its files: not a damaged picture
        log.warning("photo %s: its original %s is missing; its pixels stay unchecked", photo_id, original.name)
        return False
    meta, preview = read_meta_and_preview(original, preview_px=THUMBNAIL_PX, sha256=row.sha256)
    phash = None
    if not meta.error:
        thumbnail = thumbnail_path(root, row.sha256)
        make_thumbnail(original, thumbnail, preview)
        # Hashed from the upright 320-pixel thumbnail (decoded in a millisecond; the original takes tens): a
        # near-identical photo differs in a few bits either way.
        phash = dhash(str(thumbnail if thumbnail.exists() else original))
    with factory.begin() as session:
        take_evidence_turn(session)  # a near-identical photo being recorded on another case is seen
        flags: list[str] = json.loads(session.execute(select(Photo.checks).where(Photo.id == photo_id))
                                      .scalar_one_or_none() or "[]")
        if meta.error:
            flags.append(UNDECODABLE)
        elif phash is not None and SAME_FILE not in flags:
            near = near_duplicate_flag(phash, phashes_of_other_cases(session, row.case_id), policy)
            if near:
                flags.append(near)
        done = session.execute(
            update(Photo).where(Photo.id == photo_id, Photo.pixels_checked_at.is_(None))
            .values(phash=phash_text(phash),
                    checks=json.dumps(flags, ensure_ascii=False), pixels_checked_at=now or utcnow()))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def check_pixels_logged(factory: sessionmaker[Session], root: Path, photo_id: int,
                        policy: EvidencePolicy | None = None) -> None:
    """`check_pixels` after an upload has been answered: a failure (a database busy past its wait) is logged,
    and the photo stays pending for the next start's `check_pending`, or for its thumbnail's first request."""
    try:
        check_pixels(factory, root, photo_id, policy)
    except Exception:
        log.exception("photo %s: pixels not checked yet (done at the next start)", photo_id)


def check_pending(factory: sessionmaker[Session], root: Path, policy: EvidencePolicy | None = None,
                  now: dt.datetime | None = None, stop: threading.Event | None = None,
                  case_id: int | None = None) -> int:
    """Decode every photo still waiting (a server stopped between an upload's answer and its decode), or only
    those of `case_id`; returns how many this call recorded. Oldest first, one at a time, beside the requests
    being served; `stop` set (the server shutting down) ends it between two photos, the rest waiting for the
    next start."""
    waiting = select(Photo.id).where(Photo.pixels_checked_at.is_(None)).order_by(Photo.id)
    if case_id is not None:
        waiting = waiting.where(Photo.case_id == case_id)
    with factory() as session:
        pending = session.execute(waiting).scalars().all()
    recorded = 0
    for photo_id in pending:
        if stop is not None and stop.is_set():
            break
        recorded += check_pixels(factory, root, photo_id, policy, now)
    return recorded


class PixelQueue:
    """The decodes that follow the uploads' answers, in the order of the uploads, on one thread of their own;
    at start-up first those a stopped server left undecoded.

    Why not FastAPI's background task (stop 31): it runs in the request's own cycle, so the next request on the
    same keep-alive connection — a phone sending its queue — waited for the previous photo's decode, and in a
    burst every answer waited behind decodes (50 phones × 4 photos on two cores, A/B: median answer 2.1–3.4 s,
    14–20 uploads/s; with this queue 1.2–1.8 s, 24–35 uploads/s, the decodes done ~7 s after the last answer).
    Why one thread: the decode is CPU-bound libjpeg work, and one decoding thread leaves the other core of a
    two-core server to the answers (the start-up backlog takes the same thread, not a second one). Nobody
    waits for the queue: a workflow action decodes its case's waiting photos itself (`check_pending(case_id=…)`),
    a thumbnail asked for first is made on the spot, and a decode done twice at once is recorded once
    (`check_pixels`). Decodes not begun when the server stops stay pending in the database and are done at its
    next start.
    """

    def __init__(self, factory: sessionmaker[Session], root: Path, policy: EvidencePolicy | None = None) -> None:
        self._factory, self._root, self._policy = factory, root, policy
        self._open()

    def _open(self) -> None:
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="photo-decode")  # its thread starts lazily

    def _submit(self, job: Callable[..., object], *args: object) -> bool:
        try:
            self._pool.submit(job, *args)
            return True
        except RuntimeError:  # closed: the server is stopping
            return False

    def submit(self, photo_id: int) -> None:
        """Queue the decode of a stored photo; after `close` it is left for the next start."""
        if not self._submit(check_pixels_logged, self._factory, self._root, photo_id, self._policy):
            log.info("photo %s: the server is stopping; its pixels are checked at the next start", photo_id)

    def start(self) -> None:
        """At the server's start: open again if a previous stop closed the queue, and queue first the decode of
        every photo a stopped server left undecoded, oldest first."""
        if self._stopping.is_set():
            self._open()
        self._submit(self._finish_pending)

    def _finish_pending(self) -> None:
        try:
            done = check_pending(self._factory, self._root, self._policy, stop=self._stopping)
        except Exception:  # a database not migrated yet: the requests will say so
            log.warning("photos left undecoded by the last run not checked at start-up", exc_info=True)
            return
        if done:
            log.info("decoded %d photos left undecoded by the last run", done)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Return once every decode queued so far is done (one thread, in order: a no-op queued last runs last).
        For callers that must see the decodes' results, such as tests and benches; the server never waits."""
        marker: Future[None] = self._pool.submit(lambda: None)
        marker.result(timeout=timeout)

    def close(self) -> None:
        """Finish the photo being decoded and drop the rest (pending in the database, done at the next start)."""
        self._stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
