"""`redline import KIND PATH`: any OGR source into the database, in one transaction, idempotently.

The steps are the same for every kind: read (encoding and CRS decided by `gis.sources`), reproject to
the county CRS, repair polygons, map field names (三调 names first), validate values naming the row and
the field, then insert new rows and update known ones (keyed by the source's own id) in one
transaction — a failing file stores nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.clock import as_utc, utcnow
from api.db import models
from api.db.areas import TOWNSHIP_CODE, TOWNSHIP_LEVEL, VILLAGE_LEVEL
from api.db.engine import srid_of
from api.db.repository import in_chunks, insert_rows, read_frame, records, table_of, to_db_geometry
from api.ingest.farmland_totals import AFFECTS_TOTALS, record_totals
from api.stewardship.grids import locate_cases
from gis.codes import COUNTY_TZ
from gis.collector import cycle_collector_paused
from gis.crs import Extent, check_inside, county_extent, to_projected, zone_extent
from gis.dates import DateError, parse_days
from gis.errors import RedlineInputError
from gis.fields import FIELD_NAMES, find_field, names
from gis.geometry import clean_polygons, summarise_problems
from gis.numbers import NumberError, parse_numbers
from gis.rules import APPROVAL_KIND_NAMES, ApprovalKind, approval_kind
from gis.sources import read_source, read_table


@dataclass(frozen=True)
class ImportKind:
    """How one kind of layer maps onto its table."""

    name: str
    model: type[models.Base]
    #: model column → candidate source field names (case-insensitive), first match wins.
    fields: Mapping[str, tuple[str, ...]]
    id_fields: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    integers: tuple[str, ...] = ()
    spatial: bool = True
    defaults: Mapping[str, Any] = field(default_factory=dict)


KINDS: dict[str, ImportKind] = {k.name: k for k in (
    ImportKind("townships", models.AdminArea, names("townships"), id_fields=FIELD_NAMES["townships"]["code"],
               required=("code", "name")),
    ImportKind("farmland", models.Farmland, names("farmland", "bsm", "dlbm", "zldwdm", "tbmj", "jbntmj"),
               id_fields=FIELD_NAMES["farmland"]["id"], numbers=("tbmj", "jbntmj")),
    ImportKind("dltb", models.LandParcel, {k: v for k, v in names("dltb").items() if k != "id"},
               id_fields=FIELD_NAMES["dltb"]["id"], required=("dlbm",), numbers=("tbmj", "kcxs", "kcmj", "tbdlmj")),
    ImportKind("houses", models.House,
               {"household_key": FIELD_NAMES["houses"]["household_id"],
                **names("houses", "built_on", "builder_type", "use", "floors", "village_code", "township_code",
                        "surveyed_on")},
               id_fields=FIELD_NAMES["houses"]["house_id"], dates=("built_on", "surveyed_on"), integers=("floors",)),
    ImportKind("baseline", models.BaselineFootprint, names("baseline", "imaged_on"),
               id_fields=FIELD_NAMES["baseline"]["id"], dates=("imaged_on",)),
    ImportKind("households", models.Household,
               names("households", "head_name", "village_code", "members", "homesteads_elsewhere"),
               id_fields=FIELD_NAMES["households"]["household_id"], integers=("members", "homesteads_elsewhere"),
               spatial=False, defaults={"homesteads_elsewhere": 0}),
    ImportKind("approvals", models.Approval,
               {**names("approvals", "kind", "body", "approved_on", "approved_area_m2"),
                "household_key": FIELD_NAMES["approvals"]["household_id"]},
               id_fields=FIELD_NAMES["approvals"]["approval_id"], required=("kind",), dates=("approved_on",),
               numbers=("approved_area_m2",)),
    ImportKind("grids", models.Grid, names("grids"), id_fields=FIELD_NAMES["grids"]["code"],
               required=("code", "name")),
    ImportKind("plots", models.ContractedPlot,
               {"contractor_key": FIELD_NAMES["plots"]["contractor_id"], **names("plots", "contract_area_m2")},
               id_fields=FIELD_NAMES["plots"]["plot_id"], numbers=("contract_area_m2",)),
)}


@dataclass
class ImportReport:
    """What one import did; `problems` lists every repaired and dropped row."""

    kind: str
    source: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    problems: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def repaired(self) -> int:
        return int((self.problems.get("action", pd.Series(dtype=str)) == "repaired").sum())

    @property
    def dropped(self) -> int:
        return int((self.problems.get("action", pd.Series(dtype=str)) == "dropped").sum())

    @property
    def kept(self) -> int:
        """Known houses left as stored because a later survey holds them (`_newer_surveys`)."""
        return int((self.problems.get("action", pd.Series(dtype=str)) == "kept").sum())


def _match_fields(columns: Iterable[str], kind: ImportKind, overrides: Mapping[str, str]) -> dict[str, str]:
    """Model column → source column, honouring `--field model=SOURCE` overrides."""
    columns = list(columns)
    chosen: dict[str, str] = {}
    for target, candidates in kind.fields.items():
        hit = find_field(columns, (overrides[target],) if target in overrides else candidates)
        if hit is None and target in overrides:
            raise RedlineInputError(f"no field {overrides[target]!r} (given for {target})", field=target)
        if hit is not None:
            chosen[target] = hit
    unknown = set(overrides) - set(kind.fields) - {"source_key"}
    if unknown:
        raise RedlineInputError(f"{kind.name} has no field(s) {sorted(unknown)}; known: {sorted(kind.fields)}")
    return chosen


def _text(values: pd.Series) -> pd.Series:
    """Strings without trailing '.0' from numeric codes read as floats; None where missing."""
    def one(v: Any) -> Any:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        text = str(v).strip()
        return text or None
    return values.map(one).astype(object)


def _convert(frame: pd.DataFrame, mapping: Mapping[str, str], kind: ImportKind, source: str) -> pd.DataFrame:
    """Typed model columns from source columns; any unparseable value names its row and field."""
    out = pd.DataFrame(index=frame.index)
    rows = frame["_row"]
    for target, src in mapping.items():
        raw = frame[src]
        if target in kind.dates:
            try:
                days = parse_days(raw)
            except DateError as exc:
                raise RedlineInputError(str(exc), source=source, row=int(rows.iloc[exc.position]),
                                        field=src) from None
            out[target] = pd.Series(days.astype(object), index=frame.index).where(~np.isnat(days), None)
        elif target in kind.numbers or target in kind.integers:
            try:
                numbers = parse_numbers(raw)
            except NumberError as exc:
                raise RedlineInputError(f"cannot read {exc.value!r} as a number", source=source,
                                        row=int(rows.iloc[exc.position]), field=src) from None
            typed = numbers.astype("Int64") if target in kind.integers else numbers
            out[target] = typed.astype(object).where(numbers.notna(), None)
        else:
            out[target] = _text(raw)
    for target in kind.required:
        if target not in out:
            raise RedlineInputError(f"no field for {target} (tried {', '.join(kind.fields[target])})",
                                    source=source, field=target)
        missing = out[target].isna()
        if missing.any():
            i = missing.to_numpy().nonzero()[0][0]
            raise RedlineInputError("value is required", source=source, row=int(rows.iloc[i]),
                                    field=mapping[target])
    for target, value in kind.defaults.items():
        out[target] = out[target].where(out[target].notna(), value) if target in out else value
    return out


def _approval_kinds(kinds: pd.Series, rows: pd.Series, field_name: str, source: str) -> pd.Series:
    """Approval kinds in their canonical names (Chinese register names mapped); a kind that names none of
    them is refused with its row, since a wrong guess would legalise a house or condemn one."""
    canonical = kinds.map(approval_kind)
    bad = (canonical == ApprovalKind.UNKNOWN).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        known = ", ".join(sorted({k for k, v in APPROVAL_KIND_NAMES.items() if not k.isascii()}))
        raise RedlineInputError(f"unknown approval kind {kinds.iloc[i]!r}: one of homestead, land_conversion, "
                                f"planning_permit or {known}", source=source, row=int(rows.iloc[i]), field=field_name)
    return canonical.map(str).astype(object)  # StrEnum: its code


def source_keys(frame: pd.DataFrame, kind: ImportKind, id_field: str | None, source: str,
                 geoms: np.ndarray | None) -> pd.Series:
    """The source's own id per row (or a hash of the geometry where it has none); duplicates refused."""
    col = find_field(frame.columns, (id_field,) if id_field else kind.id_fields)
    if id_field and col is None:
        raise RedlineInputError(f"no id field {id_field!r}", source=source, field=id_field)
    if col is not None:
        keys = _text(frame[col])
        missing = keys.isna()
        if missing.any():
            i = missing.to_numpy().nonzero()[0][0]
            raise RedlineInputError("the id is empty", source=source, row=int(frame["_row"].iloc[i]), field=col)
    elif geoms is not None:
        wkb = shapely.to_wkb(shapely.normalize(geoms))
        keys = pd.Series(["g:" + hashlib.sha1(w).hexdigest()[:30] for w in wkb], index=frame.index)
    else:
        raise RedlineInputError(f"no id field (tried {', '.join(kind.id_fields)}); pass --id-field", source=source)
    dup = keys.duplicated()
    if dup.any():
        i = dup.to_numpy().nonzero()[0][0]
        raise RedlineInputError(f"id {keys.iloc[i]!r} appears twice", source=source,
                                row=int(frame["_row"].iloc[i]), field=col or "geometry")
    return keys


