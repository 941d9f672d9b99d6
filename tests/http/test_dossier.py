"""The case dossier (案件档案) on both databases: a case driven through the API with real photos, a report, a
comment, a file number and two imagery epochs; its PDF's text, extracted with pypdf, checked for the code, the
areas, every photo's SHA-256 and every event's audit hash; the scope rule; the CLI's single and batch forms."""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.cases.audit import verify_chain
from api.cases.deadlines import COUNTY_TZ
from api.cli import app
from api.db.models import Case, CaseEvent, House, Photo
from api.db.repository import read_frame
from api.ingest.epochs import import_epoch
from api.settings import get_settings
from tests.conftest import ARTIFACTS
from tests.http.conftest import T1, Site, case_id
from tests.http.test_workflow_api import act, answered_not_decoded, photo_at, resaved, upload


def pdf_text(pdf: bytes) -> str:
    """The PDF's text with all whitespace removed (a long hash wraps across lines in the table)."""
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def a_filed_case_with_evidence(site: Site, tmp_path: Path) -> int:
    cid = case_id(site, "A1")
    act(site, "county", cid, "assign", assignee="inspector1")
    for i, body in enumerate((None, photo_at(site, cid, seed=3))):
        r = upload(site, "inspector1", cid, kind="panorama", data=body)
        assert r.status_code == 201, (i, r.text)
    act(site, "inspector1", cid, "verify", verdict="illegal", period="after_cutoff")
    site.client.post(f"/api/cases/{cid}/comments", headers=site.as_user("officer1"), json={"text": "尽快送达通知"})
    site.client.post(f"/api/cases/{cid}/progress-reports", headers=site.as_user("inspector1"),
                     json={"text": "户主已签收"})
    act(site, "county", cid, "file", file_number="汝国土立〔2026〕17号")
    with site.db.factory() as s:
        house = read_frame(s, House, where=[House.source_key == "A1"]).geometry.iloc[0]
    elsewhere = shapely.box(*(house.bounds[0] + 3000, house.bounds[1] + 3000, house.bounds[0] + 3010,
                              house.bounds[1] + 3010))
    for name, day, geoms in (("e1", dt.date(2025, 1, 1), [house, elsewhere]), ("e2", dt.date(2026, 1, 1), [elsewhere])):
        path = tmp_path / f"{name}.gpkg"  # the house on the first pass, gone on the second
        gpd.GeoDataFrame({"BSM": [f"{name}-{i}" for i in range(len(geoms))]}, geometry=geoms, crs=4546).to_file(path)
        import_epoch(site.db.factory, path, day)
    return cid


