"""The evidence store: original files untouched under their SHA-256, and derived thumbnails beside them.

An upload is streamed to a temporary file in the store's folder, hashed and sniffed as it goes, and only
then moved (atomically, same file system) to its content address: a refused or cut upload leaves nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from api.errors import TooLarge, UnsupportedMedia

PDF = "application/pdf"


def sniff(head: bytes) -> str | None:
    """The media type from the first bytes: JPEG, PNG, HEIC/HEIF or PDF; None for anything else."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"heif", b"mif1", b"msf1"):
        return "image/heic"
    return None


@dataclass(frozen=True)
class Staged:
    """An upload written to a temporary file beside the store, hashed and sniffed, not yet accepted."""

    sha256: str
    size: int
    media_type: str
    path: Path


def stage_upload(stream: BinaryIO, root: Path, max_bytes: int) -> Staged:
    """Stream an upload to a temporary file under `root`, hashing as it goes; refuse it (and delete the
    temporary file) past `max_bytes` or when its first bytes are not a JPEG, PNG or HEIC."""
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
        return Staged(digest.hexdigest(), size, media, Path(tmp_name))
    except BaseException:
        discard(Path(tmp_name))
        raise


def discard(path: Path) -> None:
    """Remove a staged file (a refused upload leaves nothing behind)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def original_path(root: Path, sha256: str) -> Path:
    """Where an accepted original lives: content-addressed, root/ab/abcdef…."""
    return root / sha256[:2] / sha256


def place(staged: Staged, root: Path) -> Path:
    """Move an accepted upload to its content address (an identical original already there is kept)."""
    final = original_path(root, staged.sha256)
    final.parent.mkdir(exist_ok=True)
    if final.exists():
        discard(staged.path)
    else:
        os.replace(staged.path, final)
    return final


THUMBNAIL_PX = 320


def thumbnail_path(root: Path, sha256: str) -> Path:
    """Where the derived thumbnail of an original lives (apart from the originals, which are never touched)."""
    return root / "thumbs" / f"{sha256}.jpg"


def make_thumbnail(original: Path, target: Path, preview: Any = None) -> None:
    """A small JPEG for maps and lists, upright per EXIF orientation; originals stay byte-for-byte. `preview`:
    the picture already decoded at thumbnail size (`gis.photo_meta.read_meta_and_preview`), else the original
    is decoded here."""
    if target.exists():
        return
    from PIL import Image, ImageOps

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if preview is None:
            with Image.open(original) as img:
                img.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))  # a JPEG decoded at the smallest scale ≥ 320 px
                preview = ImageOps.exif_transpose(img).convert("RGB")
                preview.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        tmp = target.with_suffix(".tmp")
        preview.save(tmp, "JPEG", quality=80)
        os.replace(tmp, target)
    except OSError:  # an image Pillow cannot decode: the original is kept, the list shows no thumbnail
        return
