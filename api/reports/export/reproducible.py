"""Byte-for-byte reproducible files: a past month exported again is identical, except for the manifest's time.

Zip containers (xlsx, zipped Shapefile) get fixed entry times (the end of the month, Asia/Shanghai) and an
xlsx fixed document times; the manifest lists every file with its SHA-256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import zipfile
from pathlib import Path

from api.cases.deadlines import COUNTY_TZ
from api.clock import utcnow


def freeze_zip(path: Path, stamp: dt.datetime, core_time: dt.datetime | None = None) -> None:
    """Rewrite a zip container with fixed entry times (and fixed document times in an xlsx)."""
    when = stamp.astimezone(COUNTY_TZ).replace(tzinfo=None).timetuple()[:6]
    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info.filename)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in entries:
            if core_time is not None and info.filename == "docProps/core.xml":
                iso = core_time.strftime("%Y-%m-%dT%H:%M:%SZ")
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + iso.encode(), data)
            fixed = zipfile.ZipInfo(info.filename, date_time=when)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, data)


def write_manifest(path: Path, month: str, township: str | None, files: list[Path]) -> None:
    entries = []
    for f in files:
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        entries.append({"name": f.name, "sha256": digest, "bytes": f.stat().st_size})
    path.write_text(json.dumps({"month": month, "township": township, "created_at": utcnow().isoformat(),
                                "files": entries}, ensure_ascii=False, indent=2), encoding="utf-8")
