"""The monthly export on both databases: numbers from the history, files that open, reproducible months."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import openpyxl
import pyogrio
import pytest
from fastapi.testclient import TestClient
from shapely import box
from sqlalchemy import select

from api.accounts.users import create_user
from api.cases.deadlines import COUNTY_TZ
from api.cases.service import add_progress_report, transition
from api.db import models
from api.db.repository import read_frame
from api.evidence.pixels import check_pending
from api.evidence.upload import upload_photo
from api.http.app import create_app
from api.ingest.layers import import_layer
from api.ingest.scan import scan
from api.reports.export import export_month
from api.reports.monthly import figures
from api.settings import Settings
from gis.crs import same_crs
from gis.rules import RuleSet
from tests.conftest import DEMO, Database, from_built
from tests.http.conftest import PASSWORD, T1, T2, _houses_in
from tests.photo_factory import jpeg_at_house


def cst(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=COUNTY_TZ)


def _build_county(db: Database, folder: Path) -> None:
    """Two townships, cases created in September 2026 (scanned then), users for the roles the tests act as."""
    import_layer(db.factory, "townships", DEMO / "townships.parquet")
    villages = gpd.read_parquet(DEMO / "townships.parquet")
    villages = villages[villages["XZQDM"].str.len() == 12]
    built = ["2021-05-01", "2019-01-01", "2022-01-01", None, "2021-01-01"]
    parts = [_houses_in(villages[villages["XZQDM"].str.startswith(t[:9])].iloc[0], tag, built)
             for t, tag in ((T1, "A"), (T2, "B"))]
    gpd.GeoDataFrame(gpd.pd.concat([p[0] for p in parts]), crs=4546).to_file(folder / "f.gpkg")
    gpd.GeoDataFrame(gpd.pd.concat([p[1] for p in parts]), crs=4546).to_file(folder / "h.gpkg")
    import_layer(db.factory, "farmland", folder / "f.gpkg")
    import_layer(db.factory, "houses", folder / "h.gpkg")
    scan(db.factory, RuleSet(), now=cst(2026, 9, 10, 9))
    with db.factory.begin() as s:
        for name, role, town in (("county", "county_reviewer", None), ("officer1", "township_officer", T1),
                                 ("inspector1", "inspector", T1), ("officer2", "township_officer", T2)):
            create_user(s, name, PASSWORD, role, town)


@pytest.fixture
def county(db: Database, request: pytest.FixtureRequest) -> Database:
    """Two townships, cases created in September 2026 (built once per session, copied into this test's
    database, with the layer files it was imported from in tmp_path); the tests work them in September and
    October."""
    from_built(request, db, "export-county", _build_county)
    return db


def user(db: Database, name: str) -> models.User:
    with db.factory() as s:
        u = s.execute(select(models.User).where(models.User.username == name)).scalar_one()
        s.expunge(u)
        return u


def cid(db: Database, house: str) -> int:
    with db.factory() as s:
        return int(s.execute(select(models.Case.id).where(models.Case.code.like(f"%-{house}"))).scalar_one())


def work_september_october(db: Database, tmp_path: Path) -> None:
    county, officer, inspector = user(db, "county"), user(db, "officer1"), user(db, "inspector1")
    a1, a3 = cid(db, "A1"), cid(db, "A3")
    steps = [(county, a3, "assign", {}, cst(2026, 9, 11, 9)),
             (inspector, a3, "verify", {"verdict": "legal", "legal_reason": "rural_road"}, cst(2026, 9, 11, 15)),
             (officer, a3, "submit", {}, cst(2026, 9, 12, 10)),
             (county, a3, "pass_review", {}, cst(2026, 9, 14, 10)),
             (county, a1, "assign", {}, cst(2026, 9, 20, 9)),
             (inspector, a1, "verify", {"verdict": "illegal"}, cst(2026, 9, 20, 16)),
             (officer, a1, "serve_notice", {}, cst(2026, 9, 22, 9)),
             (officer, a1, "start_demolition", {}, cst(2026, 9, 25, 9)),
             (inspector, a1, "record_demolition", {}, cst(2026, 10, 3, 9)),
             (inspector, a1, "restore", {}, cst(2026, 10, 5, 9)),
             (county, a3, "upper_pass", {"level": "city", "document": "永市自然资审〔2026〕9号"},
              cst(2026, 10, 20, 10))]
    for who, case, action, payload, when in steps:
        if action == "record_demolition":
            add_progress_report(db.factory, officer, case, "拆除中", now=cst(2026, 9, 26, 9))
        transition(db.factory, who, case, action, payload, now=when)


def bearer(client: TestClient, name: str) -> dict[str, str]:
    """The headers of `name` signed in through the API."""
    token = client.post("/api/auth/token", json={"username": name, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {token['access_token']}"}


def finished_job(client: TestClient, headers: dict[str, str], job_id: int) -> dict:
    """The export job once done or failed (polled for up to a minute)."""
    for _ in range(600):
        job = client.get(f"/api/exports/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"export job {job_id} still {job['status']}")


def read_workbook(path: Path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}


def test_numbers_come_from_the_history(county: Database, tmp_path: Path):
    work_september_october(county, tmp_path)
    settings = Settings(database_url=county.url, var_dir=tmp_path)
    with county.factory() as s:
        sep = export_month(s, "2026-09", tmp_path / "sep", settings)
        oct_ = export_month(s, "2026-10", tmp_path / "oct", settings)
    s_total, o_total = sep.figures.summary.iloc[-1], oct_.figures.summary.iloc[-1]
    assert s_total["new_cases"] == 8 and s_total["new_increments"] == 4 and s_total["closed"] == 1
    assert s_total["restored_m2"] == 0.0
    assert o_total["new_cases"] == 0 and o_total["closed"] == 0
    assert o_total["restored_m2"] == pytest.approx(100.0)  # A1: 10 m × 10 m demolished and restored
    with county.factory() as s:
        open_remaining = sum(c.remaining_m2 for c in s.execute(select(models.Case)).scalars() if c.status != "closed")
    assert o_total["remaining_m2"] == pytest.approx(open_remaining)
    assert s_total["remaining_m2"] == pytest.approx(open_remaining + 100.0)  # A1 not yet restored in September
    # On time in September: A3 studied and finished in time; A1 assigned on the 20th, studied the same day,
    # reported within 7 days: both on time at the end of September.
    assert s_total["on_time_rate"] == 100.0 and s_total["overdue"] == 0
    # Rectified only when the review is over (county → city → province): A3, closed by the county in September,
    # still awaits the city at its end, and the province at October's.
    assert s_total["awaiting_review"] == 1 and o_total["awaiting_review"] == 1

    sheets = read_workbook(sep.out_dir / "redline_202609.xlsx")
    assert list(sheets) == ["汇总 Summary", "案件 Cases", "逐月 Month-over-month", "田长巡田 Patrols",
                           "耕地抛荒 Abandoned land"]
    header, *rows = sheets["汇总 Summary"]
    assert header[0] == "乡镇代码" and "剩余未整改面积 (m²)" in header and "剩余未整改面积 (亩)" in header
    assert "月末已销号待上级审核 (件)" in header
    for name, (head, *_) in sheets.items():  # a column once: a second 本月拆除复耕面积 (亩) misleads the reader
        assert len(head) == len(set(head)), (name, [h for h in head if head.count(h) > 1])
    townships_rows, total_row = rows[:-1], rows[-1]
    assert total_row[1] == "合计 County total"
    for col in ("本月新增案件 (件)", "本月办结 (件)", "剩余未整改面积 (m²)"):
        i = header.index(col)
        assert total_row[i] == pytest.approx(sum(r[i] for r in townships_rows))
    case_header, *case_rows = sheets["案件 Cases"]
    assert len(case_rows) == 8 and case_header[0] == "案件编号"
    origin, leads = case_header.index("来源"), case_header.index("卫片图斑")  # where each case came from
    assert {r[origin] for r in case_rows} == {"房屋普查比对"} and {r[leads] or "" for r in case_rows} == {""}
    # Above the county, as each month ended: A3 closed in September awaited the city; the city passed it in
    # October. Open cases have nothing there.
    upper = case_header.index("上级审核")
    code = case_header.index("案件编号")
    assert {r[code][-2:]: r[upper] or "" for r in case_rows if r[code].endswith(("A1", "A3"))} == {
        "A1": "", "A3": "待市级审核"}
    _, *oct_rows = read_workbook(oct_.out_dir / "redline_202610.xlsx")["案件 Cases"]
    assert [r[upper] for r in oct_rows if r[code].endswith("A3")] == ["市级已通过，待省级审核"]
    wb = openpyxl.load_workbook(sep.out_dir / "redline_202609.xlsx")
    assert wb["汇总 Summary"].freeze_panes == "B2"
    trend_header, *trend = sheets["逐月 Month-over-month"]
    assert trend_header[0] == "月份" and [r[0] for r in trend][-2:] == ["2026-08", "2026-09"]


def test_shapefile_has_chinese_text_crs_and_short_names(county: Database, tmp_path: Path):
    settings = Settings(database_url=county.url, var_dir=tmp_path)
    with county.factory() as s:
        result = export_month(s, "2026-09", tmp_path / "out", settings)
    archive = result.out_dir / "redline_202609_shp.zip"
    with zipfile.ZipFile(archive) as zf:
        names = sorted(zf.namelist())
        assert [n.rsplit(".", 1)[1] for n in names] == ["cpg", "dbf", "prj", "shp", "shx"]
        assert zf.read(next(n for n in names if n.endswith(".cpg"))) == b"GBK"
        dbf = zf.read(next(n for n in names if n.endswith(".dbf")))
    header_len = int.from_bytes(dbf[8:10], "little")
    fields = [dbf[i:i + 11].split(b"\0")[0] for i in range(32, header_len - 1, 32)]
    assert all(len(f) <= 10 for f in fields) and "乡镇名称".encode("gbk") in fields
    frame = gpd.read_file(f"/vsizip/{archive}")
    assert set(frame["乡镇名称"]) == {"和平镇", "太和镇"}
    assert same_crs(frame.crs, 4546)
    gpkg = gpd.read_file(result.out_dir / "redline_202609.gpkg")
    assert len(gpkg) == 8 and gpkg.crs.to_epsg() == 4546
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert {f["name"] for f in manifest["files"]} == {p.name for p in result.files if p.name != "manifest.json"}
    html = (result.out_dir / "redline_202609_report.html").read_text()
    assert "<svg" in html and "和平镇" in html and "合计 County total" in html


def test_a_past_month_is_reproducible_after_further_changes(county: Database, tmp_path: Path):
    work_september_october(county, tmp_path)
    settings = Settings(database_url=county.url, var_dir=tmp_path)
    with county.factory() as s:
        first = export_month(s, "2026-09", tmp_path / "first", settings)
    # November: more work happens, and a re-scan re-measures nothing but stamps every case.
    county_user, inspector = user(county, "county"), user(county, "inspector1")
    a1 = cid(county, "A1")
    with county.factory() as s:  # photographed at the house on the morning of 2 November
        house = read_frame(s, models.Case, where=[models.Case.id == a1]).geometry.iloc[0]
    upload_photo(county.factory, inspector, a1, "5b8c4c1e-9f3a-4d9e-8a43-0b8e0e4b9c11", "after_demolition",
                 io.BytesIO(jpeg_at_house(house, cst(2026, 11, 2, 8, 30))), root=tmp_path / "photos",
                 max_bytes=10 << 20, now=cst(2026, 11, 2, 9))
    # Then its pixels are decoded, as the server does right after answering: only a checked picture counts.
    assert check_pending(county.factory, tmp_path / "photos", now=cst(2026, 11, 2, 9)) == 1
    transition(county.factory, inspector, a1, "reinspect", {}, now=cst(2026, 11, 2, 10))
    transition(county.factory, county_user, cid(county, "B2"), "assign", {}, now=cst(2026, 11, 3, 10))
    scan(county.factory, RuleSet(), now=cst(2026, 11, 4, 10))
    # The farmland layer is re-delivered with one more polygon: September keeps the area it reported.
    with county.factory() as s:
        before = figures(s, "2026-09", settings).summary.set_index("township_code")["farmland_m2"]
    farmland = gpd.read_file(tmp_path / "f.gpkg")
    x, y = farmland.geometry.iloc[0].bounds[:2]
    extra = gpd.GeoDataFrame({"BSM": ["FNEW"], "DLBM": ["0101"]}, geometry=[box(x - 300, y - 300, x - 200, y - 200)],
                             crs=4546)
    gpd.GeoDataFrame(gpd.pd.concat([farmland, extra]), crs=4546).to_file(tmp_path / "f2.gpkg")
    import_layer(county.factory, "farmland", tmp_path / "f2.gpkg")
    with county.factory() as s:
        september = figures(s, "2026-09", settings).summary.set_index("township_code")["farmland_m2"]
        # The re-delivery is stamped with the real clock: the month it falls in (in county time) grows.
        current = f"{dt.datetime.now(COUNTY_TZ):%Y-%m}"
        now = figures(s, current, settings).summary.set_index("township_code")["farmland_m2"]
    assert september.equals(before)
    assert now[T1] == pytest.approx(before[T1] + 10_000.0)  # the new 100 m × 100 m field is in T1
    time.sleep(1.1)  # a later wall-clock second must not leak into any file
    with county.factory() as s:
        second = export_month(s, "2026-09", tmp_path / "second", settings)
    for a, b in zip(sorted(first.files), sorted(second.files), strict=True):
        if a.name == "manifest.json":
            ma, mb = json.loads(a.read_text()), json.loads(b.read_text())
            assert ma["files"] == mb["files"] and ma["created_at"] != mb["created_at"]
        else:
            assert a.read_bytes() == b.read_bytes(), a.name


def test_export_jobs_through_the_api_with_township_scope(county: Database, tmp_path: Path):
    app = create_app(Settings(database_url=county.url, var_dir=tmp_path))
    with TestClient(app) as client:
        officer = bearer(client, "officer1")
        other = client.post("/api/exports", headers=officer, json={"month": "2026-09", "township": T2})
        assert other.status_code == 403
        assert client.post("/api/exports", headers=officer, json={"month": "2026-9"}).status_code == 422
        started = client.post("/api/exports", headers=officer, json={"month": "2026-09"})
        assert started.status_code == 202 and started.json()["township"] == T1
        job_id = started.json()["id"]
        job = finished_job(client, officer, job_id)
        assert job["status"] == "done" and job["progress"] == 1.0, job
        xlsx = next(f for f in job["files"] if f.endswith(".xlsx"))
        download = client.get(f"/api/exports/{job_id}/files/{xlsx}", headers=officer)
        assert download.status_code == 200 and download.content[:2] == b"PK"
        assert client.get(f"/api/exports/{job_id}", headers=bearer(client, "officer2")).status_code == 404
        assert client.get(f"/api/exports/{job_id}/files/../../etc/passwd", headers=officer).status_code == 404
    app.state.engine.dispose()
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x")
    app = create_app(Settings(database_url=county.url, var_dir=blocked))
    with TestClient(app) as client:
        headers = bearer(client, "county")
        job_id = client.post("/api/exports", headers=headers, json={"month": "2026-09"}).json()["id"]
        for _ in range(100):
            job = client.get(f"/api/exports/{job_id}", headers=headers).json()
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert job["status"] == "failed" and "Error" in job["error"]
    app.state.engine.dispose()


def test_pyogrio_reads_the_gpkg_layer_name(county: Database, tmp_path: Path):
    settings = Settings(database_url=county.url, var_dir=tmp_path)
    with county.factory() as s:
        result = export_month(s, "2026-09", tmp_path / "x", settings, township=T1)
    layers = pyogrio.list_layers(result.out_dir / f"redline_202609_{T1}.gpkg")
    assert layers[0][0] == f"cases_202609_{T1}"
    assert len(result.figures.cases) == 4


def test_a_report_for_a_township_the_county_does_not_have_is_refused(county: Database, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch):
    """An export or a dossier zip for a mistyped township, or a village's code, is refused (CLI exit 2, one
    line; the API 422) and writes nothing. Before, the CLI wrote an empty export with exit 0 (an empty 通报
    reads as "no violations") and zipped no dossiers for a village's code."""
    from typer.testing import CliRunner

    from api.cli import app as cli
    from api.errors import InvalidQuery
    from api.settings import get_settings

    with county.factory() as s:
        village = s.execute(select(models.AdminArea.code).where(models.AdminArea.township_code == T1,
                                                                models.AdminArea.level == "village")).scalars().first()
    assert village is not None and village != T1
    monkeypatch.setenv("REDLINE_DATABASE_URL", county.url)
    monkeypatch.setenv("REDLINE_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        for code, why in ((T1[:-4] + "9000", f"no township {T1[:-4]}9000"), (village, "not a township code"),
                          (T1[:-1], "not a township code")):
            out = tmp_path / f"export-{code}"
            export = runner.invoke(cli, ["export", "--month", "2026-09", "--township", code, "--out", str(out)])
            assert export.exit_code == 2 and why in export.output and "Traceback" not in export.output, export.output
            assert not out.exists()
            zipped = tmp_path / f"dossiers-{code}.zip"
            dossiers = runner.invoke(cli, ["dossier", "--township", code, "--month", "2026-09", "--out", str(zipped)])
            assert dossiers.exit_code == 2 and why in dossiers.output, dossiers.output
            assert not zipped.exists()
            with county.factory() as s, pytest.raises(InvalidQuery, match=why):
                export_month(s, "2026-09", out, Settings(database_url=county.url, var_dir=tmp_path), township=code)
            assert not out.exists()
        good = runner.invoke(cli, ["export", "--month", "2026-09", "--township", T1, "--out", str(tmp_path / "ok")])
        assert good.exit_code == 0 and (tmp_path / "ok" / "manifest.json").exists(), good.output
    finally:
        get_settings.cache_clear()
    app = create_app(Settings(database_url=county.url, var_dir=tmp_path))
    with TestClient(app) as client:
        headers = bearer(client, "county")
        for code in (T1[:-4] + "9000", village, T1[:-1]):
            refused = client.post("/api/exports", headers=headers, json={"month": "2026-09", "township": code})
            assert refused.status_code == 422, (code, refused.text)
    app.state.engine.dispose()


