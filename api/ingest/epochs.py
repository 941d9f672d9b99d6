"""Imagery epochs: one footprint layer per imagery date (`redline import epoch PATH --imaged-on DATE`).

The same rules as every import: any OGR source, the CRS by its definition, GBK text, repairs reported row by
row, refused when corrupt, misplaced or mostly broken, and atomic. Importing an epoch again replaces its
footprints in one transaction (re-importing the same file changes nothing); another date is another epoch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import shapely
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from api.clock import utcnow
from api.db import models
from api.db.engine import srid_of
from api.db.repository import records, table_of, to_db_geometry
from api.ingest.layers import ImportKind, check_drops, file_digest, other_attributes, project_and_place, source_keys
from gis.codes import COUNTY_TZ
from gis.errors import RedlineInputError
from gis.fields import FIELD_NAMES
from gis.geometry import clean_polygons
from gis.sources import read_source

EPOCH = ImportKind("epoch", models.EpochFootprint, {}, id_fields=FIELD_NAMES["epochs"]["id"])


@dataclass
class EpochReport:
    imaged_on: dt.date
    rows_read: int
    stored: int = 0
    unchanged: bool = False  # the same file again: nothing written
    problems: pd.DataFrame = field(default_factory=pd.DataFrame)


def import_epoch(factory: sessionmaker[Session], path: str | Path, imaged_on: dt.date, *, layer: str | None = None,
                 src_crs: str | None = None, id_field: str | None = None, allow_drops: bool = False,
                 allow_outside: bool = False, now: dt.datetime | None = None) -> EpochReport:
    """Store (or replace) the footprints of the epoch imaged on `imaged_on`."""
    if imaged_on > (now or utcnow()).astimezone(COUNTY_TZ).date():  # the county's today, not UTC's
        raise RedlineInputError(f"imagery of {imaged_on} is in the future", field="imaged_on")
    path = Path(path)
    source = str(path)
    frame = read_source(path, layer=layer, src_crs=src_crs)
    report = EpochReport(imaged_on, rows_read=len(frame))
    gdf = project_and_place(factory, frame, "epoch", srid_of(factory), source, allow_outside=allow_outside)
    gdf, report.problems = clean_polygons(gdf, source=source)
    check_drops(report.problems, report.rows_read, source, allow_drops=allow_drops)
    geoms = gdf.geometry.to_numpy()
    plain = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    keys = source_keys(plain, EPOCH, id_field, source, geoms)
    digest = file_digest(path)
    with factory.begin() as session:
        epoch = session.execute(select(models.Epoch).where(models.Epoch.imaged_on == imaged_on)).scalar_one_or_none()
        if epoch is not None and epoch.source_sha256 == digest:
            report.unchanged = True
            report.stored = len(plain)
            return report
        if epoch is None:
            epoch = models.Epoch(imaged_on=imaged_on, source=source, source_sha256=digest, imported_at=utcnow())
            session.add(epoch)
            session.flush()
        else:
            session.execute(delete(models.EpochFootprint).where(models.EpochFootprint.epoch_id == epoch.id))
            epoch.source, epoch.source_sha256, epoch.imported_at = source, digest, utcnow()
        values = pd.DataFrame({"epoch_id": epoch.id, "source_key": keys.to_numpy(),
                               "attrs": other_attributes(plain, set()), "area_m2": shapely.area(geoms)})
        values["geom"] = pd.Series(to_db_geometry(geoms, session), index=values.index, dtype=object)
        rows = records(values)
        for start in range(0, len(rows), 5000):
            session.execute(table_of(models.EpochFootprint).insert(), rows[start:start + 5000])
        report.stored = len(rows)
    return report