def _read(path: Path, kind: ImportKind, layer: str | None, src_crs: str | None) -> pd.DataFrame:
    """Read the source: a GeoDataFrame for spatial kinds, a plain table for registers."""
    if kind.spatial:
        return read_source(path, layer=layer, src_crs=src_crs)
    return read_table(path, layer=layer)


def other_attributes(frame: pd.DataFrame, mapped: set[str]) -> list[str | None]:
    """The unmapped source fields of each row as JSON text (kept so that nothing read is lost)."""
    rest = frame[[c for c in frame.columns if c not in mapped and c != "_row"]]
    if rest.empty and not len(rest.columns):
        return [None] * len(frame)
    clean = rest.astype(object).where(rest.notna(), None)
    return [json.dumps(r, ensure_ascii=False, default=str) for r in clean.to_dict("records")]


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    if path.suffix.lower() == ".shp":
        files = sorted(path.parent.glob(path.stem + ".*"))
    for f in files:
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def village_codes(session: Session, geoms: np.ndarray) -> np.ndarray:
    """Village code for each geometry: the stored village its representative point falls in (or None)."""
    villages = read_frame(session, models.AdminArea, ["code"], where=[models.AdminArea.level == VILLAGE_LEVEL])
    out = np.full(len(geoms), None, dtype=object)
    if villages.empty or len(geoms) == 0:
        return out
    points = shapely.point_on_surface(geoms)
    pi, vi = villages.sindex.query(points, predicate="within")
    out[pi] = villages["code"].to_numpy()[vi]
    return out


