"""The export's GIS layers: a GeoPackage, and a zipped Shapefile for desktop GIS (GBK .dbf, .cpg, .prj)."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio

from api.cases.deadlines import COUNTY_TZ

#: Shapefile field names: at most 10 bytes in the DBF (GBK: a Chinese character is 2 bytes).
SHAPE_FIELDS: dict[str, str] = {
    "code": "code", "township_name": "乡镇名称", "village_name": "村名称", "status": "status",
    "period": "period", "disposition": "dispos", "codes": "bzz_codes", "footprint_m2": "foot_m2",
    "farmland_m2": "farm_m2", "cultivated_m2": "cult_m2", "occupied_m2": "occ_m2", "remaining_m2": "remain_m2",
    "remaining_mu": "remain_mu", "occupied_mu": "occ_mu", "found": "found", "filed": "filed",
    "file_number": "file_no", "overdue": "overdue", "origin": "来源", "lead_codes": "lead_codes",
    "upper_review": "上级审核",
}


def write_geopackage(path: Path, layer: gpd.GeoDataFrame, name: str, stamp: dt.datetime) -> Path:
    if path.exists():
        path.unlink()
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": stamp.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})
    try:
        pyogrio.write_dataframe(layer, path, layer=name, driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    return path


def write_shapefile_zip(path: Path, layer: gpd.GeoDataFrame, name: str, stamp: dt.datetime) -> Path:
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
