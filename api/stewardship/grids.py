"""The farmland grid (网格): imported (`redline import grids PATH`) or, where a county has none, generated from
its villages and farmland (`gis.coverage.generate_grid`: a square lattice of `REDLINE_GRID_CELL_M` per village,
cells holding at least 2 000 m² of farmland kept). Every case, finding and abandoned-land record knows its grid
cell: the one its representative point falls in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.db.areas import VILLAGE_LEVEL
from api.db.models import AdminArea, Case, Farmland, Grid
from api.db.repository import read_frame, records, table_of, to_db_geometry
from gis.coverage import CoverageRules, generate_grid


def grid_codes(session: Session, geoms: np.ndarray) -> np.ndarray:
    """The grid cell code of each geometry (county CRS): the cell its representative point falls in, or None."""
    out = np.full(len(geoms), None, dtype=object)
    grids = read_frame(session, Grid, ["code"])
    if grids.empty or not len(geoms):
        return out
    points = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    pi, gi = grids.sindex.query(points, predicate="within")
    out[pi] = grids["code"].to_numpy()[gi]
    return out


def locate_cases(session: Session) -> int:
    """Give every case its grid cell (after grids are imported or generated, and after a scan); returns how
    many changed."""
    cases = read_frame(session, Case, ["grid_code"])
    if cases.empty:
        return 0
    codes = grid_codes(session, cases.geometry.to_numpy())
    changed = [{"_id": int(i), "grid_code": c} for i, c, old in zip(cases["id"], codes, cases["grid_code"],
                                                                    strict=True) if c != old]
    if changed:
        table = table_of(Case)
        session.connection().execute(update(table).where(table.c.id == bindparam("_id"))
                                     .values(grid_code=bindparam("grid_code")), changed)
    return len(changed)


def generate_grids(factory: sessionmaker[Session], rules: CoverageRules) -> int:
    """Generate the grid for villages that have no cell yet; returns the number of cells made."""
    with factory.begin() as session:
        villages = read_frame(session, AdminArea, ["code", "name", "township_code"],
                              where=[AdminArea.level == VILLAGE_LEVEL])
        have = set(session.execute(select(Grid.village_code).distinct()).scalars())
        villages = villages[~villages["code"].isin(have)]
        if villages.empty:
            return 0
        farmland = read_frame(session, Farmland).geometry.to_numpy()
        cells = generate_grid(villages, farmland, rules)
        if cells.empty:
            return 0
        town = dict(zip(villages["code"], villages["township_code"], strict=True))
        values = pd.DataFrame({"source_key": "generated:" + cells["code"], "code": cells["code"],
                               "name": cells["name"], "village_code": cells["village_code"],
                               "township_code": cells["village_code"].map(town),
                               "area_m2": shapely.area(cells.geometry.to_numpy()), "attrs": None})
        values["geom"] = pd.Series(to_db_geometry(cells.geometry.to_numpy(), session), dtype=object)
        session.execute(table_of(Grid).insert(), records(values))
        locate_cases(session)
        return len(values)
