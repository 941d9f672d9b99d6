"""Evidence checks of field photos against their case, in metres in the projected CRS.

A failed check flags the photo with a reason for the reviewer; it never rejects it silently. Thresholds
are settings (`EvidencePolicy`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import CRS

from gis.crs import transformer

WGS84 = "EPSG:4326"


@dataclass(frozen=True)
class EvidencePolicy:
    """Thresholds of the evidence checks."""

    max_distance_m: float = 30.0
    field_of_view_deg: float = 60.0
    view_range_m: float = 100.0
    max_browser_gap_m: float = 50.0
    future_tolerance: dt.timedelta = dt.timedelta(minutes=5)
    phash_max_distance: int = 6


@dataclass(frozen=True)
class PhotoFacts:
    """What is known about one photo (positions in WGS84 degrees)."""

    lat: float | None
    lon: float | None
    bearing_deg: float | None  # from true north (see `true_bearing`)
    taken_at: dt.datetime | None
    browser_lat: float | None = None
    browser_lon: float | None = None
    sha256: str | None = None
    phash: int | None = None


def magnetic_declination(lat: float, lon: float, when: dt.datetime) -> float | None:
    """Degrees east of true north a compass points at this place and date (World Magnetic Model, offline).

    None where no model covers the date (before 2010): the bearing is then left as the phone wrote it.
    """
    year = when.year + (when.timetuple().tm_yday - 1) / 365.25
    try:
        return float(_magnetic_model(int(when.year)).calculate(glat=lat, glon=lon, alt=0.0, time=year).d)
    except Exception:  # a date outside every model, or coordinates the model refuses
        return None


@functools.lru_cache(maxsize=8)
def _magnetic_model(year: int) -> Any:
    from pygeomag import GeoMag

    return GeoMag(base_year=year)


def true_bearing(bearing_deg: float | None, ref: str | None, lat: float | None, lon: float | None,
                 when: dt.datetime | None) -> float | None:
    """The bearing referred to true north, which is what maps and footprints use.

    Phones write GPSImgDirectionRef `M` (magnetic) or `T` (true); a magnetic bearing is turned by the local
    declination (about −3.5° in southern Hunan in 2026, enough to swing a view cone off a narrow house).
    Without a position, or a reference, the bearing is taken as true.
    """
    if bearing_deg is None or ref != "M" or lat is None or lon is None:
        return bearing_deg
    declination = magnetic_declination(lat, lon, when or dt.datetime.now(dt.UTC))
    return bearing_deg if declination is None else (bearing_deg + declination) % 360.0


def view_cone(x: float, y: float, bearing_deg: float, fov_deg: float, range_m: float) -> shapely.Polygon:
    """The sector a camera at (x, y) looking along `bearing_deg` (clockwise from north) can see."""
    angles = np.radians(np.linspace(bearing_deg - fov_deg / 2, bearing_deg + fov_deg / 2, 13))
    arc = np.column_stack([x + range_m * np.sin(angles), y + range_m * np.cos(angles)])
    return shapely.Polygon(np.vstack([[x, y], arc, [x, y]]))


#: Each flag is Chinese for the officials, with the English after it (flags stored before they were bilingual
#: are the English alone). The distance flags are what the re-inspection rule looks for: a photo taken too far
#: away, or with no position, shows nothing about this house.
NO_POSITION = "no GPS position in the photo"
TOO_FAR = " m from the house"


def _flag(zh: str, en: str) -> str:
    return f"{zh}（{en}）"


def passes_distance_check(flags: list[str]) -> bool:
    """Whether a photo's stored flags say it was taken at the house (a position, within the distance limit)."""
    return not any(NO_POSITION in f or ("taken " in f and TOO_FAR in f) for f in flags)


#: The flag of a photo whose very file is attached to another case (then the near-duplicate check is moot).
SAME_FILE = _flag("同一文件已用于其他案件", "the same file is attached to another case")

#: The same for land photos: the very file is attached to another abandoned-land record or patrol finding.
SAME_LAND_FILE = _flag("同一文件已用于其他地块记录", "the same file is attached to another land record")

#: The flag of a photo that arrived whole (its JPEG markers complete, its hash the phone's) but whose
#: compressed data does not decode: it is kept as the inspector sent it, and shows nothing.
UNDECODABLE = _flag("照片数据损坏，无法完整显示", "the picture's data is damaged and cannot be decoded")


def is_undecodable(flags: list[str]) -> bool:
    """Whether a photo's stored flags say its pixels could not be decoded (it can show nothing of the site)."""
    return UNDECODABLE in flags


#: A land photo (a crop that closes an abandoned-land record) whose picture is on another record, saved again.
NEAR_LAND_FILE = _flag("几乎相同的照片已用于其他地块记录", "a near-identical photo is attached to another land record")


