"""`redline check`: file in → file out, on real and demo data, every output format, clear errors."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import DEMO, fixture_path

runner = CliRunner()
LIECHTENSTEIN = ("vector", "osm_liechtenstein", "DERIVED_liechtenstein_2013_landuse_buildings.gpkg")


def split_liechtenstein(tmp_path: Path) -> tuple[Path, Path]:
    """The two layers as separate files, as deliveries come (buildings keyed by their OSM way id)."""
    src = fixture_path(*LIECHTENSTEIN)
    houses = gpd.read_file(src, layer="buildings")
    houses = houses[houses["osm_way_id"].notna()]
    houses[["osm_way_id", "geometry"]].to_file(tmp_path / "buildings.geojson")
    gpd.read_file(src, layer="landuse_agri").to_file(tmp_path / "agri.gpkg")
    return tmp_path / "buildings.geojson", tmp_path / "agri.gpkg"


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".csv", ".parquet"])
def test_check_real_osm_every_output_format(tmp_path: Path, suffix: str):
    houses, farmland = split_liechtenstein(tmp_path)
    out = tmp_path / f"result{suffix}"
    result = runner.invoke(app, ["check", "--farmland", str(farmland), "--houses", str(houses), "--out", str(out),
                                 "--id-field", "osm_way_id", "--crs", "EPSG:2056"])
    assert result.exit_code == 0, result.output
    assert "houses checked" in result.output and "亩" in result.output
    frame = pd.read_csv(out) if suffix == ".csv" else gpd.read_parquet(out) if suffix == ".parquet" \
        else gpd.read_file(out)
    frame["house_id"] = frame["house_id"].astype(str)
    hit = frame.set_index("house_id")
    assert hit.loc["3994", "farmland_m2"] == pytest.approx(831.7, abs=0.06)
    assert int(hit["violation"].astype(str).isin(["True", "true", "1"]).sum()) == 4


def test_check_geographic_input_without_crs_option_uses_the_gk_zone(tmp_path: Path):
    # Liechtenstein is outside China's zones: the engine refuses to guess rather than measure degrees.
    houses, farmland = split_liechtenstein(tmp_path)
    result = runner.invoke(app, ["check", "--farmland", str(farmland), "--houses", str(houses),
                                 "--out", str(tmp_path / "r.gpkg"), "--id-field", "osm_way_id"])
    assert result.exit_code == 2
    assert "Gauss-Kruger" in result.output


def test_check_demo_county_with_every_layer(tmp_path: Path):
    out = tmp_path / "demo.gpkg"
    result = runner.invoke(app, [
        "check", "--farmland", str(DEMO / "farmland.parquet"), "--houses", str(DEMO / "houses.parquet"),
        "--cultivated", str(DEMO / "dltb.parquet"), "--baseline", str(DEMO / "baseline.parquet"),
        "--approvals", str(DEMO / "approvals.parquet"), "--households", str(DEMO / "households.csv"),
        "--plots", str(DEMO / "plots.parquet"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(out, layer="houses")
    truth = pd.read_csv(DEMO / "truth.csv", keep_default_na=False, dtype=str)
    merged = frame.merge(truth, on="house_id", suffixes=("", "_truth"))
    assert (merged["disposition"] == merged["disposition_truth"]).all()
    plots = gpd.read_file(out, layer="plot_areas")
    assert len(plots) > 0 and (plots["area_m2"] > 0).all()


def test_check_cutoff_option_and_bad_values(tmp_path: Path):
    houses, farmland = split_liechtenstein(tmp_path)
    bad = runner.invoke(app, ["check", "--farmland", str(farmland), "--houses", str(houses),
                              "--out", str(tmp_path / "r.gpkg"), "--cutoff", "2020-13-01"])
    assert bad.exit_code == 2 and "not an ISO date" in bad.output
    fmt = runner.invoke(app, ["check", "--farmland", str(farmland), "--houses", str(houses),
                              "--out", str(tmp_path / "r.xlsx"), "--crs", "EPSG:2056"])
    assert fmt.exit_code == 2 and "unknown output format" in fmt.output
    missing = runner.invoke(app, ["check", "--farmland", str(tmp_path / "nope.gpkg"), "--houses", str(houses),
                                  "--out", str(tmp_path / "r.gpkg")])
    assert missing.exit_code == 2 and "nope.gpkg" in missing.output


@pytest.mark.xdist_group("dask")
def test_partition_then_check_on_a_dask_cluster(tmp_path: Path, dask_scheduler: str):
    houses_dir, farmland_dir = tmp_path / "houses_parts", tmp_path / "farmland_parts"
    made = runner.invoke(app, ["partition", str(DEMO / "houses.parquet"), "--out", str(houses_dir),
                               "--partitions", "6"])
    assert made.exit_code == 0, made.output
    assert "20000 features in 6 partitions" in made.output
    runner.invoke(app, ["partition", str(DEMO / "farmland.parquet"), "--out", str(farmland_dir), "--partitions", "3"])
    out = tmp_path / "dask.parquet"
    result = runner.invoke(app, [
        "check", "--farmland", str(farmland_dir), "--houses", str(houses_dir),
        "--cultivated", str(DEMO / "dltb.parquet"), "--baseline", str(DEMO / "baseline.parquet"),
        "--approvals", str(DEMO / "approvals.parquet"), "--households", str(DEMO / "households.csv"),
        "--plots", str(DEMO / "plots.parquet"), "--out", str(out), "--cluster", dask_scheduler])
    assert result.exit_code == 0, result.output
    frame = gpd.read_parquet(out)
    truth = pd.read_csv(DEMO / "truth.csv", keep_default_na=False, dtype=str)
    merged = frame.merge(truth, on="house_id", suffixes=("", "_truth"))
    assert len(merged) == 20000
    for col in ("disposition", "rules", "period"):
        assert (merged[col] == merged[f"{col}_truth"]).all(), col
    # A folder output: the workers write the result partitions themselves; the same answer.
    folder = tmp_path / "dask_parts"
    args = ["check", "--farmland", str(farmland_dir), "--houses", str(houses_dir),
            "--cultivated", str(DEMO / "dltb.parquet"), "--baseline", str(DEMO / "baseline.parquet"),
            "--approvals", str(DEMO / "approvals.parquet"), "--households", str(DEMO / "households.csv"),
            "--plots", str(DEMO / "plots.parquet"), "--out", str(folder)]
    refused = runner.invoke(app, args)  # a folder without Dask workers to write it
    assert refused.exit_code == 2 and "--workers or --cluster" in refused.output
    result = runner.invoke(app, [*args, "--workers", "2"])  # the local cluster the command starts itself
    assert result.exit_code == 0, result.output
    parts = gpd.read_parquet(folder)
    assert len(list(folder.glob("part.*.parquet"))) == 6 and (tmp_path / "dask_parts_plot_areas.csv").exists()
    again = frame.set_index("house_id").loc[parts["house_id"]]
    for col in ("disposition", "rules", "period", "farmland_m2"):
        assert (parts[col].to_numpy() == again[col].to_numpy()).all(), col


@pytest.mark.xdist_group("dask")
def test_dask_check_with_only_the_required_layers(tmp_path: Path, dask_scheduler: str):
    """Every optional layer may be left out on the Dask path too (it crashed without --approvals)."""
    out = tmp_path / "dask.parquet"
    result = runner.invoke(app, ["check", "--farmland", str(DEMO / "farmland.parquet"),
                                 "--houses", str(DEMO / "houses.parquet"), "--out", str(out),
                                 "--cluster", dask_scheduler,
                                 "--partitions", "4"])
    assert result.exit_code == 0, result.output
    plain = tmp_path / "plain.parquet"
    single = runner.invoke(app, ["check", "--farmland", str(DEMO / "farmland.parquet"),
                                 "--houses", str(DEMO / "houses.parquet"), "--out", str(plain)])
    assert single.exit_code == 0, single.output
    dask_frame = gpd.read_parquet(out).set_index("house_id").sort_index()
    one = gpd.read_parquet(plain).set_index("house_id").sort_index()
    assert len(dask_frame) == 20000
    for col in ("farmland_m2", "disposition", "rules"):
        assert (dask_frame[col].to_numpy() == one[col].to_numpy()).all(), col


# --- The rules as the law states them, through the command a user runs -------------------------------------

def _rules_county(tmp_path: Path) -> dict[str, Path]:
    """Hand-made county (EPSG:4546, metres from 500 000 / 2 830 000): one 0101 parcel, farmland on its west
    strip, five houses whose areas can be checked on paper."""
    from shapely import box

    def sq(x: float, y: float, w: float, h: float) -> object:
        return box(500_000 + x, 2_830_000 + y, 500_000 + x + w, 2_830_000 + y + h)

    gpd.GeoDataFrame({"DLBM": ["0101"]}, geometry=[sq(0, 0, 400, 200)], crs=4546).to_file(tmp_path / "dltb.gpkg")
    gpd.GeoDataFrame({"BSM": ["F1"]}, geometry=[sq(0, 0, 30, 200)], crs=4546).to_file(tmp_path / "farmland.gpkg")
    gpd.GeoDataFrame({
        "id": ["half", "permit", "other_hh", "over", "buban"],
        "built_on": ["2019-06-01", "2019-06-01", "2019-06-01", "2019-06-01", "2018-05-01"],
        "household_id": ["HH1", "HH2", "HH3", "HH4", "HH5"],
    }, geometry=[sq(50, 10, 10, 10), sq(90, 10, 10, 10), sq(130, 10, 10, 10), sq(170, 10, 12, 10),
                 sq(210, 10, 10, 10)], crs=4546).to_file(tmp_path / "houses.gpkg")
    approvals = gpd.GeoDataFrame({
        "approval_id": ["A1", "A2", "A3", "A4", "A5"],
        "kind": ["宅基地", "乡村建设规划许可", "农用地转用", "宅基地批准书", "宅基地"],
        "approved_on": ["2019-01-01", "2019-01-01", "2019-01-01", "2019-01-01", "2023-03-01"],
        "household_id": ["HH1", "HH2", "HH9", "HH4", "HH5"],
        "approved_area_m2": [200.0, 200.0, 200.0, 80.0, 200.0],
    }, geometry=[sq(49, 9, 6, 12), sq(89, 9, 12, 12), sq(129, 9, 12, 12), sq(169, 9, 14, 14), sq(209, 9, 12, 12)],
        crs=4546)
    approvals.to_file(tmp_path / "approvals.gpkg")
    gbk = tmp_path / "gbk"
    gbk.mkdir()
    # A shapefile register uses the standard abbreviations (field names stop at ten bytes).
    approvals.rename(columns={"kind": "PZLX", "approved_on": "PZRQ", "household_id": "HHID",
                              "approved_area_m2": "PZMJ"}).to_file(gbk / "approvals.shp", encoding="gbk")
    (gbk / "approvals.cpg").unlink(missing_ok=True)  # as desktop GIS delivers them: GBK, no .cpg
    return {"dltb": tmp_path / "dltb.gpkg", "farmland": tmp_path / "farmland.gpkg",
            "houses": tmp_path / "houses.gpkg", "approvals_gpkg": tmp_path / "approvals.gpkg",
            "approvals_shp": gbk / "approvals.shp"}


@pytest.mark.parametrize("form", ["approvals_gpkg", "approvals_shp"])
def test_check_applies_approvals_by_kind_household_and_area(tmp_path: Path, form: str):
    files = _rules_county(tmp_path)
    out = tmp_path / "r.csv"
    result = runner.invoke(app, ["check", "--farmland", str(files["farmland"]), "--houses", str(files["houses"]),
                                 "--cultivated", str(files["dltb"]), "--approvals", str(files[form]),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "planning permits" in result.output  # the office is told which approvals legalised nothing
    r = pd.read_csv(out).set_index("house_id")
    assert r.loc["half", "cultivated_m2"] == pytest.approx(100.0)
    assert r.loc["half", "unapproved_cultivated_m2"] == pytest.approx(50.0)
    assert r.loc["permit", "unapproved_cultivated_m2"] == pytest.approx(100.0)  # a permit converts nothing
    assert r.loc["other_hh", "unapproved_cultivated_m2"] == pytest.approx(100.0)  # not this household's
    assert r.loc["over", "unapproved_cultivated_m2"] == pytest.approx(40.0) and r.loc["over", "rules"] == 2
    assert bool(r.loc["buban", "retro_approval"]) and r.loc["buban", "disposition"] == "classify"
    assert pd.isna(r.loc["buban", "rules"]) or str(r.loc["buban", "rules"]) == ""


@pytest.mark.xdist_group("dask")
def test_the_rules_give_the_same_answer_on_dask(tmp_path: Path, dask_scheduler: str):
    files = _rules_county(tmp_path)
    args = ["check", "--farmland", str(files["farmland"]), "--houses", str(files["houses"]), "--cultivated",
            str(files["dltb"]), "--approvals", str(files["approvals_gpkg"])]
    single = runner.invoke(app, [*args, "--out", str(tmp_path / "one.parquet")])
    dask = runner.invoke(app, [*args, "--out", str(tmp_path / "dask.parquet"), "--cluster", dask_scheduler,
                                 "--partitions", "2"])
    assert single.exit_code == 0 and dask.exit_code == 0, dask.output
    one = gpd.read_parquet(tmp_path / "one.parquet").set_index("house_id").sort_index()
    many = gpd.read_parquet(tmp_path / "dask.parquet").set_index("house_id").sort_index()
    for col in ("cultivated_m2", "unapproved_cultivated_m2", "approved_m2", "retro_approval", "rules", "disposition"):
        assert (one[col].to_numpy() == many[col].to_numpy()).all(), col


def test_geoparquet_output_carries_the_input_footprints_and_reencodes_repaired_ones(tmp_path: Path):
    """A GeoParquet result reuses the input's WKB bytes for footprints kept as read; a repaired footprint is
    written as repaired, never as the invalid bytes it came in as; the file reads back with its CRS."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely
    from shapely import Polygon, box

    x0, y0 = 500_000.0, 2_830_000.0
    bowtie = Polygon([(x0 + 100, y0), (x0 + 110, y0 + 10), (x0 + 110, y0), (x0 + 100, y0 + 10)])
    houses = gpd.GeoDataFrame({"id": ["a", "b", "bowtie"]},
                              geometry=[box(x0, y0, x0 + 10, y0 + 10), box(x0 + 50, y0, x0 + 62, y0 + 9), bowtie],
                              crs=4546)
    houses.to_parquet(tmp_path / "houses.parquet")
    # Big-endian WKB, as some writers produce: valid GeoParquet, but not the bytes shapely would write again,
    # so the result shows whether the bytes were carried or re-encoded.
    table = pq.read_table(tmp_path / "houses.parquet")
    big_endian = pa.array(shapely.to_wkb(houses.geometry.to_numpy(), byte_order=0), type=pa.binary())
    pq.write_table(table.set_column(table.schema.get_field_index("geometry"), "geometry", big_endian),
                   tmp_path / "houses.parquet")
    gpd.GeoDataFrame({"BSM": ["F1"]}, geometry=[box(x0 - 5, y0 - 5, x0 + 5, y0 + 20)],
                     crs=4546).to_parquet(tmp_path / "farmland.parquet")
    out = tmp_path / "result.parquet"
    result = runner.invoke(app, ["check", "--farmland", str(tmp_path / "farmland.parquet"),
                                 "--houses", str(tmp_path / "houses.parquet"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "repaired" in result.output
    given = dict(zip(["a", "b", "bowtie"], pq.read_table(tmp_path / "houses.parquet").column("geometry").to_pylist(),
                     strict=True))
    written = pq.read_table(out)
    wkb = dict(zip(written.column("house_id").to_pylist(), written.column("geometry").to_pylist(), strict=True))
    assert wkb["a"] == given["a"] and wkb["b"] == given["b"] and given["a"][0] == 0  # the very bytes read
    assert wkb["bowtie"] != given["bowtie"] and shapely.is_valid(shapely.from_wkb(wkb["bowtie"]))
    back = gpd.read_parquet(out).set_index("house_id")
    assert back.crs.to_epsg() == 4546
    assert back.loc["a", "farmland_m2"] == pytest.approx(50.0) and back.loc["b", "farmland_m2"] == 0.0
    assert back.loc["bowtie", "footprint_m2"] == pytest.approx(50.0)  # two 25 m² triangles


def test_a_footprint_that_is_no_polygon_is_refused_naming_its_row(tmp_path: Path):
    """GeoParquet houses are read into rings without GEOS (`gis.footprints`), and GeoArrow would read a ring
    whose last vertex is not its first; GEOS refuses it, and so does `redline check`: one line naming the file and
    the row, exit 2, no output file — never an area guessed from an open ring."""
    import struct

    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely
    from shapely import box

    x0, y0 = 500_000.0, 2_830_000.0
    houses = gpd.GeoDataFrame({"id": ["a", "open", "c"]},
                              geometry=[box(x0, y0, x0 + 10, y0 + 10)] * 3, crs=4546)
    houses.to_parquet(tmp_path / "houses.parquet")
    open_ring = struct.pack("<BIII", 1, 3, 1, 4) + struct.pack("<8d", x0, y0, x0 + 10, y0, x0 + 10, y0 + 10, x0,
                                                              y0 + 10)
    table = pq.read_table(tmp_path / "houses.parquet")
    wkb = pa.array([shapely.to_wkb(houses.geometry[0]), open_ring, shapely.to_wkb(houses.geometry[2])],
                   type=pa.binary())
    pq.write_table(table.set_column(table.schema.get_field_index("geometry"), "geometry", wkb),
                   tmp_path / "houses.parquet")
    gpd.GeoDataFrame(geometry=[box(x0 - 5, y0 - 5, x0 + 50, y0 + 50)], crs=4546).to_parquet(tmp_path / "farm.parquet")
    out = tmp_path / "result.parquet"
    result = runner.invoke(app, ["check", "--farmland", str(tmp_path / "farm.parquet"),
                                 "--houses", str(tmp_path / "houses.parquet"), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "houses.parquet, row 2, field geometry" in result.output and "Traceback" not in result.output
    assert not out.exists()
