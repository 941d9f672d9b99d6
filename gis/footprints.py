"""House footprints as the engine measures them: rings, boxes and areas in arrays, geometry objects only where needed.

Why: `redline check` on a county's GeoParquet spent ~0.45 s decoding a million footprints into shapely objects, and
~0.1–0.3 s freeing them, though the clip kernel reads each house's ring from arrays and GEOS is asked about only a
few houses (concave ones, those with a part built after the cutoff or an approval, those near plots). So:

- `Footprints` is a house layer as its file holds it: the attribute columns, the footprints' WKB and the CRS.
- `HouseShapes` is what the engine knows of each house's footprint in the working CRS (metres): its ring where the
  clip kernel can take it (`convex`, `clip`), its bounding box and area, and its geometry object — made from the
  file's bytes the first time a step asks for that house (`geometries`), never for the rest.

Both paths into the engine end in a `HouseShapes`: a GeoDataFrame of houses gives one with every object made; a
`Footprints` whose CRS is the working one gives one where only the houses the kernel cannot take were decoded
(`gis.engine._prepare_footprints`). Areas and boxes come from the same arrays either way, so both give the same
numbers to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from pyproj import CRS

from gis.errors import RedlineInputError
from gis.kernels import Rings, ring_bounds_and_areas


@dataclass(frozen=True)
class Footprints:
    """A house layer as a WKB GeoParquet file holds it (`gis.sources.read_footprints`): the attributes with their
    1-based `_row`, the primary geometry column's bytes row for row, and its CRS (None where neither the file nor
    the caller gave one)."""

    frame: pd.DataFrame
    wkb: pa.Array
    crs: CRS | None
    #: What error messages call the layer (its file).
    source: str = "houses"

    def __len__(self) -> int:
        return len(self.frame)

    def with_frame(self, frame: pd.DataFrame) -> Footprints:
        """The same footprints beside other attribute columns (renamed, an id added): same rows, same order."""
        if len(frame) != len(self.frame):
            raise ValueError("the attribute frame must keep every row")
        return replace(self, frame=frame)

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """Every footprint decoded: for the steps that need all of them as objects (a reprojection, Z values)."""
        return gpd.GeoDataFrame(self.frame, geometry=self.decode(np.arange(len(self))), crs=self.crs)

    def decode(self, positions: np.ndarray) -> np.ndarray:
        """The footprints at `positions` as geometry objects. Bytes GEOS cannot read (an open ring, a ring of three
        points, a truncated value) are an error naming the first such input row: they are no footprint to guess."""
        values = self.wkb.take(pa.array(positions, type=pa.int64())).to_numpy(zero_copy_only=False)
        try:
            return shapely.from_wkb(values)
        except shapely.errors.GEOSException as exc:
            unread = shapely.is_missing(shapely.from_wkb(values, on_invalid="ignore")) & ~pd.isna(values)
            rows = self.frame["_row"].to_numpy()[positions] if "_row" in self.frame else np.asarray(positions) + 1
            row = int(rows[np.argmax(unread)]) if unread.any() else None
            raise RedlineInputError(f"the footprint cannot be read ({exc})", source=self.source, row=row,
                                    field="geometry") from None


@dataclass
class HouseShapes:
    """Per house (rows of the checked houses, in the working CRS): see the module docstring.

    `objects[i]` is None until a step asks for house i (`geometries`); it is then decoded from `source[i]`.
    `source` is None where every object was given. `changed[i]`: the object is not what `source[i]` encodes (a
    repair), so the output encodes the object, not the bytes (`wkb`).
    """

    objects: np.ndarray
    source: pa.Array | None
    changed: np.ndarray
    convex: np.ndarray
    clip: Rings
    bounds: np.ndarray
    area: np.ndarray

    @classmethod
    def of(cls, objects: np.ndarray, convex: np.ndarray, clip: Rings, source: pa.Array | None = None,
           changed: np.ndarray | None = None) -> HouseShapes:
        """The shapes of houses whose convex ones have their rings in `clip` (`gis.kernels.convex_clip_polygons`)
        and every other one its object in `objects`: boxes and areas of the convex ones from their rings, of
        the others from GEOS."""
        n = len(objects)
        bounds = np.empty((n, 4))
        area = np.empty(n)
        ring = np.flatnonzero(convex)
        bounds[ring], area[ring] = ring_bounds_and_areas(clip, ring)
        other = np.flatnonzero(~convex)
        if len(other):
            bounds[other] = shapely.bounds(objects[other])
            area[other] = np.nan_to_num(shapely.area(objects[other]), nan=0.0)
        return cls(objects, source, changed if changed is not None else np.zeros(n, dtype=bool), convex, clip,
                   bounds, area)

    def __len__(self) -> int:
        return len(self.objects)

    def take(self, rows: slice) -> HouseShapes:
        """A slice of the houses (views: an object decoded through the slice is kept for the whole)."""
        source = self.source.slice(rows.start, rows.stop - rows.start) if self.source is not None else None
        return HouseShapes(self.objects[rows], source, self.changed[rows], self.convex[rows], self.clip.take(rows),
                           self.bounds[rows], self.area[rows])

    def geometries(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The geometry objects of `rows` (all houses where None), decoding those not made yet."""
        rows = np.arange(len(self.objects)) if rows is None else np.asarray(rows, dtype=np.int64)
        out = self.objects[rows]
        missing = np.flatnonzero(shapely.is_missing(out))
        if len(missing) and self.source is not None:
            todo = np.unique(rows[missing])
            made = shapely.from_wkb(self.source.take(pa.array(todo)).to_numpy(zero_copy_only=False))
            self.objects[todo] = made
            out = self.objects[rows]
        return out

    def wkb(self) -> pa.Array | None:
        """Every footprint as WKB: the source's bytes where the footprint is what they encode, a fresh encoding of
        the repaired ones; None where there is no source (the caller encodes the objects)."""
        if self.source is None:
            return None
        if not self.changed.any():
            return self.source
        fixed = np.flatnonzero(self.changed)
        fresh = pa.array(shapely.to_wkb(self.objects[fixed]), type=self.source.type)
        order = np.arange(len(self.source))
        order[fixed] = len(self.source) + np.arange(len(fixed))
        return pa.concat_arrays([self.source, fresh]).take(pa.array(order))
