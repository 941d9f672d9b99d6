"""`redline check`: file in → file out, on real and demo data, every output format, clear errors."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import DEMO, shared_path

runner = CliRunner()
LIECHTENSTEIN = ("vector", "osm_liechtenstein", "DERIVED_liechtenstein_2013_landuse_buildings.gpkg")


def split_liechtenstein(tmp_path: Path) -> tuple[Path, Path]:
    """The two layers as separate files, as deliveries come (buildings keyed by their OSM way id)."""
    src = shared_path(*LIECHTENSTEIN)
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
    assert result.exit_code == 1
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
    assert bad.exit_code == 1 and "not an ISO date" in bad.output
    fmt = runner.invoke(app, ["check", "--farmland", str(farmland), "--houses", str(houses),
                              "--out", str(tmp_path / "r.xlsx"), "--crs", "EPSG:2056"])
    assert fmt.exit_code == 1 and "unknown output format" in fmt.output
    missing = runner.invoke(app, ["check", "--farmland", str(tmp_path / "nope.gpkg"), "--houses", str(houses),
                                  "--out", str(tmp_path / "r.gpkg")])
    assert missing.exit_code == 1 and "nope.gpkg" in missing.output


def test_partition_then_check_on_a_local_dask_cluster(tmp_path: Path):
    pytest.importorskip("dask_geopandas")
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
        "--plots", str(DEMO / "plots.parquet"), "--out", str(out), "--workers", "2"])
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
    assert refused.exit_code == 1 and "--workers or --cluster" in refused.output
    result = runner.invoke(app, [*args, "--workers", "2"])
    assert result.exit_code == 0, result.output
    parts = gpd.read_parquet(folder)
    assert len(list(folder.glob("part.*.parquet"))) == 6 and (tmp_path / "dask_parts_plot_areas.csv").exists()
    again = frame.set_index("house_id").loc[parts["house_id"]]
    for col in ("disposition", "rules", "period", "farmland_m2"):
        assert (parts[col].to_numpy() == again[col].to_numpy()).all(), col