def _code_prefix(value: Any, digits: int) -> str | None:
    """The first `digits` digits of an administrative code, padded for a township ('431021101' + '000')."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip():
        return None
    code = str(value).strip()[:digits]
    return code if digits == 12 else code + "000"


def _locate_houses(session: Session, values: pd.DataFrame, geoms: np.ndarray) -> None:
    """Fill village and township codes (of houses, grid cells): the source's own where given, else by location
    in a stored village."""
    located = village_codes(session, geoms)
    given = values["village_code"] if "village_code" in values else pd.Series([None] * len(values), dtype=object)
    village = np.array([_code_prefix(v, 12) for v in given], dtype=object)
    village = np.where(pd.isna(village), located, village)
    values["village_code"] = village
    derived = np.array([_code_prefix(v, 9) for v in village], dtype=object)
    if "township_code" in values:
        values["township_code"] = values["township_code"].where(values["township_code"].notna(), derived)
    else:
        values["township_code"] = derived


def _admin_levels(codes: pd.Series, frame: pd.DataFrame, source: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Normalise admin codes to 12 digits; level and township from the code (乡 = digits 7–9, 村 = 10–12)."""
    digits = codes.astype(str).str.strip()
    bad = ~digits.str.fullmatch(r"\d{9}|\d{12}|\d{19}")
    if bad.any():
        i = bad.to_numpy().nonzero()[0][0]
        raise RedlineInputError(f"not an administrative code (9, 12 or 19 digits): {digits.iloc[i]!r}",
                                source=source, row=int(frame["_row"].iloc[i]), field="code")
    code12 = digits.str.slice(0, 12).str.pad(12, side="right", fillchar="0")
    level = np.where(code12.str.fullmatch(TOWNSHIP_CODE.pattern), TOWNSHIP_LEVEL, VILLAGE_LEVEL)
    township = code12.str.slice(0, 9) + "000"
    return code12, pd.Series(level, index=codes.index), township