def is_near_duplicate(phash: int, others: Sequence[int] | np.ndarray, policy: EvidencePolicy | None = None) -> bool:
    """Whether the difference hash is within `policy.phash_max_distance` bits of any of `others` (the same
    picture saved again, resized, recompressed or given other EXIF)."""
    policy = policy or EvidencePolicy()
    near = np.bitwise_count(np.asarray(others, dtype=np.uint64) ^ np.uint64(phash))
    return bool(np.any(near <= policy.phash_max_distance))


def near_duplicate_flag(phash: int, other_cases_phash: Sequence[int] | np.ndarray,
                        policy: EvidencePolicy | None = None) -> str | None:
    """The flag of a photo whose difference hash is near a photo on another case (`is_near_duplicate`), else None."""
    if is_near_duplicate(phash, other_cases_phash, policy):
        return _flag("几乎相同的照片已用于其他案件", "a near-identical photo is attached to another case")
    return None


def phash_text(phash: int | None) -> str | None:
    """A difference hash as stored: 16 hex digits (what `phashes` reads back), None where there is none."""
    return f"{phash:0{PHASH_HEX_DIGITS}x}" if phash is not None else None


def phashes(joined: str | None) -> np.ndarray:
    """Difference hashes stored as 16-hex-digit texts and concatenated by the database (GROUP_CONCAT /
    string_agg: one value read, not a row per photo) as 64-bit integers."""
    return np.frombuffer(bytes.fromhex(joined or ""), dtype=">u8").astype(np.uint64)


def check_photo(photo: PhotoFacts, footprint: shapely.Geometry, crs: CRS | str | int, *, case_created: dt.datetime,
                now: dt.datetime, policy: EvidencePolicy | None = None,
                other_cases_sha256: frozenset[str] = frozenset(),
                other_cases_phash: Sequence[int] | np.ndarray = ()) -> list[str]:
    """Reasons this photo is doubtful as evidence for the footprint (empty: it passes every check).

    `footprint` is in the projected `crs`; photo positions are WGS84.
    """
    policy = policy or EvidencePolicy()
    crs = CRS.from_user_input(crs)
    if not crs.is_projected:
        raise ValueError("evidence checks measure metres: give the county's projected CRS")
    to_local = transformer(WGS84, crs)
    flags: list[str] = []
    if photo.lat is None or photo.lon is None:
        flags.append(_flag("照片没有GPS位置", NO_POSITION))
    else:
        x, y = to_local.transform(photo.lon, photo.lat)
        distance = shapely.distance(shapely.Point(x, y), footprint)
        if distance > policy.max_distance_m:
            flags.append(_flag(f"拍摄点距房屋 {distance:.0f} 米，超过 {policy.max_distance_m:.0f} 米",
                               f"taken {distance:.0f}{TOO_FAR}, limit {policy.max_distance_m:.0f} m"))
        if photo.bearing_deg is None:
            flags.append(_flag("照片没有罗盘方位", "no compass bearing in the photo"))
        elif distance > 0:
            cone = view_cone(x, y, photo.bearing_deg, policy.field_of_view_deg, policy.view_range_m)
            if not cone.intersects(footprint):
                flags.append(_flag(f"镜头朝向 {photo.bearing_deg:.0f}°，没有对着房屋",
                                   f"the camera faced {photo.bearing_deg:.0f}°, away from the house"))
        if photo.browser_lat is not None and photo.browser_lon is not None:
            bx, by = to_local.transform(photo.browser_lon, photo.browser_lat)
            gap = float(np.hypot(bx - x, by - y))
            if gap > policy.max_browser_gap_m:
                flags.append(_flag(f"照片GPS与手机定位相差 {gap:.0f} 米",
                                   f"photo GPS and phone position differ by {gap:.0f} m"))
    if photo.taken_at is None:
        flags.append(_flag("照片没有拍摄时间", "no capture time in the photo"))
    else:
        if photo.taken_at < case_created:
            flags.append(_flag("拍摄时间早于案件建立", "taken before the case was opened"))
        if photo.taken_at > now + policy.future_tolerance:
            flags.append(_flag("拍摄时间在未来", "capture time is in the future"))
    if photo.sha256 and photo.sha256 in other_cases_sha256:
        flags.append(SAME_FILE)
    elif photo.phash is not None and (near := near_duplicate_flag(photo.phash, other_cases_phash, policy)):
        flags.append(near)
    return flags


#: A difference hash as stored: 64 bits (`dhash` of the default size) as 16 hexadecimal digits.
PHASH_HEX_DIGITS = 16


def dhash(path: str, size: int = 8) -> int | None:
    """A 64-bit difference hash of the image (near-identical photos differ in a few bits)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.draft("L", (size * 8, size * 8))  # a JPEG decoded at reduced scale: 9 × 8 pixels are all it needs
            small = img.convert("L").resize((size + 1, size), Image.Resampling.LANCZOS)
            pixels = np.asarray(small, dtype=np.int16)
    except Exception:  # an unreadable image has no hash
        return None
    bits = (pixels[:, 1:] > pixels[:, :-1]).ravel()
    return int(sum(1 << i for i, b in enumerate(bits) if b))
