"""The monthly red-line compliance export: workbook, GIS layers, printable report and a manifest.

Everything is computed as of the end of the month from the case history (`api.history`), and every file
is written byte-for-byte reproducibly (fixed timestamps inside the xlsx and zip containers, in the DBF
header and in the GeoPackage), so the export of a past month re-run later is identical except for the
manifest's creation time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.clock import as_utc, utcnow
from api.deadlines import COUNTY_TZ
from api.models import SRID, AdminArea
from api.monthly import SUMMARY_COLUMNS, MonthFigures, figures, mu, previous_months, townships
from api.settings import Settings
from gis.rules import MU_M2

Progress = Callable[[float, str], None]

CASE_COLUMNS: dict[str, str] = {
    "code": "案件编号", "township_name": "乡镇", "village_name": "村", "status": "状态", "period": "时段",
    "disposition": "处置", "codes": "八不准", "footprint_m2": "占地面积 (m²)", "farmland_m2": "占用永久基本农田 (m²)",
    "cultivated_m2": "占用耕地 (m²)", "occupied_m2": "违法占用面积 (m²)", "occupied_mu": "违法占用面积 (亩)",
    "remaining_m2": "剩余未整改面积 (m²)", "remaining_mu": "剩余未整改面积 (亩)", "found": "发现日期",
    "filed": "立案日期", "file_number": "立案号", "overdue": "是否逾期",
}
#: Shapefile field names: at most 10 bytes in the DBF (GBK: a Chinese character is 2 bytes).
SHAPE_FIELDS: dict[str, str] = {
    "code": "code", "township_name": "乡镇名称", "village_name": "村名称", "status": "status",
    "period": "period", "disposition": "dispos", "codes": "bzz_codes", "footprint_m2": "foot_m2",
    "farmland_m2": "farm_m2", "cultivated_m2": "cult_m2", "occupied_m2": "occ_m2", "remaining_m2": "remain_m2",
    "remaining_mu": "remain_mu", "occupied_mu": "occ_mu", "found": "found", "filed": "filed",
    "file_number": "file_no", "overdue": "overdue",
}
MONTHS_COMPARED = 12


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    files: list[Path]
    figures: MonthFigures


def export_month(session: Session, month: str, out_dir: Path, settings: Settings, *, township: str | None = None,
                 progress: Progress | None = None) -> ExportResult:
    """Write the month's export for the county (or one township) into `out_dir`."""
    def step(fraction: float, what: str) -> None:
        if progress:
            progress(fraction, what)

    out_dir.mkdir(parents=True, exist_ok=True)
    step(0.05, "figures")
    fig = figures(session, month, settings, township)
    stamp = fig.as_of.astimezone(COUNTY_TZ)
    names = _names(session, township)
    cases = _case_table(fig, names)
    history = []
    for i, m in enumerate(previous_months(month, MONTHS_COMPARED)):
        step(0.1 + 0.5 * i / MONTHS_COMPARED, f"month {m}")
        total = figures(session, m, settings, township).summary.iloc[-1]
        history.append({"month": m, **{k: total[k] for k in ("new_cases", "new_increments", "closed", "restored_m2",
                                                             "remaining_m2", "overdue", "on_time_rate")}})
    tag = month.replace("-", "") + (f"_{township}" if township else "")
    files = []
    step(0.65, "workbook")
    files.append(_workbook(out_dir / f"redline_{tag}.xlsx", fig, cases, pd.DataFrame(history), stamp))
    step(0.75, "GIS layers")
    layer = gpd.GeoDataFrame(cases, geometry=fig.cases.geometry.to_numpy(), crs=f"EPSG:{SRID}")
    files.append(_geopackage(out_dir / f"redline_{tag}.gpkg", layer, f"cases_{tag}", stamp))
    files.append(_shapefile_zip(out_dir / f"redline_{tag}_shp.zip", layer, f"cases_{tag}", stamp))
    step(0.9, "report")
    files.append(_report(out_dir / f"redline_{tag}_report.html", fig, cases, layer, session, township))
    _manifest(out_dir / "manifest.json", month, township, files)
    step(1.0, "done")
    return ExportResult(out_dir, [*files, out_dir / "manifest.json"], fig)