def test_lead_clearance_month_by_month(county: Database, tmp_path: Path):
    """月清: every satellite lead (卫片图斑) is checked on site within its month. The month's figures count the leads
    that reached the county (a lead case opened; a lead attached to the case of its building), those whose case
    has an on-site verdict by the month's end, the rate, and every lead still unchecked — per township, for the
    scoreboard and the workbook. Before, nothing said whether a township cleared its leads."""
    from shapely import affinity

    from api.ingest.leads import import_leads

    with county.factory() as s:
        houses = read_frame(s, models.House, ["source_key"]).set_index("source_key").geometry
    # The first on house A1 (an increment: its open case answers the lead), the others on farmland no case holds.
    leads = gpd.GeoDataFrame(
        {"JCBH": ["L-A1", "L-T1-FIELD", "L-T2-FIELD"], "PC": ["2026-10"] * 3},
        geometry=[houses["A1"], affinity.translate(houses["A1"], 60, 70), affinity.translate(houses["B1"], 60, 70)],
        crs=4546)
    leads.to_file(tmp_path / "leads.gpkg")
    report = import_leads(county.factory, tmp_path / "leads.gpkg", RuleSet(), now=cst(2026, 10, 8, 9))
    assert (report.created, report.attached) == (2, 1)
    county_user, inspector = user(county, "county"), user(county, "inspector1")
    a1_case = cid(county, "A1")
    transition(county.factory, county_user, a1_case, "assign", {}, now=cst(2026, 10, 9, 9))
    transition(county.factory, inspector, a1_case, "verify", {"verdict": "illegal"}, now=cst(2026, 10, 10, 9))
    settings = Settings(database_url=county.url, var_dir=tmp_path)

    def leads_of(month: str) -> dict[str, tuple]:
        with county.factory() as s:
            summary = figures(s, month, settings).summary
        return {r.township_code or "county": (r.leads_received, r.leads_checked, r.lead_clearance_rate,
                                              r.leads_unchecked) for r in summary.itertuples()}

    sep, oct_ = leads_of("2026-09"), leads_of("2026-10")
    assert sep[T1] == (0, 0, None, 0) and sep["county"] == (0, 0, None, 0)
    assert oct_[T1] == (2, 1, 50.0, 1) and oct_[T2] == (1, 0, 0.0, 1) and oct_["county"] == (3, 1, 33.33, 2)
    with county.factory() as s:
        field_case = s.execute(select(models.Case.id).where(models.Case.lead_code == "L-T1-FIELD")).scalar_one()
    transition(county.factory, county_user, field_case, "assign", {}, now=cst(2026, 11, 2, 9))
    transition(county.factory, inspector, field_case, "verify", {"verdict": "legal", "legal_reason": "rural_road"},
               now=cst(2026, 11, 3, 9))
    nov = leads_of("2026-11")
    assert nov[T1] == (0, 0, None, 0) and nov[T2] == (0, 0, None, 1)  # T2's October lead is still unchecked
    assert leads_of("2026-10")[T1] == (2, 1, 50.0, 1)  # October as it ended, whatever came later
    # The scoreboard shows the same figures.
    with county.factory() as s:
        from api.reports.scoreboard import scoreboard

        rows = {r["township_code"]: r for r in scoreboard(s, county_user, "2026-10", settings)}
    assert (rows[T1]["leads_received"], rows[T1]["leads_checked"], rows[T1]["lead_clearance_rate"],
            rows[T1]["leads_unchecked"]) == (2, 1, 50.0, 1)