ProgressFn = Callable[[int, int], None]


#: The largest share of a layer's rows an import may drop (empty or unrepairable geometries) before the
#: whole file is refused: a layer losing more than this is damaged, and storing the rest would look complete.
MAX_DROP_SHARE = 0.01


def expected_extent(factory: sessionmaker[Session], kind: str, srid: int) -> Extent:
    """Where a layer must lie: around the county's imported townships, else within the county CRS's zone.

    The townships layer itself is checked against the zone (it is what defines the county).
    """
    if kind != "townships":
        with factory() as session:
            areas = read_frame(session, models.AdminArea, ["code"])  # a county has a few hundred at most
        if not areas.empty:
            minx, miny, maxx, maxy = (float(v) for v in areas.total_bounds)
            return county_extent((minx, miny, maxx, maxy), f"EPSG:{srid}")
    return zone_extent(f"EPSG:{srid}")


def project_and_place(factory: sessionmaker[Session], frame: pd.DataFrame, kind: str, srid: int, source: str, *,
                      allow_outside: bool = False) -> gpd.GeoDataFrame:
    """Reproject a source to the county CRS and refuse it when it lands outside the county (a wrong `.prj`)."""
    raw = gpd.GeoDataFrame(frame)
    gdf = to_projected(raw, f"EPSG:{srid}", source=source)
    if not allow_outside:
        check_inside(gdf, expected_extent(factory, kind, srid), raw=raw, source=source)
    return gdf


def check_drops(problems: pd.DataFrame, rows_read: int, source: str, *, max_share: float = MAX_DROP_SHARE,
                allow_drops: bool = False) -> None:
    """Refuse a layer that lost more than `max_share` of its rows (unless the user says so): the reasons
    are summarised, each with its first rows."""
    if allow_drops or problems.empty or rows_read == 0:
        return
    dropped = problems[problems["action"] == "dropped"]
    if len(dropped) <= max_share * rows_read:
        return
    raise RedlineInputError(f"{len(dropped)} of {rows_read} rows ({len(dropped) / rows_read:.1%}) would be dropped, "
                            f"more than the {max_share:.0%} allowed: {summarise_problems(dropped)}; nothing was "
                            "stored (repair the source, or pass --allow-drops to store the rest)", source=source)


def survey_time(model: type, surveyed_on: dt.date | None, now: dt.datetime) -> dt.datetime:
    """When a houses survey showed its houses standing (UTC): the start of the day it was made (county calendar),
    so that only a demolition recorded on an earlier day is contradicted by it — a survey of the same day proves
    nothing either way, as with imagery; or, with no day given, the import's own time. A day in the future, or a
    survey day for a layer that is no houses survey, is refused."""
    if surveyed_on is None:
        return now
    if model is not models.House:
        raise RedlineInputError("a survey day (--surveyed-on) is given with a houses survey only", field="surveyed_on")
    if surveyed_on > now.astimezone(COUNTY_TZ).date():
        raise RedlineInputError(f"a survey made on {surveyed_on} is in the future", field="surveyed_on")
    return _day_start(surveyed_on)