def _names(session: Session, township: str | None) -> dict[str, str]:


    return dict(session.execute(select(AdminArea.code, AdminArea.name)).all())


def _case_table(fig: MonthFigures, names: dict[str, str]) -> pd.DataFrame:
    c = fig.cases
    if c.empty:
        return pd.DataFrame(columns=list(CASE_COLUMNS))
    codes = [",".join(sorted(set(filter(None, f"{a},{b}".split(","))), key=int))
             for a, b in zip(c["rules"].fillna(""), c["field_rules"].fillna(""), strict=True)]
    table = pd.DataFrame({
        "code": c["code"].to_numpy(),
        "township_name": c["township_code"].map(names).fillna("").to_numpy(),
        "village_name": c["village_code"].map(names).fillna("").to_numpy(),
        "status": c["status"].to_numpy(), "period": c["period"].to_numpy(),
        "disposition": c["disposition"].to_numpy(), "codes": codes,
        "footprint_m2": c["footprint_m2"].astype(float).round(2).to_numpy(),
        "farmland_m2": c["farmland_m2"].astype(float).round(2).to_numpy(),
        "cultivated_m2": c["cultivated_m2"].astype(float).round(2).to_numpy(),
        "occupied_m2": c["occupied_m2"].astype(float).round(2).to_numpy(),
        "remaining_m2": c["remaining_m2"].astype(float).round(2).to_numpy(),
        # Found (the scan or lead that created the case) and filed (立案: the county's formal act, with its
        # number; empty until the county files the case) are different dates.
        "found": [v.astimezone(COUNTY_TZ).date().isoformat() for v in c["created_at"]],
        "filed": [as_utc(v).astimezone(COUNTY_TZ).date().isoformat() if v is not None and v == v else ""
                  for v in c["filed_at"]],
        "file_number": c["file_number"].fillna("").to_numpy() if "file_number" in c else "",
        "overdue": ["是" if v else "否" for v in c["overdue"]],
    })
    table["occupied_mu"] = (table["occupied_m2"] / MU_M2).round(4)
    table["remaining_mu"] = (table["remaining_m2"] / MU_M2).round(4)
    return table[list(CASE_COLUMNS)]


def _workbook(path: Path, fig: MonthFigures, cases: pd.DataFrame, history: pd.DataFrame, stamp: dt.datetime) -> Path:
    wb = Workbook()
    summary = wb.active
    summary.title = "汇总 Summary"
    cols = list(SUMMARY_COLUMNS)
    headers = [SUMMARY_COLUMNS[c] for c in cols]
    mu_cols = ["farmland_m2", "occupied_m2", "restored_m2", "remaining_m2"]
    headers += [SUMMARY_COLUMNS[c].replace("(m²)", "(亩)") for c in mu_cols]
    _sheet(summary, headers, [
        [*(None if (v is None or (isinstance(v, float) and np.isnan(v))) else v for v in (r[c] for c in cols)),
         *(round(mu(float(r[c])), 4) for c in mu_cols)]
        for r in fig.summary.to_dict("records")
    ], bold_last=True)
    sheet = wb.create_sheet("案件 Cases")
    _sheet(sheet, [CASE_COLUMNS[c] for c in cases.columns], cases.to_numpy().tolist())
    trend = wb.create_sheet("逐月 Month-over-month")
    trend_headers = {"month": "月份", "new_cases": "新增案件 (件)", "new_increments": "新增增量 (件)",
                     "closed": "办结 (件)", "restored_m2": "拆除复耕面积 (m²)", "remaining_m2": "剩余未整改面积 (m²)",
                     "overdue": "逾期案件 (件)", "on_time_rate": "按期办理率 (%)"}
    _sheet(trend, list(trend_headers.values()),
           [[None if (isinstance(v, float) and np.isnan(v)) else v for v in (row[k] for k in trend_headers)]
            for row in history.to_dict("records")])
    naive = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    wb.properties.creator = "Redline"
    wb.properties.created = naive
    wb.properties.modified = naive
    wb.save(path)
    _freeze_zip(path, stamp, core_time=naive)
    return path


