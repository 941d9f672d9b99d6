"""Read any OGR vector source (GeoPackage, Shapefile plain or zipped, GeoJSON, GeoParquet, FileGDB).

Land-survey deliveries come as shapefiles whose `.dbf` is often GBK with no `.cpg`; GDAL then assumes
Latin-1 and turns 北京市 into mojibake. So the encoding is decided here: a `.cpg` is honoured, else the
attribute bytes are tried as UTF-8 and, failing that, read as GB18030 (a superset of GBK).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from pyproj import CRS

from gis.errors import MissingCRSError, RedlineInputError

_PARQUET_SUFFIXES = {".parquet", ".geoparquet"}


def _dbf_bytes_and_cpg(path: Path) -> tuple[bytes | None, str | None]:
    """Return the raw `.dbf` bytes (records only) and the `.cpg` text of a shapefile, plain or zipped."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            dbf = next((n for n in names if n.lower().endswith(".dbf")), None)
            cpg = next((n for n in names if n.lower().endswith(".cpg")), None)
            raw = zf.read(dbf) if dbf else None
            cpg_text = zf.read(cpg).decode("ascii", "replace").strip() if cpg else None
            return raw, cpg_text
    if path.suffix.lower() != ".shp":
        return None, None
    dbf_path = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None)
    cpg_path = next((p for p in (path.with_suffix(".cpg"), path.with_suffix(".CPG")) if p.exists()), None)
    raw = dbf_path.read_bytes() if dbf_path else None
    cpg_text = cpg_path.read_text("ascii", "replace").strip() if cpg_path else None
    return raw, cpg_text


def _dbf_text_bytes(raw: bytes) -> bytes:
    """The header field names and record area of a `.dbf`: the parts that carry text."""
    if len(raw) < 32:
        return b""
    header_len = int.from_bytes(raw[8:10], "little")
    return raw[32:header_len] + raw[header_len:]


_CPG_ALIASES = {"936": "gbk", "cp936": "gbk", "gb2312": "gbk", "ansi 936": "gbk", "65001": "utf-8",
                "utf8": "utf-8", "utf-8": "utf-8", "gbk": "gbk", "gb18030": "gb18030"}


def detect_encoding(path: str | Path) -> str | None:
    """Decide the attribute encoding of a shapefile (plain or zipped); None for other formats.

    A `.cpg` wins; otherwise the bytes decide: valid UTF-8 means UTF-8 (ASCII included), anything else is
    taken as GB18030, the encoding of Chinese desktop GIS exports.
    """
    raw, cpg = _dbf_bytes_and_cpg(Path(path))
    if cpg:
        return _CPG_ALIASES.get(cpg.lower(), cpg)
    if raw is None:
        return None
    try:
        _dbf_text_bytes(raw).decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def list_layers(path: str | Path) -> list[str]:
    """Names of the layers in a source (one for single-layer formats)."""
    p = Path(path)
    if p.suffix.lower() in _PARQUET_SUFFIXES:
        return [p.stem]
    return [str(name) for name, _ in pyogrio.list_layers(_vsi(p))]


def _vsi(p: Path) -> str:
    return f"/vsizip/{p}" if p.suffix.lower() == ".zip" else str(p)


def read_source(path: str | Path, *, layer: str | None = None, src_crs: CRS | str | int | None = None,
                encoding: str | None = None) -> gpd.GeoDataFrame:
    """Read one layer of a vector source into a GeoDataFrame with its CRS and a 1-based `_row` column.

    `_row` is the feature's position in the source, so every later message can name it. A source without
    a CRS is refused unless `src_crs` is given; `src_crs` never overrides a CRS the source declares.
    """
    p = Path(path)
    if not p.exists():
        raise RedlineInputError("no such file", source=str(p))
    try:
        if p.suffix.lower() in _PARQUET_SUFFIXES:
            gdf = gpd.read_parquet(p)
        else:
            enc = encoding or detect_encoding(p)
            kwargs: dict = {"layer": layer} if layer else {}
            if enc:
                kwargs["encoding"] = enc
            gdf = pyogrio.read_dataframe(_vsi(p), **kwargs)
    except RedlineInputError:
        raise
    except Exception as exc:  # GDAL's own messages are the most precise we have
        raise RedlineInputError(f"cannot read: {exc}", source=str(p)) from exc
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise RedlineInputError("the layer has no geometry column", source=str(p))
    if gdf.crs is None:
        if src_crs is None:
            raise MissingCRSError("the source has no CRS; pass --src-crs", source=str(p))
        gdf = gdf.set_crs(CRS.from_user_input(src_crs))
    gdf = gdf.reset_index(drop=True)
    gdf.insert(0, "_row", range(1, len(gdf) + 1))
    return gdf


def read_table(path: str | Path, *, layer: str | None = None) -> pd.DataFrame:
    """Read an attribute table (CSV, DBF, a GeoPackage table, ...) with a 1-based `_row` column.

    Registers such as households have no geometry; the encoding is decided as for shapefiles.
    """
    p = Path(path)
    if not p.exists():
        raise RedlineInputError("no such file", source=str(p))
    try:
        enc = detect_encoding(p)
        frame = pyogrio.read_dataframe(_vsi(p), layer=layer, read_geometry=False, **({"encoding": enc} if enc else {}))
    except Exception as exc:  # GDAL's own message names the problem
        raise RedlineInputError(f"cannot read: {exc}", source=str(p)) from exc
    frame = pd.DataFrame(frame).reset_index(drop=True)
    frame.insert(0, "_row", range(1, len(frame) + 1))
    return frame