def _day_start(day: dt.date) -> dt.datetime:
    """The start of a survey day (county calendar), in UTC: what a survey made that day proves standing."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=COUNTY_TZ).astimezone(dt.UTC)


def _survey_times(days: pd.Series | None, rows: pd.Series, field_name: str | None, source: str,
                  default: dt.datetime, now: dt.datetime) -> pd.Series:
    """When each house of a survey was seen standing (UTC): the start of its own survey day (a 调查日期 / DCRQ
    column: a 摸排 collected over weeks), or `default` (`survey_time`: the file's day, or the import's time) where
    the row has none. A day to come is refused with its row and field."""
    if days is None or field_name is None:
        return pd.Series(default, index=rows.index, dtype=object)
    given = days.notna().to_numpy()
    today = now.astimezone(COUNTY_TZ).date()
    ahead = np.flatnonzero(given & np.array([d is not None and d > today for d in days], dtype=bool))
    if len(ahead):
        i = int(ahead[0])
        raise RedlineInputError(f"a survey made on {days.iloc[i]} is in the future", source=source,
                                row=int(rows.iloc[i]), field=field_name)
    return pd.Series([_day_start(d) if d is not None else default for d in days.where(days.notna(), None)],
                     index=rows.index, dtype=object)


def _newer_surveys(session: Session, keys: pd.Series, is_known: np.ndarray, times: pd.Series) -> pd.Series:
    """Per row of a houses survey, when a later survey showed the stored house of that key (None where none did);
    `times`: when this survey saw each house (`_survey_times`).

    A survey delivered late must not put its older outlines and fields over a later survey's: the wing the later
    survey found would vanish from the house, and from its case at the next scan, only because a file came late.
    A survey of the same day replaces them (a corrected delivery)."""
    stored: dict[str, dt.datetime] = {}
    for chunk in in_chunks(keys[is_known].tolist()):
        rows = session.execute(select(models.House.source_key, models.House.surveyed_at).where(
            models.House.source_key.in_(chunk), models.House.surveyed_at.is_not(None)))
        stored.update((key, as_utc(at)) for key, at in rows if at is not None)
    later = [stored[key] if key in stored and stored[key] > at else None for key, at in zip(keys, times, strict=True)]
    return pd.Series(later, index=keys.index, dtype=object)


def _kept_rows(rows: pd.Series, newer: pd.Series, source: str) -> pd.DataFrame:
    """The report's lines for houses a later survey holds: row, and that survey's day (county calendar)."""
    held = newer.notna().to_numpy()
    days = [at.astimezone(COUNTY_TZ).date().isoformat() for at in newer[held]]
    return pd.DataFrame({"source": source, "row": rows.to_numpy()[held], "field": "geometry", "action": "kept",
                         "reason": [f"a later survey ({day}) holds this house: its outline and fields stay"
                                    for day in days]})


@cycle_collector_paused()
def import_layer(factory: sessionmaker[Session], kind_name: str, path: str | Path, *, layer: str | None = None,
                 src_crs: str | None = None, id_field: str | None = None,
                 field_map: Mapping[str, str] | None = None,
                 progress: ProgressFn | None = None, chunk: int = 5000, allow_drops: bool = False,
                 allow_outside: bool = False, surveyed_on: dt.date | None = None,
                 now: dt.datetime | None = None) -> ImportReport:
    """Import one source of `kind_name` into its table; see the module docstring for the steps.

    Refused before anything is written: a corrupt file, data outside the county (`allow_outside` lifts
    this for data knowingly elsewhere), and more than MAX_DROP_SHARE of rows dropped (`allow_drops`).
    `surveyed_on` (houses only): the day the survey was made, in the county's calendar — what the houses standing
    in it prove (`survey_time`); without it, the import's own time stands in.
    """
    if kind_name not in KINDS:
        raise RedlineInputError(f"unknown kind {kind_name!r}; one of {', '.join(KINDS)}")
    kind = KINDS[kind_name]
    surveyed_at = survey_time(kind.model, surveyed_on, now or utcnow())
    srid = srid_of(factory)
    path = Path(path)
    source = str(path)
    frame = _read(path, kind, layer, src_crs)
    report = ImportReport(kind=kind.name, source=source, rows_read=len(frame))
    geoms: np.ndarray | None = None
    if kind.spatial:
        gdf = project_and_place(factory, frame, kind.name, srid, source, allow_outside=allow_outside)
        gdf, report.problems = clean_polygons(gdf, source=source)
        check_drops(report.problems, report.rows_read, source, allow_drops=allow_drops)
        frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
        geoms = gdf.geometry.to_numpy()
    mapping = _match_fields([c for c in frame.columns if c != "_row"], kind, field_map or {})
    values = _convert(frame, mapping, kind, source)
    if kind.model is models.House:  # not a column of its own: what `surveyed_at` is made of
        values["surveyed_at"] = _survey_times(values.pop("surveyed_on") if "surveyed_on" in values else None,
                                              frame["_row"], mapping.get("surveyed_on"), source, surveyed_at,
                                              now or utcnow())
    if kind.model is models.Approval:
        values["kind"] = _approval_kinds(values["kind"], frame["_row"], mapping["kind"], source)
    values["source_key"] = source_keys(frame, kind, id_field, source, geoms)
    values["attrs"] = other_attributes(frame, set(mapping.values()))
    if geoms is not None:
        values["area_m2"] = shapely.area(geoms)
        values["geom"] = pd.Series(to_db_geometry(geoms, factory), index=values.index, dtype=object)

    digest = file_digest(path)
    with factory.begin() as session:
        if kind.model is models.AdminArea:
            values["code"], values["level"], values["township_code"] = _admin_levels(values["code"], frame, source)
        if kind.model in (models.House, models.Grid) and geoms is not None:
            _locate_houses(session, values, geoms)
        table = table_of(kind.model)
        existing = dict(session.execute(select(table.c.source_key, table.c.id)).all())
        is_known = values["source_key"].isin(list(existing)).to_numpy()
        resurvey = True
        if kind.model is models.House:
            # A survey shows its houses standing (`House.surveyed_at`, what a sham demolition is reopened on); the
            # same file imported again is no new survey, and leaves the houses it already held as they were.
            resurvey = session.execute(select(models.ImportRun.id).where(
                models.ImportRun.kind == kind.name, models.ImportRun.sha256 == digest).limit(1)).first() is None
            newer = _newer_surveys(session, values["source_key"], is_known, values["surveyed_at"])
            held = newer.notna().to_numpy()
            if held.any():  # neither updated nor inserted: left as the later survey has them, each named
                kept = _kept_rows(frame["_row"], newer, source)
                report.problems = (pd.concat([report.problems, kept], ignore_index=True)
                                   if not report.problems.empty else kept)
                values, is_known = values[~held], is_known[~held]
        new = values[~is_known]
        known_values = values[is_known].drop(columns="surveyed_at", errors="ignore")
        known = [{**r, "_id": existing[r["source_key"]]} for r in records(known_values)]
        if resurvey and kind.model is models.House:  # a house's survey time only moves forward: an older survey
            # delivered late says nothing newer than the one already held
            times = values.loc[is_known, "surveyed_at"]
            ids_by_time = pd.Series([k["_id"] for k in known], index=times.index).groupby(times.to_numpy())
            for at, ids_at in ids_by_time:  # one update per survey day (a file holds few)
                for ids in in_chunks(ids_at.tolist()):
                    session.execute(update(table).where(table.c.id.in_(ids), (table.c.surveyed_at.is_(None))
                                                        | (table.c.surveyed_at < at))
                                    .values(surveyed_at=at))
        total = len(values)
        insert_rows(session, table, new, chunk=chunk,
                    progress=(lambda n: progress(n, total)) if progress else None)
        done = len(new)
        if known:
            cols = [c for c in known[0] if c not in ("_id", "source_key")]
            stmt = (update(table).where(table.c.id == bindparam("_id"))
                    .values({c: bindparam(c) for c in cols}))
            for start in range(0, len(known), chunk):
                session.connection().execute(stmt, known[start:start + chunk])
                done += len(known[start:start + chunk])
                if progress:
                    progress(done, total)
        report.inserted, report.updated = len(new), len(known)
        run = models.ImportRun(
            # Stamped by the application (microseconds, UTC), not the database's second-resolution clock: a
            # scan compares it with the moment a demolition was recorded.
            finished_at=utcnow(),
            kind=kind.name, source=source, sha256=digest, rows_read=report.rows_read,
            inserted=report.inserted, updated=report.updated, repaired=report.repaired,
            dropped=report.dropped, report=json.dumps(report.problems.to_dict("records"), ensure_ascii=False),
        )
        session.add(run)
        session.flush()
        if kind.name in AFFECTS_TOTALS:
            record_totals(session, run.id)
        if kind.model is models.Grid:
            locate_cases(session)  # every case knows its grid cell
    return report