def _sheet(ws, headers: list[str], rows: list[list[object]], bold_last: bool = False) -> None:  # type: ignore[no-untyped-def]
    ws.append(headers)
    for row in rows:
        ws.append(row)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    ws.freeze_panes = "B2"
    for i, header in enumerate(headers, start=1):
        letter = get_column_letter(i)
        values = [header, *(str(r[i - 1]) for r in rows[:200] if i - 1 < len(r))]
        width = max(_display_width(v) for v in values)
        ws.column_dimensions[letter].width = min(max(10, width + 2), 40)
        for cell in ws[letter][1:]:
            if isinstance(cell.value, float):
                cell.number_format = "#,##0.00"
            elif isinstance(cell.value, int) and not isinstance(cell.value, bool):
                cell.number_format = "#,##0"
    ws.row_dimensions[1].height = 36
    if bold_last and rows:
        for cell in ws[len(rows) + 1]:
            cell.font = Font(bold=True)


def _display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _freeze_zip(path: Path, stamp: dt.datetime, core_time: dt.datetime | None = None) -> None:
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


def _geopackage(path: Path, layer: gpd.GeoDataFrame, name: str, stamp: dt.datetime) -> Path:
    if path.exists():
        path.unlink()
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": stamp.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})
    try:
        pyogrio.write_dataframe(layer, path, layer=name, driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    return path


def _shapefile_zip(path: Path, layer: gpd.GeoDataFrame, name: str, stamp: dt.datetime) -> Path:
    """A zipped Shapefile with a GBK .dbf, its .cpg and a .prj (field names within 10 bytes)."""
    work = path.with_suffix("")
    work.mkdir(exist_ok=True)
    shp = work / f"{name}.shp"
    for old in work.glob(f"{name}.*"):
        old.unlink()
    renamed = layer.rename(columns=SHAPE_FIELDS)
    too_long = [c for c in renamed.columns if c != "geometry" and len(c.encode("gbk")) > 10]
    if too_long:  # pragma: no cover - a programming error in SHAPE_FIELDS
        raise AssertionError(f"shapefile field names over 10 bytes: {too_long}")
    pyogrio.write_dataframe(renamed, shp, driver="ESRI Shapefile", encoding="GBK",
                            layer_options={"DBF_DATE_LAST_UPDATE": stamp.astimezone(COUNTY_TZ).date().isoformat()})
    cpg = work / f"{name}.cpg"
    cpg.write_text("GBK")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            f = work / f"{name}{suffix}"
            info = zipfile.ZipInfo(f.name, date_time=stamp.astimezone(COUNTY_TZ).replace(tzinfo=None).timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, f.read_bytes())
    for f in work.iterdir():
        f.unlink()
    work.rmdir()
    return path


def _svg_map(session: Session, layer: gpd.GeoDataFrame, township: str | None, width: int = 760,
             height: int = 520) -> str:
    """The month's cases over township boundaries, drawn as SVG from the county CRS (no basemap)."""
    towns = townships(session, township)
    frame = towns.geometry.to_numpy()
    if len(frame) == 0:
        return ""
    minx, miny, maxx, maxy = shapely.total_bounds(frame)
    scale = min(width / (maxx - minx), height / (maxy - miny))

    def path(geom: shapely.Geometry) -> str:
        parts = []
        for ring in shapely.get_rings(shapely.get_parts(geom)):
            xy = shapely.get_coordinates(ring)
            pts = " ".join(f"{(x - minx) * scale:.1f},{(maxy - y) * scale:.1f}" for x, y in xy)
            parts.append(f"M{pts}Z")
        return "".join(parts)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" class="map">']
    for geom, name in zip(frame, towns["name"], strict=True):
        c = shapely.point_on_surface(geom)
        out.append(f'<path d="{path(geom)}" fill="#f4f8f1" stroke="#1f78b4" stroke-width="1"/>')
        out.append(f'<text x="{(c.x - minx) * scale:.1f}" y="{(maxy - c.y) * scale:.1f}" font-size="12" '
                   f'text-anchor="middle" fill="#1f78b4">{html.escape(name)}</text>')
    colours = {"demolish": "#e31a1c", "classify": "#ff7f00", "verify": "#6a3d9a", "none": "#969696"}
    if len(layer):
        pts = shapely.point_on_surface(layer.geometry.to_numpy())
        for p, disp, status in zip(pts, layer["disposition"], layer["status"], strict=True):
            colour = "#33a02c" if status == "closed" else colours.get(disp, "#000")
            out.append(f'<circle cx="{(p.x - minx) * scale:.1f}" cy="{(maxy - p.y) * scale:.1f}" r="1.8" '
                       f'fill="{colour}"/>')
    out.append("</svg>")
    return "".join(out)


def _svg_bars(row: dict) -> str:  # type: ignore[type-arg]
    """A small bar chart for one township: new, closed, overdue cases."""
    bars = [("新增", int(row["new_cases"]), "#1f78b4"), ("办结", int(row["closed"]), "#33a02c"),
            ("逾期", int(row["overdue"]), "#e31a1c")]
    top = max(1, *(v for _n, v, _c in bars))
    out = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 220 110" width="220" height="110">']
    for i, (label, value, colour) in enumerate(bars):
        h = 80 * value / top
        x = 20 + i * 65
        out.append(f'<rect x="{x}" y="{90 - h:.1f}" width="40" height="{h:.1f}" fill="{colour}"/>')
        out.append(f'<text x="{x + 20}" y="{86 - h:.1f}" font-size="11" text-anchor="middle">{value}</text>')
        out.append(f'<text x="{x + 20}" y="105" font-size="11" text-anchor="middle">{label}</text>')
    out.append("</svg>")
    return "".join(out)


def _report(path: Path, fig: MonthFigures, cases: pd.DataFrame, layer: gpd.GeoDataFrame, session: Session,
            township: str | None) -> Path:
    rows = fig.summary.to_dict("records")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in SUMMARY_COLUMNS.values())

    def cell(v: object) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return "<td></td>"
        if isinstance(v, float):
            return f'<td class="n">{v:,.2f}</td>'
        return f'<td class="n">{v}</td>' if isinstance(v, int) else f"<td>{html.escape(str(v))}</td>"

    body = "".join("<tr>" + "".join(cell(r[c]) for c in SUMMARY_COLUMNS) + "</tr>" for r in rows)
    charts = "".join(f'<figure><figcaption>{html.escape(str(r["township_name"]))}</figcaption>{_svg_bars(r)}</figure>'
                     for r in rows[:-1])
    title = f"红线月报 Red-line compliance report {fig.month}" + (f" — {township}" if township else "")
    as_of = fig.as_of.astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M")
    doc = f"""<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font:12px sans-serif;margin:16mm}}table{{border-collapse:collapse;width:100%}}
th,td{{border:1px solid #999;padding:3px 5px}}th{{background:#ddebf7}}td.n{{text-align:right}}
tr:last-child td{{font-weight:bold}}figure{{display:inline-block;margin:4px}}figcaption{{text-align:center}}
@page{{size:A4 landscape;margin:12mm}}@media print{{.pb{{page-break-before:always}}}}</style></head><body>
<h1>{html.escape(title)}</h1><p>截至 As of {as_of} (Asia/Shanghai) · 案件 {len(cases)} 件</p>
<h2>汇总 Summary</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2 class="pb">案件分布 Cases this month</h2>{_svg_map(session, layer, township)}
<p>红: 增量待拆除 · 橙: 存量分类处置 · 紫: 待核实 · 绿: 已办结</p>
<h2 class="pb">各乡镇 Per township</h2>{charts}</body></html>"""
    path.write_text(doc, encoding="utf-8")
    return path


def _manifest(path: Path, month: str, township: str | None, files: list[Path]) -> None:
    entries = []
    for f in files:
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        entries.append({"name": f.name, "sha256": digest, "bytes": f.stat().st_size})
    path.write_text(json.dumps({"month": month, "township": township, "created_at": utcnow().isoformat(),
                                "files": entries}, ensure_ascii=False, indent=2), encoding="utf-8")
