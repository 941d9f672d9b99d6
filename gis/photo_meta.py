"""Position, bearing and time from a photo's own metadata (EXIF via Pillow, DJI XMP), never crashing.

JPEG, PNG and HEIC/HEIF (through pillow-heif).

Rules (field-evidence practice):
- Position: GPSLatitude/GPSLongitude with their refs (S and W negative). Broken rationals (0/0), values out
  of range, a missing coordinate or exactly (0, 0) mean "no fix" — never a made-up position.
- Altitude: GPSAltitude, below sea level when GPSAltitudeRef = 1; without a ref it is above sea level.
- Bearing: GPSImgDirection with its ref (M magnetic, T true); for drone shots the DJI gimbal yaw (XMP).
- Time: DateTimeOriginal with OffsetTimeOriginal; else the GPS UTC stamp (date + time); else the camera's
  local time read as county time (UTC+8) and flagged `time_source = "camera_local_assumed"`.
Phone GPS is WGS84 (CGCS2000 agrees to within a metre).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import math
import mmap
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pillow_heif
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

# iPhones shoot HEIC by default: with libheif (pillow-heif) Pillow opens it like a JPEG, EXIF and XMP included,
# so positions, bearings, times and thumbnails come from HEIC evidence too.
pillow_heif.register_heif_opener()

COUNTY_OFFSET = dt.timezone(dt.timedelta(hours=8))
_DJI_YAW = re.compile(rb'drone-dji:GimbalYawDegree(?:="|>)\s*([+-]?\d+(?:\.\d+)?)')
_GPS = ExifTags.IFD.GPSInfo
_EXIF = ExifTags.IFD.Exif


@dataclass(frozen=True)
class PhotoMeta:
    """What a photo says about itself; None where unknown or unreadable."""

    path: str
    sha256: str | None = None
    lat: float | None = None
    lon: float | None = None
    altitude_m: float | None = None
    bearing_deg: float | None = None
    bearing_ref: str | None = None  # M | T
    bearing_source: str | None = None  # gps_img_direction | dji_gimbal_yaw
    taken_at: dt.datetime | None = None
    time_source: str | None = None  # exif_offset | gps_utc | camera_local_assumed
    gps_accuracy_m: float | None = None
    make: str | None = None
    model: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The `redline photo-info` line (ISO 8601 time with its UTC offset)."""
        out = asdict(self)
        out["taken_at"] = self.taken_at.isoformat() if self.taken_at else None
        return out


def _number(value: Any) -> float | None:
    """A finite float from an EXIF rational/number, or None (0/0, inf, wrong types)."""
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _degrees(values: Any) -> float | None:
    if not isinstance(values, tuple | list) or len(values) != 3:
        return None
    d, m, s = (_number(v) for v in values)
    if d is None or m is None or s is None or min(d, m, s) < 0 or m >= 60 or s >= 60:
        return None
    return d + m / 60.0 + s / 3600.0


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if value is None:
        return None
    text = str(value).strip("\x00 ").strip()
    return text or None


def _position(gps: dict[int, Any]) -> tuple[float | None, float | None]:
    lat, lon = _degrees(gps.get(2)), _degrees(gps.get(4))
    lat_ref, lon_ref = (_text(gps.get(1)) or "").upper(), (_text(gps.get(3)) or "").upper()
    if lat is None or lon is None:
        return None, None
    if lat_ref not in ("N", "S") or lon_ref not in ("E", "W"):
        return None, None  # without refs the hemisphere is a guess: no fix
    lat = -lat if lat_ref == "S" else lat
    lon = -lon if lon_ref == "W" else lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None, None
    return lat, lon


def _altitude(gps: dict[int, Any]) -> float | None:
    alt = _number(gps.get(6))
    if alt is None:
        return None
    ref = gps.get(5)
    if isinstance(ref, bytes):
        ref = ref[:1] == b"\x01"
    return -alt if ref in (1, True) else alt


