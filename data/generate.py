"""Generate a realistic synthetic county near 112.4°E 25.6°N in CGCS2000 / 3-degree GK CM 111E (EPSG:4546).

Layers (one GeoPackage, 三调 field names where the survey has them):
- `townships`: 8 townships and their villages (XZQDM 9/12-digit codes, XZQMC names);
- `dltb`: a land-survey coverage (BSM, DLBM, DLMC, ZLDWDM, ZLDWMC, TBMJ, ...) with a realistic class mix;
- `farmland`: permanent basic farmland (YJJBNTTB: BSM, DLBM, TBMJ, YJJBNTMJ), some with holes;
- `houses`: rectangles and L-shapes clustered in village cores and along the road to the township seat;
- `baseline`: footprints as seen on imagery at 2020-07; `approvals`; `plots` (contracted land);
- `epoch_a`, `epoch_b`: two imagery passes of the buildings (between them five demolitions, a sham one, two
  wings added, four new buildings), with `demo_story.csv` naming the houses of each (`data/story.py`);
plus `households.csv` and `truth.csv` — what the generator *meant* for each house (period, disposition,
八不准 codes), against which the engine is tested. Violations are placed wholly inside parcels so their
truth is exact by construction, not computed by the engine under test.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely import affinity

from data import DEMO_TOWNSHIP

CRS = "EPSG:4546"
CENTRE_LONLAT = (112.4, 25.6)
COUNTY_CODE = "431021"
CUTOFF = dt.date(2020, 7, 3)
TOWNSHIP_NAMES = ["和平镇", "太和镇", "仁义镇", "莲塘镇", "方元镇", "樟市镇", "流峰镇", "黄沙坪镇"]
VILLAGE_STEMS = ["石门", "大塘", "新田", "上湾", "下湾", "高桥", "龙井", "枫林", "桃源", "白沙", "长冲", "竹园"]
#: (DLBM, DLMC, share) of the parcels outside village cores.
LAND_CLASSES = [
    ("0101", "水田", 0.27), ("0102", "水浇地", 0.08), ("0103", "旱地", 0.15), ("0201", "果园", 0.05),
    ("0301", "乔木林地", 0.27), ("0404", "其他草地", 0.05), ("1104", "坑塘水面", 0.05),
    ("1006", "农村道路", 0.03), ("1202", "设施农用地", 0.02), ("1203", "田坎", 0.03),
]
CULTIVATED = {"0101", "0102", "0103"}
#: Coordinates are surveyed to the centimetre; rounding also keeps the committed sample small.
GRID_M = 0.01


@dataclass(frozen=True)
class Size:
    """How big a county to make."""

    houses: int = 20_000
    width_m: float = 24_000.0
    height_m: float = 20_000.0
    parcels: int = 9_000
    villages_per_township: int = 5


def _dates(rng: np.random.Generator, n: int, start: dt.date, end: dt.date) -> np.ndarray:
    days = (end - start).days
    return np.array([start + dt.timedelta(days=int(d)) for d in rng.integers(0, days + 1, n)], dtype=object)


def _admin(rng: np.random.Generator, size: Size, origin: tuple[float, float]) -> tuple[gpd.GeoDataFrame, ...]:
    """Townships (grid of 4×2 groups of village Voronoi cells) and villages with their codes."""
    x0, y0 = origin
    county = shapely.box(x0 - size.width_m / 2, y0 - size.height_m / 2, x0 + size.width_m / 2, y0 + size.height_m / 2)
    n_town = 8
    per = size.villages_per_township
    tx, ty = np.meshgrid(np.arange(4), np.arange(2))
    cell_w, cell_h = size.width_m / 4, size.height_m / 2
    seeds = []
    town_of = []
    for t, (i, j) in enumerate(zip(tx.ravel(), ty.ravel(), strict=True)):
        sx = x0 - size.width_m / 2 + (i + rng.uniform(0.15, 0.85, per)) * cell_w
        sy = y0 - size.height_m / 2 + (j + rng.uniform(0.15, 0.85, per)) * cell_h
        seeds.append(np.column_stack([sx, sy]))
        town_of += [t] * per
    pts = np.vstack(seeds)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=county))
    owner = shapely.STRtree(cells).query(shapely.points(pts), predicate="within")
    order = np.empty(len(pts), dtype=int)
    order[owner[0]] = owner[1]
    villages_geom = shapely.intersection(cells[order], county)
    town_idx = np.array(town_of)
    t_codes = [f"{COUNTY_CODE}{101 + t:03d}" for t in range(n_town)]
    v_codes = [f"{t_codes[t]}{201 + k % per:03d}" for k, t in enumerate(town_idx)]
    v_names = [f"{VILLAGE_STEMS[k % len(VILLAGE_STEMS)]}{'一二三四五六七八'[k // len(VILLAGE_STEMS) % 8]}村"
               for k in range(len(pts))]
    villages = gpd.GeoDataFrame({"XZQDM": v_codes, "XZQMC": v_names, "township": town_idx,
                                 "cx": pts[:, 0], "cy": pts[:, 1]}, geometry=villages_geom, crs=CRS)
    towns = villages.dissolve("township").reset_index()
    towns = gpd.GeoDataFrame({"XZQDM": t_codes, "XZQMC": TOWNSHIP_NAMES[:n_town]},
                             geometry=towns.geometry.to_numpy(), crs=CRS)
    seats = villages.groupby("township")[["cx", "cy"]].first().to_numpy()
    return towns, villages, seats


def _parcels(rng: np.random.Generator, size: Size, villages: gpd.GeoDataFrame, seats: np.ndarray) -> gpd.GeoDataFrame:
    """A DLTB coverage: Voronoi parcels cut by village boundaries, classed by distance to cores and roads."""
    county = shapely.union_all(villages.geometry.to_numpy())
    minx, miny, maxx, maxy = county.bounds
    pts = np.column_stack([rng.uniform(minx, maxx, size.parcels), rng.uniform(miny, maxy, size.parcels)])
    # Denser small parcels near village centres, where homesteads and fields crowd together.
    near = np.repeat(villages[["cx", "cy"]].to_numpy(), 40, axis=0) + rng.normal(0, 350, (len(villages) * 40, 2))
    pts = np.vstack([pts, near])
    cells = gpd.GeoDataFrame(geometry=shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=county)), crs=CRS)
    parcels = gpd.overlay(cells, villages[["XZQDM", "XZQMC", "township", "cx", "cy", "geometry"]],
                          how="intersection", keep_geom_type=True)
    parcels = parcels.explode(index_parts=False).reset_index(drop=True)
    parcels = parcels[parcels.area > 50].reset_index(drop=True)
    centroid = parcels.geometry.centroid
    d_core = np.hypot(centroid.x - parcels["cx"], centroid.y - parcels["cy"])
    roads = shapely.linestrings([[(cx, cy), tuple(seats[t])] for cx, cy, t in
                                 zip(villages["cx"], villages["cy"], villages["township"], strict=True)])
    d_road = shapely.distance(shapely.points(np.column_stack([centroid.x, centroid.y]))[:, None],
                              roads[None, :]).min(axis=1)
    codes = rng.choice([c for c, _, _ in LAND_CLASSES], len(parcels), p=[s for _, _, s in LAND_CLASSES])
    codes = np.where(d_core < 260, "0702", codes)
    codes = np.where((d_core < 1500) & (d_road < 90) & (rng.random(len(parcels)) < 0.6), "0702", codes)
    names = dict((c, n) for c, n, _ in LAND_CLASSES) | {"0702": "农村宅基地"}
    area = parcels.area.to_numpy()
    parcels = gpd.GeoDataFrame({
        "BSM": [f"{COUNTY_CODE}2{i:08d}" for i in range(len(parcels))],
        "TBBH": [str(i + 1) for i in range(len(parcels))],
        "DLBM": codes, "DLMC": [names[c] for c in codes],
        "QSDWDM": parcels["XZQDM"] + "0000000", "QSDWMC": parcels["XZQMC"] + "集体",
        "ZLDWDM": parcels["XZQDM"] + "0000000", "ZLDWMC": parcels["XZQMC"],
        "TBMJ": np.round(area * 1.0004, 2),  # ellipsoidal areas differ slightly from planar ones
        "KCDLBM": np.where(np.isin(codes, list(CULTIVATED)), "1203", ""),
        "KCXS": np.where(np.isin(codes, list(CULTIVATED)), 0.05, 0.0),
        "d_core": d_core.to_numpy(),
    }, geometry=parcels.geometry.to_numpy(), crs=CRS)
    parcels["KCMJ"] = np.round(parcels["TBMJ"] * parcels["KCXS"], 2)
    parcels["TBDLMJ"] = parcels["TBMJ"] - parcels["KCMJ"]
    return parcels


def _lattice(polys: np.ndarray, spacing: float, inset: float,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points of a jittered lattice that lie at least `inset` inside `polys`; returns (xy, polygon index)."""
    shrunk = shapely.buffer(polys, -inset)
    ok = ~shapely.is_empty(shrunk)
    idx = np.flatnonzero(ok)
    minx, miny, maxx, maxy = shapely.total_bounds(shrunk[ok])
    xs, ys = np.meshgrid(np.arange(minx, maxx, spacing), np.arange(miny, maxy, spacing))
    pts = shapely.points(xs.ravel(), ys.ravel())
    pi, si = shapely.STRtree(shrunk[ok]).query(pts, predicate="within")
    xy = shapely.get_coordinates(pts[pi]) + rng.uniform(-1.5, 1.5, (len(pi), 2))
    return xy, idx[si]


