"""Maps for paper: a window of the county CRS (metres) drawn as inline SVG, with no basemap, so a printed
report or dossier needs nothing from the network. Used by the monthly report and the case dossier."""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely


@dataclass(frozen=True)
class Frame:
    """A window of the county CRS, (minx, miny, maxx, maxy) in metres, fitted into `width` × `height` SVG
    pixels with the same scale on both axes (north up, y flipped)."""

    bounds: tuple[float, float, float, float]
    width: int
    height: int

    @property
    def scale(self) -> float:
        """SVG pixels per metre."""
        minx, miny, maxx, maxy = self.bounds
        return min(self.width / max(maxx - minx, 1e-9), self.height / max(maxy - miny, 1e-9))

    def px(self, x: float, y: float) -> tuple[float, float]:
        """A county-CRS point in SVG pixels."""
        minx, _miny, _maxx, maxy = self.bounds
        return round((x - minx) * self.scale, 1), round((maxy - y) * self.scale, 1)

    def path(self, geom: shapely.Geometry) -> str:
        """SVG path data of a (multi)polygon's rings (holes drawn with fill-rule evenodd)."""
        rings = shapely.get_rings(shapely.get_parts(geom))
        return "".join("M" + " ".join("{},{}".format(*self.px(x, y)) for x, y in shapely.get_coordinates(r)) + "Z"
                       for r in rings)

    def polyline(self, geom: shapely.Geometry) -> str:
        """SVG path data of a (multi)line, open at its ends."""
        return "".join("M" + " ".join("{},{}".format(*self.px(x, y)) for x, y in shapely.get_coordinates(part))
                       for part in shapely.get_parts(geom))

    def scale_bar(self, share: float = 0.25) -> dict[str, float | str]:
        """A scale bar of a round length (1, 2 or 5 × 10ⁿ m) near `share` of the width: its pixels and label."""
        target = self.width * share / self.scale
        power = 10 ** math.floor(math.log10(target))
        length = max(step * power for step in (1, 2, 5) if step * power <= target)
        label = f"{length:g} m" if length < 1000 else f"{length / 1000:g} km"
        return {"px": round(length * self.scale, 1), "label": label}


def window_around(geom: shapely.Geometry, margin_m: float, min_side_m: float,
                  aspect: float) -> tuple[float, float, float, float]:
    """A window (county CRS, metres) around `geom`: its bounds grown by `margin_m`, at least `min_side_m` across,
    shaped `aspect` (width / height) so the drawing fills the frame."""
    minx, miny, maxx, maxy = shapely.bounds(geom)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half_w = max((maxx - minx) / 2 + margin_m, min_side_m / 2)
    half_h = max((maxy - miny) / 2 + margin_m, min_side_m / 2)
    if half_w / half_h < aspect:
        half_w = half_h * aspect
    else:
        half_h = half_w / aspect
    return cx - half_w, cy - half_h, cx + half_w, cy + half_h
