"""Read any OGR vector source (GeoPackage, Shapefile plain or zipped, GeoJSON, GeoParquet, FileGDB).

Land-survey deliveries come as shapefiles whose `.dbf` is often GBK with no `.cpg`; GDAL then assumes
Latin-1 and turns 北京市 into mojibake. So the encoding is decided here: a `.cpg` is honoured, else the
attribute bytes are tried as UTF-8 and, failing that, read as GB18030 (a superset of GBK).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
from pyproj import CRS

from gis.errors import MissingCRSError, RedlineInputError

if TYPE_CHECKING:
    from gis.footprints import Footprints

_PARQUET_SUFFIXES = {".parquet", ".geoparquet"}

#: How much of a `.dbf` is read to decide its encoding: enough text to tell GBK from UTF-8, and a bound on
#: memory whatever the file's size.
ENCODING_SAMPLE_BYTES = 4 << 20
#: The most a zipped source may inflate to (all members together). A 1 GiB `.dbf` in a 1 MB zip is a
#: decompression bomb, not a delivery; a county's largest real layer (DLTB) is well below this.
MAX_INFLATED_BYTES = 2 << 30


def _dbf_bytes_and_cpg(path: Path) -> tuple[bytes | None, str | None]:
    """Return the first bytes of the `.dbf` (at most ENCODING_SAMPLE_BYTES) and the `.cpg` text of a
    shapefile, plain or zipped."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            dbf = next((n for n in names if n.lower().endswith(".dbf")), None)
            cpg = next((n for n in names if n.lower().endswith(".cpg")), None)
            raw = None
            if dbf:
                with zf.open(dbf) as fh:
                    raw = fh.read(ENCODING_SAMPLE_BYTES)
            cpg_text = zf.open(cpg).read(256).decode("ascii", "replace").strip() if cpg else None
            return raw, cpg_text
    if path.suffix.lower() != ".shp":
        return None, None
    dbf_path = _sidecar(path, ".dbf")
    cpg_path = _sidecar(path, ".cpg")
    raw = None
    if dbf_path:
        with dbf_path.open("rb") as fh:
            raw = fh.read(ENCODING_SAMPLE_BYTES)
    cpg_text = cpg_path.read_text("ascii", "replace").strip() if cpg_path else None
    return raw, cpg_text


def _sidecar(shp: Path, suffix: str) -> Path | None:
    """The `.dbf`/`.shx`/`.prj`/`.cpg` beside a `.shp`, in either case."""
    return next((p for p in (shp.with_suffix(suffix), shp.with_suffix(suffix.upper())) if p.exists()), None)


def _declared_length(head: bytes, member: str) -> int | None:
    """The byte length a `.shp`/`.shx` header declares (big-endian 16-bit words at offset 24); None if the
    file is too short to have a header."""
    if len(head) < 100:
        return None
    if int.from_bytes(head[0:4], "big") != 9994:
        raise RedlineInputError(f"{member} is not a shapefile (wrong file code)")
    return int.from_bytes(head[24:28], "big") * 2


def _dbf_declared_length(head: bytes) -> int | None:
    """Header length + records × record length (+ the optional end-of-file byte) of a `.dbf`."""
    if len(head) < 32:
        return None
    records = int.from_bytes(head[4:8], "little")
    header_len = int.from_bytes(head[8:10], "little")
    record_len = int.from_bytes(head[10:12], "little")
    return header_len + records * record_len


def _check_member(name: str, size: int, head: bytes) -> None:
    """Refuse a shapefile member shorter than its own header says: truncated in transfer or on a USB stick.

    GDAL reads such a file "successfully" and returns the missing features as empty geometries, which an
    import would then drop one by one — storing a fraction of the layer as if it were all of it.
    """
    lower = name.lower()
    if lower.endswith((".shp", ".shx")):
        declared = _declared_length(head, name)
    elif lower.endswith(".dbf"):
        declared = _dbf_declared_length(head)
    else:
        return
    if declared is None:
        raise RedlineInputError(f"{name} is truncated: {size} bytes, shorter than its header")
    if size < declared:
        raise RedlineInputError(f"{name} is truncated: {size} of the {declared} bytes its header declares; "
                                "the file is corrupt (copy it again from the original delivery)")