def _footprints(rng: np.random.Generator, xy: np.ndarray, big_share: float = 0.1,
                l_share: float = 0.15) -> np.ndarray:
    """House footprints at `xy`: rectangles 8–12 × 9–12.5 m (some 12–14 m, above 130 m²), some L-shaped."""
    n = len(xy)
    w = rng.uniform(8, 12, n)
    h = rng.uniform(9, 12.5, n)
    big = rng.random(n) < big_share
    w[big], h[big] = rng.uniform(12, 14, big.sum()), rng.uniform(12, 14, big.sum())
    boxes = shapely.box(xy[:, 0] - w / 2, xy[:, 1] - h / 2, xy[:, 0] + w / 2, xy[:, 1] + h / 2)
    ell = rng.random(n) < l_share
    wing = shapely.box(xy[:, 0] + w / 2 - 0.001, xy[:, 1] - h / 2, xy[:, 0] + w / 2 + 3.5, xy[:, 1])
    boxes[ell] = shapely.union(boxes[ell], wing[ell])
    angle = rng.uniform(-25, 25, n)
    rotated = np.array([affinity.rotate(g, a, origin="centroid") for g, a in zip(boxes, angle, strict=True)],
                       dtype=object)
    return shapely.set_precision(rotated, GRID_M)


def generate(out_dir: Path, size: Size = Size(), seed: int = 20200703, write_gpkg: bool = False) -> dict[str, int]:
    """Write the demo county to `out_dir` (one GeoParquet per layer, households.csv, truth.csv).

    With `write_gpkg`, also a `county.gpkg` holding every layer (for QGIS/ArcGIS). Returns counts.
    """
    rng = np.random.default_rng(seed)
    origin = Transformer.from_crs("EPSG:4490", CRS, always_xy=True).transform(*CENTRE_LONLAT)
    towns, villages, seats = _admin(rng, size, origin)
    parcels = _parcels(rng, size, villages, seats)
    cultivated = parcels["DLBM"].isin(CULTIVATED).to_numpy()

    # Permanent basic farmland: most cultivated parcels; a tenth carry a hole (a pond dug in the field).
    pbf_mask = cultivated & (rng.random(len(parcels)) < 0.8)
    holed = pbf_mask & (rng.random(len(parcels)) < 0.1) & (parcels.area.to_numpy() > 20_000)
    farm_geom = parcels.geometry.to_numpy().copy()
    c = shapely.centroid(farm_geom[holed])
    hole = shapely.buffer(c, 18, quad_segs=2)
    farm_geom[holed] = shapely.difference(farm_geom[holed], hole)
    farmland = gpd.GeoDataFrame({
        "BSM": [f"{COUNTY_CODE}3{i:08d}" for i in range(int(pbf_mask.sum()))],
        "DLBM": parcels["DLBM"].to_numpy()[pbf_mask], "ZLDWDM": parcels["ZLDWDM"].to_numpy()[pbf_mask],
        "TBMJ": parcels["TBMJ"].to_numpy()[pbf_mask],
        "YJJBNTMJ": np.round(shapely.area(farm_geom[pbf_mask]) * 1.0004, 2),
    }, geometry=farm_geom[pbf_mask], crs=CRS)

    # Legal houses in homestead land; violations inside cultivated parcels near villages.
    homestead = np.flatnonzero(parcels["DLBM"].to_numpy() == "0702")
    legal_xy, _ = _lattice(parcels.geometry.to_numpy()[homestead], 24.0, 12.0, rng)
    near_fields = np.flatnonzero(cultivated & ~holed & (parcels["d_core"].to_numpy() < 900))
    viol_xy, viol_parcel = _lattice(parcels.geometry.to_numpy()[near_fields], 40.0, 22.0, rng)
    viol_parcel = near_fields[viol_parcel]
    n_viol = min(len(viol_xy), int(size.houses * 0.12))
    n_legal = min(len(legal_xy), size.houses - n_viol)
    pick = rng.choice(len(legal_xy), n_legal, replace=False)
    legal_xy = legal_xy[pick]
    vpick = rng.choice(len(viol_xy), n_viol, replace=False)
    all_viol_xy = viol_xy
    viol_xy, viol_parcel = viol_xy[vpick], viol_parcel[vpick]
    on_pbf = pbf_mask[viol_parcel]

    # Categories of violation, by known shares.
    cat = np.where(on_pbf, rng.choice(["inc", "stock", "ext", "inc_appr"], n_viol, p=[0.42, 0.42, 0.10, 0.06]),
                   rng.choice(["inc", "stock", "ext", "legalised", "late_appr"], n_viol,
                              p=[0.30, 0.35, 0.10, 0.17, 0.08]))
    n = n_legal + n_viol
    xy = np.vstack([legal_xy, viol_xy])
    geoms = _footprints(rng, xy)
    category = np.concatenate([np.full(n_legal, "legal", dtype=object), cat.astype(object)])
    ids = np.array([f"H{i + 1:06d}" for i in range(n)], dtype=object)

    before = _dates(rng, n, dt.date(1985, 1, 1), CUTOFF - dt.timedelta(days=1))
    after = _dates(rng, n, CUTOFF, dt.date(2026, 10, 31))
    legal_new = rng.random(n) < 0.15
    is_new = np.isin(category, ["inc", "inc_appr", "legalised", "late_appr"]) | ((category == "legal") & legal_new)
    built_on = np.where(is_new, after, before).astype(object)
    # Declared dates that imagery contradicts (the engine must follow the imagery and flag these).
    conflict = np.zeros(n, dtype=bool)
    viol_idx = np.arange(n_legal, n)
    flip = viol_idx[rng.random(n_viol) < 0.05]
    flip = flip[np.isin(category[flip], ["inc", "stock"])]
    conflict[flip] = True
    built_on[flip] = np.where(is_new[flip], before[flip], after[flip])
    # Some declarations lack a date; never where an approval's date must be weighed against construction.
    unknown_date = (rng.random(n) < 0.04) & ~conflict & ~np.isin(category, ["legalised", "late_appr", "inc_appr"])
    built_on[unknown_date] = None

    # Extensions: the old part is in the baseline, a wing added after the cutoff.
    ext = category == "ext"
    wing = shapely.box(xy[ext, 0] + 6.5, xy[ext, 1] - 4, xy[ext, 0] + 12.5, xy[ext, 1] + 4)
    old_geoms = geoms.copy()
    geoms[ext] = shapely.set_precision(shapely.union(geoms[ext], wing), GRID_M)
    in_baseline = ~is_new
    baseline = gpd.GeoDataFrame({"id": [f"B{i + 1:06d}" for i in range(int(in_baseline.sum()))],
                                 "imaged_on": "2020-07-01"}, geometry=old_geoms[in_baseline], crs=CRS)

    # Households: one per house; some violators belong to the household of a legal house (一户多宅).
    household = np.array([f"HH{i + 1:06d}" for i in range(n)], dtype=object)
    second = viol_idx[(rng.random(n_viol) < 0.12) & np.isin(category[viol_idx], ["inc", "stock", "ext"])]
    household[second] = household[rng.choice(n_legal, len(second), replace=False)]
    hh_ids = np.unique(household)
    elsewhere = (rng.random(len(hh_ids)) < 0.01).astype(int)
    households = pd.DataFrame({"household_id": hh_ids, "head_name": [f"户主{i}" for i in range(len(hh_ids))],
                               "members": rng.integers(1, 7, len(hh_ids)), "homesteads_elsewhere": elsewhere})

    # Approvals: homestead approvals for many legal houses; conversions legalising some violations;
    # approvals dated after construction; approvals on permanent farmland.
    appr_homestead = (category == "legal") & (rng.random(n) < 0.4) & ~pd.isna(built_on)
    appr_valid = category == "legalised"
    appr_late = category == "late_appr"
    appr_pbf = category == "inc_appr"
    has_appr = appr_homestead | appr_valid | appr_late | appr_pbf
    ref = np.array([d if d is not None else CUTOFF for d in built_on], dtype=object)
    appr_date = np.array([d - dt.timedelta(days=60) for d in ref], dtype=object)
    appr_date[appr_late] = np.array([d + dt.timedelta(days=200) for d in ref[appr_late]], dtype=object)
    kind = np.where(appr_homestead, "homestead", "land_conversion")
    approvals = gpd.GeoDataFrame({
        "approval_id": [f"A{i + 1:06d}" for i in range(int(has_appr.sum()))],
        "kind": kind[has_appr], "body": "县人民政府", "approved_on": [d.isoformat() for d in appr_date[has_appr]],
        "household_id": household[has_appr],
    }, geometry=shapely.buffer(geoms[has_appr], 1.0, join_style="mitre"), crs=CRS)
    approvals["approved_area_m2"] = np.round(approvals.area, 1)

    # Contracted plots: 60% of cultivated parcels, each split into two strips (west / east).
    contracted = np.flatnonzero(cultivated & (rng.random(len(parcels)) < 0.6))
    pg = parcels.geometry.to_numpy()[contracted]
    minx, miny, maxx, maxy = shapely.bounds(pg).T
    midx = (minx + maxx) / 2
    west = shapely.intersection(pg, shapely.box(minx - 1, miny - 1, midx, maxy + 1))
    east = shapely.intersection(pg, shapely.box(midx, miny - 1, maxx + 1, maxy + 1))
    plot_geoms = np.concatenate([west, east])
    plot_owner = rng.choice(hh_ids, len(plot_geoms))
    plots = gpd.GeoDataFrame({"plot_id": [f"P{i + 1:06d}" for i in range(len(plot_geoms))],
                              "contractor_id": plot_owner}, geometry=plot_geoms, crs=CRS)
    plots = plots[~plots.is_empty & (plots.area > 1)].explode(index_parts=False).reset_index(drop=True)
    plots["plot_id"] = [f"P{i + 1:06d}" for i in range(len(plots))]
    plots["contract_area_m2"] = np.round(plots.area, 1)
    plotted_parcel = np.zeros(len(parcels), dtype=bool)
    plotted_parcel[contracted] = True

    use = np.where(rng.random(n) < 0.97, "住宅", "residential")
    houses = gpd.GeoDataFrame({
        "id": ids, "household_id": household,
        "built_on": [d.isoformat() if d is not None else None for d in built_on],
        "builder_type": rng.choice(["farmer", "farmer", "farmer", "non_farmer", "collective"], n),
        "use": use, "floors": rng.integers(1, 4, n),
    }, geometry=geoms, crs=CRS)

    truth = _truth(category, is_new, conflict, on_pbf, shapely.area(geoms), household, households,
                   plotted_parcel, viol_parcel, n_legal, ids)
    out_dir.mkdir(parents=True, exist_ok=True)
    admin = gpd.GeoDataFrame(pd.concat([towns, villages[["XZQDM", "XZQMC", "geometry"]]], ignore_index=True),
                             crs=CRS)
    layers = {"townships": admin, "dltb": parcels.drop(columns=["d_core"]), "farmland": farmland,
              "houses": houses, "baseline": baseline, "approvals": approvals, "plots": plots}
    gpkg = out_dir / "county.gpkg"
    if gpkg.exists():
        gpkg.unlink()
    for name, frame in layers.items():
        frame = frame.set_geometry(shapely.set_precision(frame.geometry.to_numpy(), GRID_M))
        frame.to_parquet(out_dir / f"{name}.parquet", compression="zstd")
        if write_gpkg:
            frame.to_file(gpkg, layer=name, driver="GPKG")
    households.to_csv(out_dir / "households.csv", index=False)
    truth.to_csv(out_dir / "truth.csv", index=False)
    # Two imagery passes (a generator of their own, so the layers above stay as they were).
    unused = np.setdiff1d(np.arange(len(all_viol_xy)), vpick)
    eligible = (category == "inc") & ~conflict & ~pd.isna(houses["built_on"]).to_numpy()
    story_area = towns.loc[towns["XZQDM"] == DEMO_TOWNSHIP[:9]].geometry.iloc[0]
    for name, frame in _imagery(np.random.default_rng(seed + 1), houses, eligible, story_area,
                                all_viol_xy[unused]).items():
        if isinstance(frame, gpd.GeoDataFrame):
            frame = frame.set_geometry(shapely.set_precision(frame.geometry.to_numpy(), GRID_M))
            frame.to_parquet(out_dir / f"{name}.parquet", compression="zstd")
        else:
            frame.to_csv(out_dir / f"{name}.csv", index=False)
    return {"townships": len(towns), "villages": len(villages), "dltb": len(parcels),
            "farmland": len(farmland), "houses": n, "violations": int(truth["violation"].sum())}