def _local(text: Any) -> dt.datetime | None:
    raw = _text(text)
    if not raw:
        return None
    try:
        return dt.datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _offset(text: Any) -> dt.timezone | None:
    raw = _text(text)
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", raw or "")
    if not match:
        return None
    sign = -1 if match.group(1) == "-" else 1
    return dt.timezone(sign * dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def _gps_time(gps: dict[int, Any]) -> dt.datetime | None:
    date = _text(gps.get(29))
    hms = gps.get(7)
    if not date or not isinstance(hms, tuple | list) or len(hms) != 3:
        return None
    h, m, s = (_number(v) for v in hms)
    if h is None or m is None or s is None:
        return None
    try:
        day = dt.datetime.strptime(date, "%Y:%m:%d")
        return (day + dt.timedelta(hours=h, minutes=m, seconds=s)).replace(tzinfo=dt.UTC)
    except (ValueError, OverflowError):
        return None


def _when(exif_ifd: dict[int, Any], base: Any, gps: dict[int, Any]) -> tuple[dt.datetime | None, str | None]:
    local = _local(exif_ifd.get(36867))
    offset = _offset(exif_ifd.get(36881))
    if local is not None and offset is not None:
        return local.replace(tzinfo=offset), "exif_offset"
    utc = _gps_time(gps)
    if utc is not None:
        return utc, "gps_utc"
    local = local or _local(base.get(306))  # DateTime of IFD0 when the original is missing
    if local is not None:
        return local.replace(tzinfo=COUNTY_OFFSET), "camera_local_assumed"
    return None, None


#: The most pixels a photo may have: a 200-megapixel phone mode is rare, and decoding costs 3 bytes a
#: pixel — a 12 000 × 12 000 PNG of 136 KiB would take 600 MB to check.
MAX_PIXELS = 64_000_000


def read_meta(path: str | Path, max_pixels: int = MAX_PIXELS) -> PhotoMeta:
    """Read a photo's metadata. A file that is not a complete, decodable image (or one of more than
    `max_pixels` pixels) gives `error` set."""
    return read_meta_and_preview(path, max_pixels)[0]


#: Where the entropy-coded data of a JPEG scan ends: an 0xFF that is neither stuffing (0xFF 0x00), a restart
#: marker (0xFF 0xD0-0xD7) nor a fill byte (0xFF 0xFF) starts the next marker (ITU T.81, B.1.1.5 and F.1.2.3).
_JPEG_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
#: Markers without a length field: SOI, EOI, TEM and the restart markers.
_JPEG_STANDALONE = frozenset({0xD8, 0xD9, 0x01, *range(0xD0, 0xD8)})


def jpeg_structure_problem(data: bytes | mmap.mmap) -> str | None:
    """Why a JPEG is not whole, read from its markers alone (no pixel decoded); None when it is.

    Every segment is walked by its length up to the end-of-image marker of the first picture, and each scan's
    entropy-coded data is crossed to the marker that follows it. A file cut anywhere (a transfer broken off, a
    photo read by the browser before the camera finished writing it) ends before that marker. Bytes after it
    are allowed: motion photos and MPO files append more data there. What this cannot see is a complete file
    whose compressed data is damaged inside; only decoding every pixel finds that (`read_meta_and_preview`)."""
    if data[:2] != b"\xff\xd8":
        return "no start-of-image marker"
    pos, end, scans = 2, len(data), 0
    while True:
        if pos + 2 > end:
            return "the file ends inside its headers"
        if data[pos] != 0xFF:
            return f"no marker at byte {pos}"
        marker = data[pos + 1]
        if marker == 0xFF:  # a fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:
            return None if scans else "no image data before the end-of-image marker"
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if pos + 4 > end:
            return "the file ends inside its headers"
        following = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if following > end:
            return "the file ends inside a header segment"
        pos = following
        if marker == 0xDA:  # start of scan: compressed data up to the next real marker
            scans += 1
            found = _JPEG_SCAN_END.search(data, pos)
            if found is None:
                return "the file ends inside its image data (no end-of-image marker)"
            pos = found.start()


def read_meta_and_preview(path: str | Path, max_pixels: int = MAX_PIXELS, preview_px: int | None = None,
                          sha256: str | None = None, *, decode: bool = True,
                          ) -> tuple[PhotoMeta, Image.Image | None]:
    """`read_meta`, and (with `preview_px`) the picture upright per its EXIF orientation, at most `preview_px`
    on a side: the one decode that proves the file whole also gives the thumbnail (a 4 MB JPEG's entropy
    decoding is most of an upload's cost; it is done once). `sha256`: the file's hash when the caller already
    made it while receiving the file (an upload), so it is not hashed twice.

    `decode=False` (an upload being answered): a JPEG is proved whole by its marker structure
    (`jpeg_structure_problem`, a millisecond) instead of by decoding it (~70 ms for 4 MB), and no preview is
    made; the caller decodes it afterwards. Other formats are decoded either way.

    The file is mapped, not read into memory: the hash, the marker walk and the DJI XMP search read the page
    cache, so fifty 4 MB uploads at once do not hold 200 MB of copies."""
    p = Path(path)
    try:
        with contextlib.ExitStack() as stack:
            fh = stack.enter_context(p.open("rb"))
            data: bytes | mmap.mmap = b""
            if os.fstat(fh.fileno()).st_size:
                data = stack.enter_context(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
            return _read_mapped(p, data, max_pixels, preview_px, sha256, decode)
    except OSError as exc:  # opening or mapping the file
        return PhotoMeta(str(p), error=str(exc)), None


def _read_mapped(p: Path, data: bytes | mmap.mmap, max_pixels: int, preview_px: int | None, sha256: str | None,
                 decode: bool) -> tuple[PhotoMeta, Image.Image | None]:
    """`read_meta_and_preview` on the file's bytes, mapped."""
    sha = sha256 or hashlib.sha256(data).hexdigest()
    preview = None
    try:
        with Image.open(p) as img:
            width, height = img.size
            if width * height > max_pixels:  # checked from the header, before a single pixel is decoded
                return PhotoMeta(str(p), sha, error=f"{width} × {height} pixels is more than the "
                                                    f"{max_pixels / 1e6:.0f} megapixels a photo may have"), None
            if not decode and img.format in ("JPEG", "MPO"):
                problem = jpeg_structure_problem(data)
                if problem:
                    return PhotoMeta(str(p), sha, error=f"not a complete JPEG: {problem}"), None
                preview_px = None
            else:
                # A truncated or corrupt file fails here, not later. A JPEG is decoded at a reduced scale
                # (libjpeg's DCT scaling): every byte of the stream is still read and checked, at a fraction of
                # the cost.
                wanted = (preview_px, preview_px) if preview_px else (max(1, width // 8), max(1, height // 8))
                img.draft("RGB" if preview_px else img.mode, wanted)
                img.load()
            exif = img.getexif()
            if preview_px:
                preview = ImageOps.exif_transpose(img).convert("RGB")
                preview.thumbnail((preview_px, preview_px))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        reason = str(exc).replace(str(p), p.name)  # never a server path in a message
        return PhotoMeta(str(p), sha, error=f"not a complete, decodable image: {reason}"), None
    gps: dict[int, Any] = {}
    sub: dict[int, Any] = {}
    for ifd, target in ((_GPS, gps), (_EXIF, sub)):
        try:
            block = exif.get_ifd(ifd)
            if isinstance(block, dict):
                target.update(block)
        except Exception:  # broken IFD pointers of every kind: the block is simply absent
            pass
    lat, lon = _position(gps)
    source: str | None = "gps_img_direction"
    bearing, ref = _number(gps.get(17)), _text(gps.get(16))
    if bearing is None or not 0 <= bearing <= 360:
        bearing, ref, source = None, None, None
        yaw = _DJI_YAW.search(data)
        if yaw:
            bearing, source = float(yaw.group(1)) % 360.0, "dji_gimbal_yaw"
    if ref not in ("M", "T"):
        ref = None
    taken, time_source = _when(sub, exif, gps)
    accuracy = _number(gps.get(31))
    return PhotoMeta(str(p), sha, lat, lon, _altitude(gps), bearing, ref,
                     source, taken, time_source, accuracy, _text(exif.get(271)), _text(exif.get(272))), preview
