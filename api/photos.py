"""Evidence photo uploads: sniffed, size-limited, content-addressed, idempotent by the client's UUID.

The original bytes are stored untouched under their SHA-256 before the database row is committed, so a
crash between the two leaves at worst an orphan file, never a row without its file. A retried upload
(same client UUID) returns the first record instead of creating a duplicate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.cases import load_case
from api.clock import as_utc_or_none, utcnow
from api.errors import Conflict, InvalidQuery, TooLarge, UnsupportedMedia
from api.models import Photo, User
from gis.photo_meta import PhotoMeta, read_meta

PHOTO_KINDS = frozenset({"panorama", "closeup", "detail", "after_demolition"})


def sniff(head: bytes) -> str | None:
    """The media type from the first bytes: JPEG, PNG or HEIC/HEIF; None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"heif", b"mif1", b"msf1"):
        return "image/heic"
    return None


@dataclass(frozen=True)
class Stored:
    sha256: str
    size: int
    media_type: str
    path: Path


def store_original(stream: BinaryIO, root: Path, max_bytes: int) -> Stored:
    """Stream the upload to a temp file (hashing as it goes), check it, then move it to root/ab/abcdef…."""
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(1 << 16):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"photo larger than {max_bytes // (1 << 20)} MiB")
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        media = sniff(head)
        if media is None:
            raise UnsupportedMedia("not a JPEG, PNG or HEIC image (checked by content, not by name)")
        sha = digest.hexdigest()
        final = root / sha[:2] / sha
        final.parent.mkdir(exist_ok=True)
        if final.exists():
            os.unlink(tmp_name)
        else:
            os.replace(tmp_name, final)
        return Stored(sha, size, media, final)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def upload_photo(factory: sessionmaker[Session], user: User, case_id: int, client_uuid: str, kind: str,
                 stream: BinaryIO, *, root: Path, max_bytes: int, now: dt.datetime | None = None) -> Photo:
    """Attach a photo to a case; the same client UUID again returns the first record."""
    try:
        client_uuid = str(uuid.UUID(client_uuid))
    except ValueError as exc:
        raise InvalidQuery(f"client_uuid is not a UUID: {client_uuid!r}") from exc
    if kind not in PHOTO_KINDS:
        raise InvalidQuery(f"kind must be one of {', '.join(sorted(PHOTO_KINDS))}")
    with factory() as session:
        load_case(session, user, case_id)  # scope first: nothing is stored for a case out of reach
        existing = session.execute(select(Photo).where(Photo.client_uuid == client_uuid)).scalar_one_or_none()
        if existing is not None:
            if existing.case_id != case_id:
                raise Conflict(f"photo {client_uuid} belongs to another case")
            return existing
    stored = store_original(stream, root, max_bytes)
    meta: PhotoMeta = read_meta(stored.path)
    if stored.media_type == "image/jpeg" and meta.error:
        raise UnsupportedMedia(f"not a complete, decodable image: {meta.error}")
    try:
        with factory.begin() as session:
            photo = Photo(client_uuid=client_uuid, case_id=case_id, sha256=stored.sha256, kind=kind,
                          media_type=stored.media_type, size_bytes=stored.size, taken_at=as_utc_or_none(meta.taken_at),
                          lat=meta.lat, lon=meta.lon, bearing_deg=meta.bearing_deg, uploaded_by=user.id,
                          uploaded_at=now or utcnow())
            session.add(photo)
            session.flush()
            session.expunge(photo)
            return photo
    except IntegrityError:  # the same UUID committed concurrently: return that one
        with factory() as session:
            return session.execute(select(Photo).where(Photo.client_uuid == client_uuid)).scalar_one()