def check_integrity(path: Path) -> None:
    """Refuse a shapefile (plain or zipped) whose parts are shorter than their headers declare, and a zip
    that would inflate beyond MAX_INFLATED_BYTES; other formats are checked by GDAL as they are read."""
    suffix = path.suffix.lower()
    if suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                infos = zf.infolist()
                inflated = sum(i.file_size for i in infos)
                if inflated > MAX_INFLATED_BYTES:
                    raise RedlineInputError(f"the archive inflates to {inflated / (1 << 20):.0f} MiB, more than "
                                            f"the {MAX_INFLATED_BYTES >> 20} MiB allowed", source=str(path))
                for info in infos:
                    if info.filename.lower().endswith((".shp", ".shx", ".dbf")):
                        with zf.open(info) as fh:
                            head = fh.read(100)
                        _check_member(info.filename, info.file_size, head)
        except zipfile.BadZipFile as exc:
            raise RedlineInputError(f"not a readable zip archive: {exc}", source=str(path)) from exc
        except RedlineInputError as exc:
            if exc.source:
                raise
            raise RedlineInputError(str(exc), source=str(path)) from exc
        return
    if suffix != ".shp":
        return
    for member in (path, _sidecar(path, ".shx"), _sidecar(path, ".dbf")):
        if member is None:
            continue
        with member.open("rb") as fh:
            head = fh.read(100)
        try:
            _check_member(member.name, member.stat().st_size, head)
        except RedlineInputError as exc:
            raise RedlineInputError(str(exc), source=str(path)) from exc