def test_the_dossier_holds_the_case_file_and_can_be_checked(site: Site, tmp_path: Path):
    cid = a_filed_case_with_evidence(site, tmp_path)
    r = site.client.get(f"/api/cases/{cid}/dossier.pdf", headers=site.as_user("officer1"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    text = pdf_text(r.content)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"dossier-{site.db.backend}.pdf").write_bytes(r.content)  # kept for a person to look at
    with site.db.factory() as s:
        case = s.execute(select(Case).where(Case.id == cid)).scalar_one()
        photos = list(s.execute(select(Photo.sha256).where(Photo.case_id == cid)).scalars())
        events = list(s.execute(select(CaseEvent.hash).where(CaseEvent.case_id == cid)).scalars())
        assert verify_chain(s).ok
    assert case.code in r.headers["content-disposition"]
    assert case.code in text and "汝国土立〔2026〕17号" in text
    assert f"{case.farmland_m2:.2f}" in text and f"{case.footprint_m2:.2f}" in text
    assert f"{case.farmland_m2 / 666.6666666666666:.4f}" in text  # 亩
    assert "第1项占用永久基本农田建房" in text and "增量（2020年7月3日起）" in text
    assert len(photos) == 2 and all(sha in text for sha in photos)
    assert len(events) >= 5 and all(h in text for h in events)
    assert "户主已签收" in text and "尽快送达通知" in text
    assert "2025-01-01：房屋在" in text and "2026-01-01：无房屋" in text  # the footprint at each epoch
    assert "北N" in text and re.search(r"\d+m", text)  # north arrow, scale bar
    generated = dt.datetime.now(COUNTY_TZ).strftime("%Y-%m-%d")
    assert f"生成于{generated}" in text
    # Scope: another township's officer is told the case does not exist, as for every case query.
    assert site.client.get(f"/api/cases/{cid}/dossier.pdf", headers=site.as_user("officer2")).status_code == 404
    # The map's before/after view reads the same passes.
    passes = site.client.get(f"/api/cases/{cid}/epochs", headers=site.as_user("officer1")).json()["epochs"]
    assert [(p["imaged_on"], p["present"]) for p in passes] == [("2025-01-01", True), ("2026-01-01", False)]
    assert passes[0]["area_m2"] == pytest.approx(case.footprint_m2, abs=0.5)
    assert [f["properties"]["at_house"] for f in passes[0]["features"]["features"]] == [True]
    assert site.client.get(f"/api/cases/{cid}/epochs", headers=site.as_user("officer2")).status_code == 404


def test_the_cli_writes_one_dossier_or_a_townships_month_or_quarter(site: Site, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch):
    cid = a_filed_case_with_evidence(site, tmp_path)
    monkeypatch.setenv("REDLINE_DATABASE_URL", site.db.url)
    monkeypatch.setenv("REDLINE_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        with site.db.factory() as s:
            code = s.execute(select(Case.code).where(Case.id == cid)).scalar_one()
        one = runner.invoke(app, ["dossier", code, "--out", str(tmp_path / "one.pdf")])
        assert one.exit_code == 0, one.output
        assert code in pdf_text((tmp_path / "one.pdf").read_bytes())
        month = dt.datetime.now(COUNTY_TZ).strftime("%Y-%m")
        batch = runner.invoke(app, ["dossier", "--township", T1, "--month", month, "--out", str(tmp_path / "b.zip")])
        assert batch.exit_code == 0, batch.output
        with zipfile.ZipFile(tmp_path / "b.zip") as z:
            names = z.namelist()
            assert f"{code}.pdf" in names and all(n.startswith(f"RL-{T1}") for n in names)
            assert code in pdf_text(z.read(f"{code}.pdf"))
        # The quarter's batch (季核) holds the month's: a period is asked for as the export asks for it.
        quarter = f"{month[:4]}-Q{(int(month[5:]) - 1) // 3 + 1}"
        by_quarter = runner.invoke(app, ["dossier", "--township", T1, "--period", quarter,
                                         "--out", str(tmp_path / "q.zip")])
        assert by_quarter.exit_code == 0 and quarter in by_quarter.output, by_quarter.output
        with zipfile.ZipFile(tmp_path / "q.zip") as z:
            assert set(names) <= set(z.namelist())
        for wrong in (["--period", f"{month[:4]}-Q5"], ["--month", month, "--period", quarter]):
            refused = runner.invoke(app, ["dossier", "--township", T1, *wrong, "--out", str(tmp_path / "w.zip")])
            assert refused.exit_code == 2 and "Traceback" not in refused.output, refused.output
            assert not (tmp_path / "w.zip").exists()
        unknown = runner.invoke(app, ["dossier", "RL-nope", "--out", str(tmp_path / "x.pdf")])
        assert unknown.exit_code == 2 and "no case 'RL-nope'" in unknown.output and "Traceback" not in unknown.output
        both = runner.invoke(app, ["dossier", code, "--township", T1, "--month", month])
        assert both.exit_code == 2
    finally:
        get_settings.cache_clear()


def test_a_photo_not_yet_decoded_is_decoded_before_its_dossier_is_printed(site: Site):
    """A dossier is filed. A photo uploaded seconds before (answered, its decode still queued) is decoded first,
    so the dossier shows its near-duplicate flag; printed without it, the filed copy would have lacked the flag."""
    upload(site, "inspector1", case_id(site, "A2"), kind="panorama")  # on another case, decoded
    cid = case_id(site, "A1")
    pending = answered_not_decoded(site, cid, kind="panorama", data=resaved(50))
    assert pending.pixels_checked_at is None
    r = site.client.get(f"/api/cases/{cid}/dossier.pdf", headers=site.as_user("officer1"))
    assert r.status_code == 200, r.text
    assert "几乎相同的照片已用于其他案件" in pdf_text(r.content)
    with site.db.factory() as s:
        assert s.get(Photo, pending.id).pixels_checked_at is not None  # type: ignore[union-attr]


def test_printing_a_dossier_does_not_switch_off_the_check_that_a_picture_is_whole(site: Site):
    """WeasyPrint's import sets Pillow's process-wide LOAD_TRUNCATED_IMAGES: after the first dossier a cut PNG
    was accepted as a photo. Found by a test that read a cut JPEG as whole in a worker that had printed one."""
    cid = case_id(site, "A1")
    assert site.client.get(f"/api/cases/{cid}/dossier.pdf", headers=site.as_user("officer1")).status_code == 200
    picture = io.BytesIO()
    Image.effect_noise((800, 600), 64).convert("RGB").save(picture, "PNG")
    cut = picture.getvalue()[: len(picture.getvalue()) * 2 // 3]
    r = site.client.post(f"/api/cases/{cid}/photos", headers=site.as_user("inspector1"),
                         data={"client_uuid": str(uuid.uuid4())}, files={"file": ("cut.png", cut, "image/png")})
    assert r.status_code == 415 and "decodable" in r.json()["error"]["message"], r.text
    with site.db.factory() as s:
        assert s.execute(select(func.count()).select_from(Photo)).scalar_one() == 0


def test_a_closed_cases_dossier_says_where_it_stands_above_the_county(site: Site):
    """The dossier goes up with the case: once the county closed it, it says which level passed it and which
    one it waits for."""
    from tests.http.test_workflow_api import act, close_increment

    cid = case_id(site, "A1")
    close_increment(site, cid)
    act(site, "county", cid, "upper_pass", level="city", document="永市自然资审〔2026〕9号")
    text = pdf_text(site.client.get(f"/api/cases/{cid}/dossier.pdf", headers=site.as_user("county")).content)
    assert "已销号（closed）：市级已通过，待省级审核" in text
    assert "上级审核通过" in text and "市级（永市自然资审〔2026〕9号）" in text  # the city's pass, with its document
