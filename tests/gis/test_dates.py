"""The day a house was built decides zero tolerance (2020-07-03 on): every way a county's files write a date is
read to the county's calendar day, and a value that is not a day is refused by its row, never guessed.

Before `gis.dates`, pandas' guessing let houses on the cutoff day out of zero tolerance: 20200703 as a number
was read as 1970-01-01, '2020-07-03T00:00:00+08:00' as 2020-07-02 (UTC's day), '2020' as 2020-01-01, and a
column mixing '2020/7/3' and '2020-07-03' was refused as a whole.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from gis.dates import DateError, parse_days
from gis.engine import CheckInputs, check
from gis.errors import RedlineInputError
from gis.rules import RuleSet
from tests.gis.test_engine import frame, houses, one, sq

CUTOFF_DAY = np.datetime64("2020-07-03")


@pytest.mark.parametrize("value", [
    "2020-07-03", "2020-7-3", "2020/7/3", "2020/07/03", "2020.7.3", "2020年7月3日", "2020 年 7 月 3 日", "20200703",
    " 2020-07-03 ", 20200703, 20200703.0, np.int64(20200703), "2020-07-03T00:00:00+08:00", "2020-07-02T16:00:00Z",
    "2020-07-02T20:00:00+00:00", "2020-07-03 09:30", "2020-07-03T09:30:00", dt.date(2020, 7, 3),
    dt.datetime(2020, 7, 3, 8, 0), dt.datetime(2020, 7, 2, 16, 0, tzinfo=dt.UTC), pd.Timestamp("2020-07-03"),
])
def test_every_way_of_writing_the_cutoff_day_is_the_cutoff_day(value: object):
    assert parse_days(pd.Series([value], dtype=object))[0] == CUTOFF_DAY
    assert parse_days(pd.Series([None, value], dtype=object))[1] == CUTOFF_DAY


@pytest.mark.parametrize("column", [
    pd.Series([20200703, 20190101]),  # int64: a DBF or spreadsheet number field
    pd.Series([20200703.0, np.nan]),  # float64 with a gap
    pd.Series(["2020/7/3", "2020-07-03", "20200703", ""]),  # one column, several hands
    pd.Series(["2020-07-03", None], dtype="string"),
    pd.Series(pd.to_datetime(["2020-07-02T16:00:00Z"])),  # a timestamp type with its zone: the county's day
    pd.Series(pd.to_datetime(["2020-07-03"])),
])
def test_a_column_of_each_kind_reads_the_cutoff_day_first(column: pd.Series):
    days = parse_days(column)
    assert days[0] == CUTOFF_DAY and len(days) == len(column)
    assert all(np.isnat(d) for d, v in zip(days, column, strict=True) if pd.isna(v) or v == "")


@pytest.mark.parametrize(("value", "why"), [
    ("2020", "a year or a month is not a day"), (2020, "a year or a month is not a day"),
    ("2020-07", "a year or a month is not a day"), ("2020年7月", "a year or a month is not a day"),
    (202007, "a year or a month is not a day"), (43000, "not YYYYMMDD"), (1593705600, "not YYYYMMDD"),
    ("2020-02-30", "no such day"), (20200230, "no such day"), ("soon", "not a date"), (True, "yes/no"),
])
def test_what_is_not_a_day_is_refused_by_its_position(value: object, why: str):
    with pytest.raises(DateError, match=why) as refused:
        parse_days(pd.Series(["2019-01-01", value], dtype=object))
    assert refused.value.position == 1
    with pytest.raises(DateError, match=why):
        parse_days(pd.Series([value]))  # the same alone, in a column of its own type


def test_a_house_dated_the_cutoff_day_as_a_number_is_zero_tolerance():
    """Checked with its date as the files give it: each house on farmland is demolished, never stock."""
    farmland = frame([sq(0, 0, 400)])
    written = [20200703, "2020-07-03T00:00:00+08:00", "2020-07-02T16:00:00Z", "2020/7/3"]
    h = houses(*(sq(10 + 20 * i, 10, 10) for i in range(len(written))), built_on=pd.Series(written, dtype=object))
    result = check(CheckInputs(h, farmland), RuleSet())
    for i in range(len(written)):
        house = one(result, f"H{i + 1}")
        assert house.period == "after_cutoff" and house.disposition == "demolish", (written[i], house)
    numbers = houses(sq(10, 10, 10), sq(30, 10, 10), built_on=[20200703, 20200702])
    r = check(CheckInputs(numbers, farmland), RuleSet())
    assert one(r, "H1").disposition == "demolish" and one(r, "H2").period == "before_cutoff"


def test_a_year_alone_is_refused_by_its_input_row():
    """'2020' straddles the cutoff: the check names the row and field instead of guessing 2020-01-01 (stock)."""
    h = houses(sq(10, 10, 10), sq(30, 10, 10), sq(50, 10, 10), built_on=["2019-05-01", None, "2020"])
    h.insert(0, "_row", [7, 8, 9])
    with pytest.raises(RedlineInputError, match="a year or a month is not a day") as refused:
        check(CheckInputs(h, frame([sq(0, 0, 400)])), RuleSet())
    assert refused.value.row == 9 and refused.value.field == "built_on"


def test_the_cli_reads_a_shapefiles_number_dates(tmp_path: Path):
    """A DBF number field JZSJ = 20200703 through `redline check`: a case to demolish, not 1970 stock."""
    from typer.testing import CliRunner

    from api.cli import app

    gpd.GeoDataFrame({"house_id": ["H1", "H2"], "JZSJ": [20200703, 20190101]},
                     geometry=[sq(10, 10, 10), sq(30, 10, 10)], crs=4546).to_file(tmp_path / "h.shp")
    frame([sq(0, 0, 400)]).to_file(tmp_path / "f.gpkg")
    out = tmp_path / "r.csv"
    run = CliRunner().invoke(app, ["check", "--houses", str(tmp_path / "h.shp"), "--farmland", str(tmp_path / "f.gpkg"),
                                   "--out", str(out)])
    assert run.exit_code == 0, run.output
    result = pd.read_csv(out).set_index("house_id")
    assert result.loc["H1", "disposition"] == "demolish" and result.loc["H2", "period"] == "before_cutoff"