def _imagery(rng: np.random.Generator, houses: gpd.GeoDataFrame, eligible: np.ndarray, story_area: shapely.Geometry,
             free_xy: np.ndarray) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """Two imagery passes of the county's buildings, and what happened between them.

    `epoch_a`: every house as surveyed. `epoch_b`: five increment houses of the story township demolished
    (gone), one more whose demolition will be *recorded* but which still stands (a sham demolition), two houses
    grown by a wing, and four new buildings on cultivated land near the villages. `demo_story.csv` names the
    houses of each role, for `redline demo` to record the demolitions before the later pass.
    """
    geoms = houses.geometry.to_numpy()
    ids = houses["id"].to_numpy()
    increments = np.flatnonzero(eligible & shapely.within(geoms, story_area))
    picked = rng.choice(increments, min(8, len(increments)), replace=False)  # a small county may have fewer
    demolished, sham, grown = picked[:5], picked[5:6], picked[6:8]
    keep = np.ones(len(geoms), dtype=bool)
    keep[demolished] = False
    b_geoms = geoms.copy()
    _minx, miny, maxx, _maxy = shapely.bounds(geoms[grown]).T
    b_geoms[grown] = shapely.union(geoms[grown], shapely.box(maxx, miny, maxx + 8, miny + 7))
    new_xy = free_xy[rng.choice(len(free_xy), min(4, len(free_xy)), replace=False)]
    new_geoms = shapely.box(new_xy[:, 0] - 5, new_xy[:, 1] - 6, new_xy[:, 0] + 5, new_xy[:, 1] + 6)
    epoch_a = gpd.GeoDataFrame({"BSM": [f"EA{i}" for i in ids]}, geometry=geoms, crs=houses.crs)
    new_ids = [f"EN{i + 1}" for i in range(len(new_geoms))]
    epoch_b = gpd.GeoDataFrame({"BSM": [*(f"EB{i}" for i in ids[keep]), *new_ids]},
                               geometry=np.concatenate([b_geoms[keep], new_geoms]), crs=houses.crs)
    story = pd.DataFrame({"house_id": ids[np.concatenate([demolished, sham, grown])],
                          "role": ["demolished"] * len(demolished) + ["sham"] * len(sham) + ["grown"] * len(grown)})
    return {"epoch_a": epoch_a, "epoch_b": epoch_b, "demo_story": story}