def _has_prj(path: Path) -> bool:
    """Whether a shapefile (plain or zipped) comes with a `.prj`."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            return any(n.lower().endswith(".prj") for n in zf.namelist())
    return path.suffix.lower() == ".shp" and _sidecar(path, ".prj") is not None


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


def _plain_geoparquet(path: Path) -> tuple[pq.ParquetFile, str, dict, str | None] | None:
    """The file, its primary geometry column, the `geo` metadata's columns and its bounding-box covering column,
    where the file is GeoParquet whose geometry columns are all WKB; None otherwise (left to geopandas)."""
    file = pq.ParquetFile(path)
    names = file.schema_arrow.names
    try:
        geo = json.loads((file.schema_arrow.metadata or {})[b"geo"])
        primary, columns = geo["primary_column"], geo["columns"]
        plain = (primary in names and set(columns) <= set(names)
                 and all(spec["encoding"].upper() == "WKB" for spec in columns.values()))
        # A bounding-box covering column is an index for readers that filter, not data: geopandas leaves it out.
        covering = columns[primary].get("covering", {}).get("bbox", {}).get("xmin", [None])[0]
    except (KeyError, TypeError, AttributeError, ValueError, IndexError):
        return None
    return (file, primary, columns, covering) if plain else None


def _read_without(file: pq.ParquetFile, covering: str | None) -> pa.Table:
    """Every column but the bounding-box covering one (an index for readers that filter, not data), with the
    pandas metadata (the index geopandas would restore)."""
    return file.read(columns=[name for name in file.schema_arrow.names if name != covering], use_pandas_metadata=True)


def _caller_crs(src_crs: CRS | str | int | None, path: Path) -> CRS:
    """The CRS the caller gives (`--src-crs`) for a source that declares none: refused if none is given, or if
    pyproj does not know it."""
    if src_crs is None:
        raise MissingCRSError("the source has no CRS; pass --src-crs", source=str(path))
    try:
        return CRS.from_user_input(src_crs)
    except Exception as exc:  # pyproj's CRSError: say which option was wrong
        raise RedlineInputError(f"--src-crs {src_crs!r} is not a CRS pyproj knows", source=str(path),
                                field="src_crs") from exc


def read_geoparquet(path: Path) -> gpd.GeoDataFrame:
    """A GeoParquet file as `geopandas.read_parquet` reads it: each WKB geometry column carries its GeoParquet CRS
    as GeoArrow metadata for the public `GeoDataFrame.from_arrow` (a column without a `crs` key is OGC:CRS84, per
    the specification). A file that is not plain WKB GeoParquet is left to `geopandas.read_parquet`."""
    plain = _plain_geoparquet(path)
    if plain is None:
        return gpd.read_parquet(path)
    file, primary, columns, covering = plain
    table = _read_without(file, covering)
    fields = []
    for f in table.schema:
        if f.name in columns:
            spec = columns[f.name]
            crs = spec.get("crs", "OGC:CRS84")
            f = f.with_metadata({"ARROW:extension:name": "geoarrow.wkb",
                                 **({"ARROW:extension:metadata": json.dumps({"crs": crs})} if crs is not None
                                    else {})})
        fields.append(f)
    return gpd.GeoDataFrame.from_arrow(table.cast(pa.schema(fields, metadata=table.schema.metadata)),
                                       geometry=primary)


def read_footprints(path: str | Path, *, src_crs: CRS | str | int | None = None) -> Footprints | None:
    """A house layer from WKB GeoParquet with its footprints left as the file's bytes (`gis.footprints`): the
    attributes with `_row`, as `read_source` gives them, the primary geometry column's WKB and the CRS (the file's,
    else `src_crs`, as `read_source` decides). None for any other source, or a file with a second geometry column:
    `read_source` reads those."""
    from gis.footprints import Footprints  # with the clip kernels: only `redline check` needs it

    p = Path(path)
    if p.suffix.lower() not in _PARQUET_SUFFIXES or not p.exists():
        return None
    try:
        plain = _plain_geoparquet(p)
        if plain is None or len(plain[2]) != 1:
            return None
        file, primary, columns, covering = plain
        table = _read_without(file, covering)
    except Exception:  # whatever Arrow cannot read is read_source's to report, with GDAL's or geopandas' words
        return None
    crs_spec = columns[primary].get("crs", "OGC:CRS84")
    crs = CRS.from_user_input(crs_spec) if crs_spec is not None else _caller_crs(src_crs, p)
    wkb = table.column(primary).combine_chunks()
    if isinstance(wkb, pa.ExtensionArray):  # geoarrow.wkb, once GeoArrow's package registered it: the bytes
        wkb = wkb.storage
    frame = table.drop_columns([primary]).to_pandas().reset_index(drop=True)
    frame.insert(0, "_row", range(1, len(frame) + 1))
    return Footprints(frame, wkb, crs, source=str(p))


def read_source(path: str | Path, *, layer: str | None = None, src_crs: CRS | str | int | None = None,
                encoding: str | None = None) -> gpd.GeoDataFrame:
    """Read one layer of a vector source into a GeoDataFrame with its CRS and a 1-based `_row` column.

    `_row` is the feature's position in the source, so every later message can name it. A source without
    a CRS is refused unless `src_crs` is given; `src_crs` never overrides a CRS the source declares.
    """
    p = Path(path)
    if not p.exists():
        raise RedlineInputError("no such file", source=str(p))
    check_integrity(p)
    try:
        if p.suffix.lower() in _PARQUET_SUFFIXES:
            gdf = read_geoparquet(p)
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
        if _has_prj(p):
            raise RedlineInputError("the .prj is not a coordinate system GDAL can read (damaged or not WKT): "
                                    "replace it with the delivery's own, or remove it and pass --src-crs",
                                    source=str(p))
        gdf = gdf.set_crs(_caller_crs(src_crs, p))
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
    check_integrity(p)
    try:
        enc = detect_encoding(p)
        frame = pyogrio.read_dataframe(_vsi(p), layer=layer, read_geometry=False, **({"encoding": enc} if enc else {}))
    except Exception as exc:  # GDAL's own message names the problem
        raise RedlineInputError(f"cannot read: {exc}", source=str(p)) from exc
    frame = pd.DataFrame(frame).reset_index(drop=True)
    frame.insert(0, "_row", range(1, len(frame) + 1))
    return frame
