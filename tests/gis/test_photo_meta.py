"""Photo metadata of 24 real JPEGs against exiftool's reading (tests/fixtures/photos/expected_gps.json)."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from api.cli import app
from gis.photo_meta import jpeg_structure_problem, read_meta, read_meta_and_preview
from tests.conftest import FIXTURES
from tests.photo_factory import damaged_jpeg

EXPECTED = FIXTURES / "photos" / "expected_gps.json"
CASES = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else []


@pytest.mark.parametrize("expected", CASES, ids=[c["file"] for c in CASES])
def test_position_altitude_and_bearing_match_exiftool(expected):
    meta = read_meta(FIXTURES / "photos" / expected["file"])
    assert meta.error is None
    if expected["lat"] is None:
        assert meta.lat is None and meta.lon is None
    else:
        assert meta.lat == pytest.approx(expected["lat"], abs=1e-7)
        assert meta.lon == pytest.approx(expected["lon"], abs=1e-7)
    if expected["altitude"] is None or meta.lat is None:
        assert meta.altitude_m is None or expected["altitude"] is None
    else:
        assert meta.altitude_m == pytest.approx(expected["altitude"], abs=1e-6)
    if expected["img_direction"] is not None:
        assert meta.bearing_deg == pytest.approx(expected["img_direction"], abs=1e-6)
        assert meta.bearing_ref == expected["img_direction_ref"] and meta.bearing_source == "gps_img_direction"
    elif expected["dji_gimbal_yaw"] is not None:
        assert meta.bearing_deg == pytest.approx(expected["dji_gimbal_yaw"] % 360, abs=1e-6)
        assert meta.bearing_source == "dji_gimbal_yaw"
    else:
        assert meta.bearing_deg is None
    assert meta.make == expected["make"]


@pytest.mark.parametrize("expected", [c for c in CASES if c["gps_datetime_utc"]],
                         ids=[c["file"] for c in CASES if c["gps_datetime_utc"]])
def test_time_prefers_the_gps_utc_stamp_when_the_camera_gives_no_offset(expected):
    meta = read_meta(FIXTURES / "photos" / expected["file"])
    stamp = dt.datetime.strptime(expected["gps_datetime_utc"].rstrip("Z")[:19], "%Y:%m:%d %H:%M:%S")
    assert meta.time_source == "gps_utc"
    assert meta.taken_at.replace(microsecond=0) == stamp.replace(tzinfo=dt.UTC)


def test_camera_local_time_is_read_as_county_time_and_flagged():
    meta = read_meta(FIXTURES / "photos" / "ianare_Canon_40D_nogps.jpg")
    assert meta.time_source == "camera_local_assumed"
    assert meta.taken_at == dt.datetime(2008, 5, 30, 15, 56, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_southern_and_western_hemispheres_and_negative_altitude():
    kodak = read_meta(FIXTURES / "photos" / "ianare_Kodak_CX7530.jpg")
    assert kodak.lat < 0 and kodak.lon > 0
    drone = read_meta(FIXTURES / "photos" / "exifr_issue-exifr-3.jpg")
    assert drone.lon < 0 and drone.altitude_m == pytest.approx(-8.5)


@pytest.mark.parametrize("name", ["pillow_exif_gps.jpg", "pillow_exif_gps_zero_denominator.jpg",
                                  "pillow_empty_gps_ifd.jpg", "pillow_exif_gps_typeerror.jpg"])
def test_broken_gps_never_crashes_and_gives_no_fix(name):
    meta = read_meta(FIXTURES / "photos" / name)
    assert meta.error is None and meta.lat is None and meta.lon is None


def test_photo_info_cli_reports_broken_files_and_keeps_going(tmp_path: Path):
    good = FIXTURES / "photos" / "exexif_sunrise.jpg"
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:5000])
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is not a photo")
    copy = tmp_path / "copy.jpg"
    shutil.copy(good, copy)
    result = CliRunner().invoke(app, ["photo-info", str(good), str(truncated), str(fake), str(copy)])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [("error" in line) for line in lines] == [False, True, True, False]
    first = lines[0]
    assert set(first) >= {"path", "sha256", "lat", "lon", "altitude_m", "bearing_deg", "bearing_ref", "taken_at",
                          "make", "model"}
    assert first["bearing_deg"] == 125.25 and first["bearing_ref"] == "M"
    assert first["taken_at"] == "2016-12-27T06:42:48+00:00"
    assert first["sha256"] == lines[3]["sha256"]


def test_heic_from_an_iphone_is_read_like_a_jpeg(tmp_path: Path):
    # HEIC is what iPhones shoot by default. exiftool, not our reader, says what the file holds.
    import subprocess

    from tests.photo_factory import heic_with_exif

    taken = dt.datetime(2026, 10, 8, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(heic_with_exif(25.6034722, 112.4083333, 135.5, taken))
    assert path.read_bytes()[4:12] == b"ftypheic"
    if shutil.which("exiftool"):
        truth = json.loads(subprocess.run(["exiftool", "-n", "-json", "-GPSLatitude", "-GPSLongitude",
                                           "-GPSImgDirection", str(path)], capture_output=True, text=True,
                                          check=True).stdout)[0]
    else:  # pragma: no cover - CI installs exiftool
        truth = {"GPSLatitude": 25.6034722, "GPSLongitude": 112.4083333, "GPSImgDirection": 135.5}
    meta = read_meta(path)
    assert meta.error is None
    assert meta.lat == pytest.approx(truth["GPSLatitude"], abs=1e-6)
    assert meta.lon == pytest.approx(truth["GPSLongitude"], abs=1e-6)
    assert meta.bearing_deg == pytest.approx(truth["GPSImgDirection"]) and meta.bearing_ref == "T"
    assert meta.taken_at == taken and meta.time_source == "exif_offset"
    broken = tmp_path / "cut.heic"
    broken.write_bytes(path.read_bytes()[:300])
    assert read_meta(broken).error is not None


CAMERA_JPEGS = sorted((FIXTURES / "photos").glob("*.jpg"))


@pytest.mark.parametrize("path", CAMERA_JPEGS, ids=lambda p: p.name)
def test_every_real_camera_jpeg_is_whole_by_its_markers_and_every_cut_of_it_is_not(path: Path):
    """An upload is answered on the marker walk alone (the decode comes after): it must accept every real
    camera file and refuse the same file cut anywhere before its end-of-image marker, as a decode would."""
    data = path.read_bytes()
    assert jpeg_structure_problem(data) is None
    assert data.rfind(b"\xff\xd9") > 0
    cuts = {*range(2, len(data) - 1, max(1, len(data) // 211)), len(data) - 2, len(data) - 1}
    missed = [cut for cut in sorted(cuts) if jpeg_structure_problem(data[:cut]) is None]
    assert missed == []


def test_the_marker_walk_takes_progressive_files_and_data_after_the_end_and_misses_only_damaged_pixels(
        tmp_path: Path):
    original = FIXTURES / "photos" / "ianare_gps_DSCN0010.jpg"
    with Image.open(original) as img:
        out = io.BytesIO()
        img.save(out, "JPEG", progressive=True, quality=90, exif=img.info["exif"])
    progressive = out.getvalue()
    assert jpeg_structure_problem(progressive) is None
    assert all(jpeg_structure_problem(progressive[:cut]) for cut in range(4, len(progressive) - 1, 997))
    # A motion photo carries its video after the picture's end-of-image marker; an MPO its second picture.
    assert jpeg_structure_problem(progressive + b"\x00\x00\x00\x18ftypmp42" + bytes(5000)) is None
    assert "start-of-image" in (jpeg_structure_problem(b"\x89PNG\r\n\x1a\n") or "")
    assert "end-of-image" in (jpeg_structure_problem(progressive[:-2]) or "")
    # A complete file whose image data libjpeg refuses: whole by its markers, its EXIF still read; only the
    # decode (after the upload is answered) finds it out.
    damaged = tmp_path / "damaged.jpg"
    damaged.write_bytes(damaged_jpeg(original.read_bytes()))
    assert jpeg_structure_problem(damaged.read_bytes()) is None
    header_only, preview = read_meta_and_preview(damaged, decode=False)
    assert header_only.error is None and preview is None
    assert header_only.lat == pytest.approx(43.4674, abs=1e-3)
    decoded, preview = read_meta_and_preview(damaged, preview_px=320)
    assert decoded.error and "decodable" in decoded.error and preview is None
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(damaged.read_bytes()[:20_000])
    assert "not a complete JPEG" in (read_meta_and_preview(cut, decode=False)[0].error or "")
