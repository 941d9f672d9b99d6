"""Evidence checks with hand-built geometry (EPSG:4546 metres; photos in WGS84)."""

from __future__ import annotations

import datetime as dt

import pytest
from pyproj import Transformer
from shapely import box

from gis.evidence import (
    EvidencePolicy,
    PhotoFacts,
    check_photo,
    dhash,
    magnetic_declination,
    passes_distance_check,
    true_bearing,
    view_cone,
)
from tests.conftest import FIXTURES

TO_WGS = Transformer.from_crs(4546, 4326, always_xy=True)
X, Y = 500_000.0, 2_830_000.0
HOUSE = box(X, Y, X + 10, Y + 10)
CREATED = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


def photo(dx: float, dy: float, bearing: float | None, **kw) -> PhotoFacts:
    lon, lat = TO_WGS.transform(X + dx, Y + dy)
    return PhotoFacts(lat=lat, lon=lon, bearing_deg=bearing, taken_at=kw.pop("taken_at", NOW - dt.timedelta(days=1)),
                      **kw)


def flags(p: PhotoFacts, **kw) -> list[str]:
    return check_photo(p, HOUSE, 4546, case_created=CREATED, now=NOW, **kw)


def test_a_good_photo_passes():
    assert flags(photo(5, -20, 0.0)) == []  # 20 m south of the house, looking north


def test_too_far_and_facing_away():
    far = flags(photo(5, -45, 0.0))
    assert any("45 m from the house" in f for f in far)
    away = flags(photo(5, -20, 180.0))
    assert away == ["镜头朝向 180°，没有对着房屋（the camera faced 180°, away from the house）"]


def test_view_cone_edges():
    cone = view_cone(X + 5, Y - 20, 0.0, 60.0, 100.0)
    assert cone.intersects(HOUSE)
    assert not view_cone(X + 5, Y - 20, 90.0, 60.0, 100.0).intersects(HOUSE)
    assert not view_cone(X + 5, Y - 200, 0.0, 60.0, 100.0).intersects(HOUSE)  # out of range


def test_time_checks():
    before = flags(photo(5, -20, 0.0, taken_at=CREATED - dt.timedelta(days=3)))
    assert before == ["拍摄时间早于案件建立（taken before the case was opened）"]
    future = flags(photo(5, -20, 0.0, taken_at=NOW + dt.timedelta(days=1)))
    assert future == ["拍摄时间在未来（capture time is in the future）"]
    assert "照片没有拍摄时间（no capture time in the photo）" in flags(photo(5, -20, 0.0, taken_at=None))


def test_browser_position_disagreeing_with_exif():
    lon, lat = TO_WGS.transform(X + 5, Y - 120)
    result = flags(photo(5, -20, 0.0, browser_lat=lat, browser_lon=lon))
    assert result == ["照片GPS与手机定位相差 100 米（photo GPS and phone position differ by 100 m）"]


def test_reuse_by_hash_and_near_identical_image():
    p = photo(5, -20, 0.0, sha256="abc", phash=0b1011)
    same = flags(p, other_cases_sha256=frozenset({"abc"}))
    assert same == ["同一文件已用于其他案件（the same file is attached to another case）"]
    near = flags(p, other_cases_phash=(0b1010,))
    assert near == ["几乎相同的照片已用于其他案件（a near-identical photo is attached to another case）"]
    assert flags(p, other_cases_phash=(0b1011 ^ 0xFFFF,)) == []


def test_thresholds_are_settings_and_no_gps_is_flagged():
    assert flags(photo(5, -45, 0.0), policy=EvidencePolicy(max_distance_m=50.0)) == []
    none = PhotoFacts(lat=None, lon=None, bearing_deg=None, taken_at=NOW - dt.timedelta(hours=1))
    assert flags(none) == ["照片没有GPS位置（no GPS position in the photo）"]


def test_dhash_of_real_photos():
    a = dhash(str(FIXTURES / "photos" / "ianare_gps_DSCN0010.jpg"))
    b = dhash(str(FIXTURES / "photos" / "ianare_gps_DSCN0012.jpg"))
    assert a is not None and b is not None and a != b
    assert dhash(str(FIXTURES / "photos" / "ianare_gps_DSCN0010.jpg")) == a


def test_magnetic_bearings_are_turned_to_true_north():
    lon, lat = TO_WGS.transform(X, Y)
    declination = magnetic_declination(lat, lon, NOW)
    assert declination is not None and -4.5 < declination < -2.5  # west, in southern Hunan (WMM 2025)
    assert true_bearing(100.0, "M", lat, lon, NOW) == pytest.approx(100.0 + declination)
    assert true_bearing(1.0, "M", lat, lon, NOW) == pytest.approx(361.0 + declination)  # wraps past north
    assert true_bearing(100.0, "T", lat, lon, NOW) == 100.0
    assert true_bearing(100.0, "M", None, None, NOW) == 100.0  # nowhere to look the declination up
    assert magnetic_declination(lat, lon, dt.datetime(1995, 1, 1, tzinfo=dt.UTC)) is None  # no model: as written
    # A 2 m wide shed due north, 25 m away; the phone wrote a magnetic 32.5°. Read as true, the 60° cone
    # misses the shed by a hair; turned to true north (≈ 29°) it takes the shed in.
    narrow = box(X - 1, Y + 25, X + 1, Y + 29)
    taken = NOW - dt.timedelta(days=1)

    def facing(bearing: float | None) -> list[str]:
        return check_photo(PhotoFacts(lat=lat, lon=lon, bearing_deg=bearing, taken_at=taken), narrow, 4546,
                           case_created=CREATED, now=NOW)

    assert facing(32.5) == ["镜头朝向 32°，没有对着房屋（the camera faced 32°, away from the house）"]
    assert facing(true_bearing(32.5, "M", lat, lon, taken)) == []


def test_flags_are_chinese_first_and_the_distance_rule_reads_old_and_new_ones():
    far = flags(photo(5, -145, 0.0))
    assert far[0].startswith("拍摄点距房屋") and "m from the house" in far[0]
    assert not passes_distance_check(far)
    assert not passes_distance_check(flags(PhotoFacts(lat=None, lon=None, bearing_deg=None,
                                                      taken_at=NOW - dt.timedelta(days=1))))
    # Flags stored before they were bilingual (English alone) are read the same way.
    assert not passes_distance_check(["taken 45 m from the house (limit 30 m)"])
    assert not passes_distance_check(["no GPS position in the photo"])
    assert passes_distance_check(["拍摄时间早于案件建立（taken before the case was opened）"])