def test_a_quarter_and_a_year_sum_their_months_and_stand_as_of_their_end(county: Database, tmp_path: Path):
    """季核 and 年度评估: leads are cleared monthly, checked quarterly, assessed yearly. Only a month could be asked
    for (a quarter or a year was 422), so the quarter's check and the year's assessment were added up by hand from
    the monthly sheets. A quarter's (a year's) figures now count what happened in its months and stand as of its
    end (today, for the running one), per township, and the scoreboard ranks and flags townships on them."""
    from api.errors import InvalidQuery
    from api.reports.monthly import check_report_period, period_months
    from api.reports.scoreboard import scoreboard

    work_september_october(county, tmp_path)
    settings = Settings(database_url=county.url, var_dir=tmp_path)
    this_month = f"{dt.datetime.now(COUNTY_TZ):%Y-%m}"
    flows = ["new_cases", "new_increments", "closed", "demolished_reported", "demolished_confirmed", "restored_m2",
             "rectified_stock", "reopened", "due", "met", "leads_received"]
    as_of_end = ["remaining_m2", "overdue", "occupied_m2", "occupied_increment_m2", "leads_unchecked", "farmland_m2"]
    with county.factory() as s:
        month = {m: figures(s, m, settings).summary.set_index("township_code")
                 for m in period_months("2026") if m <= this_month}
        periods = {p: figures(s, p, settings).summary.set_index("township_code")
                   for p in ("2026-Q3", "2026-Q4", "2026")}
        rows = {r["township_code"]: r for r in scoreboard(s, user(county, "county"), "2026-Q4", settings)}
    for period, summary in periods.items():
        begun = [m for m in period_months(period) if m <= this_month]
        assert begun, period
        for code in (T1, T2, ""):
            for key in flows:
                assert summary.loc[code, key] == pytest.approx(sum(month[m].loc[code, key] for m in begun)), (
                    period, code, key)
            for key in as_of_end:
                assert summary.loc[code, key] == pytest.approx(month[begun[-1]].loc[code, key]), (period, code, key)
    assert periods["2026-Q3"].loc["", "closed"] == 1 and periods["2026-Q3"].loc["", "new_cases"] == 8
    assert periods["2026-Q4"].loc["", "restored_m2"] == pytest.approx(100.0)  # A1, restored in October
    assert periods["2026"].loc["", "new_cases"] == 8 and periods["2026"].loc["", "restored_m2"] == pytest.approx(100.0)
    assert rows[T1]["restored_m2"] == pytest.approx(100.0)
    assert period_months("2026-Q4") == ["2026-10", "2026-11", "2026-12"] and len(period_months("2026")) == 12
    for malformed in ("2026-Q5", "2026-Q0", "2026-13", "26", "2026-q1"):
        with pytest.raises(InvalidQuery):
            check_report_period(malformed)
    future = f"{dt.datetime.now(COUNTY_TZ).year + 1}"
    with pytest.raises(InvalidQuery, match="not begun"):
        check_report_period(future)
    with pytest.raises(InvalidQuery, match="nothing to report"):
        check_report_period("2019-Q4")