def _truth(category: np.ndarray, is_new: np.ndarray, conflict: np.ndarray, on_pbf: np.ndarray,
           area: np.ndarray, household: np.ndarray, households: pd.DataFrame, plotted_parcel: np.ndarray,
           viol_parcel: np.ndarray, n_legal: int, ids: np.ndarray) -> pd.DataFrame:
    """What each house is, by construction: period, violation, disposition, 八不准 codes."""
    n = len(category)
    period = np.where(is_new, "after_cutoff", "before_cutoff").astype(object)
    period[category == "ext"] = "extended_after_cutoff"
    violation = ~np.isin(category, ["legal", "legalised"])
    disposition = np.full(n, "none", dtype=object)
    disposition[violation] = np.where(np.isin(category[violation], ["stock"]), "classify", "demolish")
    pbf = np.zeros(n, dtype=bool)
    pbf[n_legal:] = on_pbf
    plotted = np.zeros(n, dtype=bool)
    plotted[n_legal:] = plotted_parcel[viol_parcel]
    counts = pd.Series(household).value_counts()
    elsewhere = households.set_index("household_id")["homesteads_elsewhere"]
    others = pd.Series(household).map(counts).to_numpy() - 1 + pd.Series(household).map(elsewhere).to_numpy()
    rules = []
    for i in range(n):
        codes = []
        if violation[i] and pbf[i]:
            codes.append(1)
        if violation[i] and area[i] > 130.0:
            codes.append(2)
        if violation[i] and plotted[i]:
            codes.append(4)
        if violation[i] and others[i] > 0:
            codes.append(6)
        if category[i] in ("inc_appr", "late_appr"):
            codes.append(8)
        rules.append(",".join(map(str, codes)))
    return pd.DataFrame({"house_id": ids, "category": category, "period": period, "violation": violation,
                         "disposition": disposition, "rules": rules, "date_conflict": conflict})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "demo")
    parser.add_argument("--houses", type=int, default=Size.houses)
    parser.add_argument("--parcels", type=int, default=Size.parcels)
    parser.add_argument("--seed", type=int, default=20200703)
    parser.add_argument("--gpkg", action="store_true", help="also write county.gpkg with every layer")
    args = parser.parse_args()
    counts = generate(args.out, Size(houses=args.houses, parcels=args.parcels), seed=args.seed,
                      write_gpkg=args.gpkg)
    print(counts)


if __name__ == "__main__":
    main()
