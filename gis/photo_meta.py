"""Position, bearing and time from a photo's EXIF (Pillow), never crashing on broken metadata.

Basic reader for the evidence checks; the full field-evidence rules (GPS UTC stamps, DJI gimbal yaw,
offsets, accuracy) belong to the photo-evidence work.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError


@dataclass(frozen=True)
class PhotoMeta:
    """What the photo says about itself (None where unknown or unreadable)."""

    lat: float | None = None
    lon: float | None = None
    bearing_deg: float | None = None
    taken_at: dt.datetime | None = None
    error: str | None = None


def _ratio(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if number == number else None  # NaN from 0/0 rationals


def _dms(values: Any, ref: Any, negative: str) -> float | None:
    try:
        d, m, s = (_ratio(v) for v in values)
    except (TypeError, ValueError):
        return None
    if d is None or m is None or s is None:
        return None
    degrees = d + m / 60.0 + s / 3600.0
    return -degrees if str(ref or "").strip().upper().startswith(negative) else degrees


def read_meta(path: str | Path) -> PhotoMeta:
    """Read EXIF GPS position, GPSImgDirection and DateTimeOriginal (+ OffsetTimeOriginal) of a photo."""
    try:
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            exif = img.getexif()
            gps = exif.get_ifd(ExifTags.IFD.GPSInfo) if exif else {}
            sub = exif.get_ifd(ExifTags.IFD.Exif) if exif else {}
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return PhotoMeta(error=str(exc) or type(exc).__name__)
    lat = _dms(gps.get(2), gps.get(1), "S") if gps else None
    lon = _dms(gps.get(4), gps.get(3), "W") if gps else None
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        lat = lon = None
    bearing = _ratio(gps.get(17)) if gps else None
    if bearing is not None and not 0 <= bearing <= 360:
        bearing = None
    taken = None
    raw = sub.get(36867) if sub else None
    if raw:
        try:
            taken = dt.datetime.strptime(str(raw).strip(), "%Y:%m:%d %H:%M:%S")
            offset = sub.get(36881)
            if offset:
                sign = -1 if str(offset).startswith("-") else 1
                hh, mm = str(offset).lstrip("+-").split(":")
                taken = taken.replace(tzinfo=dt.timezone(sign * dt.timedelta(hours=int(hh), minutes=int(mm))))
            else:
                taken = taken.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))  # county time, flagged later
        except ValueError:
            taken = None
    return PhotoMeta(lat=lat, lon=lon, bearing_deg=bearing, taken_at=taken)