def test_a_quarter_is_exported_like_a_month_in_its_own_words(county: Database, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    """季核: the quarter's package is the month's — workbook, layers, 摸排 table, printable report — with the
    quarter's figures, its months compared, and headers that say 本季度 and 季末 where a month's say 本月 and 月末
    (a 本月 header over a quarter's sum misleads whoever files it). Asked for from the CLI and the API."""
    from typer.testing import CliRunner

    from api.cli import app as cli
    from api.reports.monthly import begun_months
    from api.settings import get_settings

    work_september_october(county, tmp_path)
    settings = Settings(database_url=county.url, var_dir=tmp_path)
    with county.factory() as s:
        result = export_month(s, "2026-Q4", tmp_path / "q4", settings)
        quarter = figures(s, "2026-Q4", settings).summary
    assert sorted(p.name for p in result.files) == sorted([
        "redline_2026Q4.xlsx", "redline_2026Q4.gpkg", "redline_2026Q4_shp.zip", "redline_2026Q4_mopai.xlsx",
        "redline_2026Q4_report.html", "manifest.json"])
    sheets = read_workbook(result.out_dir / "redline_2026Q4.xlsx")
    header, *rows = sheets["汇总 Summary"]
    assert "本季度新增案件 (件)" in header and "季末逾期案件 (件)" in header and "期末核查率 (%)" in header
    assert not [h for h in header if "本月" in h or "月末" in h or "月清" in h]
    restored = header.index("本季度拆除复耕面积 (m²)")
    assert rows[-1][restored] == pytest.approx(100.0) == quarter.iloc[-1]["restored_m2"]
    _, *trend = sheets["逐月 Month-over-month"]
    assert [r[0] for r in trend] == begun_months("2026-Q4")  # the quarter's own months
    land_header, *_ = sheets["耕地抛荒 Abandoned land"]
    assert "本季度发现抛荒 (m²)" in land_header
    report = (result.out_dir / "redline_2026Q4_report.html").read_text(encoding="utf-8")
    assert "红线季核报告" in report and "2026-Q4" in report and "本月" not in report and "月末" not in report
    assert json.loads((result.out_dir / "manifest.json").read_text())["month"] == "2026-Q4"

    monkeypatch.setenv("REDLINE_DATABASE_URL", county.url)
    monkeypatch.setenv("REDLINE_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        year = runner.invoke(cli, ["export", "--period", "2026", "--township", T1, "--out", str(tmp_path / "y")])
        assert year.exit_code == 0 and (tmp_path / "y" / f"redline_2026_{T1}.xlsx").exists(), year.output
        both = runner.invoke(cli, ["export", "--month", "2026-10", "--period", "2026", "--out", str(tmp_path / "b")])
        assert both.exit_code == 2 and "Traceback" not in both.output and not (tmp_path / "b").exists()
        bad = runner.invoke(cli, ["export", "--period", "2026-Q7", "--out", str(tmp_path / "bad")])
        assert bad.exit_code == 2 and "YYYY-Qn" in bad.output
    finally:
        get_settings.cache_clear()
    app = create_app(Settings(database_url=county.url, var_dir=tmp_path))
    with TestClient(app) as client:
        headers = bearer(client, "county")
        started = client.post("/api/exports", headers=headers, json={"period": "2026-Q3"})
        assert started.status_code == 202 and started.json()["month"] == "2026-Q3", started.text
        job = finished_job(client, headers, started.json()["id"])
        assert job["status"] == "done" and "redline_2026Q3.xlsx" in job["files"], job
        assert client.post("/api/exports", headers=headers, json={"period": "2026-Q9"}).status_code == 422
        assert client.post("/api/exports", headers=headers,
                           json={"period": "2026-Q3", "month": "2026-09"}).status_code == 422
        assert client.post("/api/exports", headers=headers, json={}).status_code == 422
    app.state.engine.dispose()
