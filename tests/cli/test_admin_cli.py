"""`redline user add`, `redline audit verify`, `redline import leads` against a real SpatiaLite file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.cases.audit import append_event
from api.cli import app
from api.clock import as_utc
from api.db.engine import make_engine, make_sessionmaker
from api.settings import get_settings
from gis.codes import DEFAULT_COUNTY_SRID
from tests.conftest import DEMO

runner = CliRunner()


@pytest.fixture
def database(sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "cli.sqlite"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("REDLINE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_user_add_and_refusals(database: str):
    ok = runner.invoke(app, ["user", "add", "wang", "--role", "inspector", "--township", "431021101000"])
    assert ok.exit_code == 0 and "password:" in ok.output
    dup = runner.invoke(app, ["user", "add", "wang", "--role", "admin", "--password", "long-enough-pw"])
    # One line naming the field, exit 2: no traceback, and nothing of the new password or its hash.
    assert dup.exit_code == 2 and "exists already" in dup.output and "field username" in dup.output
    assert "Traceback" not in dup.output and "argon2" not in dup.output and "long-enough-pw" not in dup.output
    assert len(dup.output.strip().splitlines()) == 1
    bad = runner.invoke(app, ["user", "add", "li", "--role", "inspector"])
    assert bad.exit_code == 2 and "belongs to a township" in bad.output


@pytest.mark.parametrize("code", ["43102110100", "4310211010001", "431021101abc", "431021101001", "../../etc"])
def test_user_add_refuses_a_malformed_township_code(database: str, code: str):
    result = runner.invoke(app, ["user", "add", "li", "--role", "inspector", "--township", code])
    assert result.exit_code == 2 and "not a township code" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_user_add_refuses_a_township_the_county_does_not_have(database: str):
    from api.ingest.layers import import_layer
    from tests.conftest import DEMO

    factory = make_sessionmaker(make_engine(database), srid=DEFAULT_COUNTY_SRID)
    import_layer(factory, "townships", DEMO / "townships.parquet")
    unknown = runner.invoke(app, ["user", "add", "li", "--role", "inspector", "--township", "431021199000"])
    assert unknown.exit_code == 2 and "no township 431021199000" in unknown.output
    known = runner.invoke(app, ["user", "add", "li", "--role", "inspector", "--township", "431021101000"])
    assert known.exit_code == 0, known.output


def test_an_unexpected_failure_is_one_line_without_its_text(database: str, monkeypatch: pytest.MonkeyPatch):
    import api.accounts.users

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("INSERT ... password_hash='$argon2id$v=19$secret'")

    monkeypatch.setattr(api.accounts.users, "create_user", broken)
    result = runner.invoke(app, ["user", "add", "li", "--role", "admin", "--password", "long-enough-pw"])
    assert result.exit_code == 1 and "internal error (RuntimeError)" in result.output
    assert "argon2" not in result.output and "Traceback" not in result.output


def test_audit_verify_names_the_broken_link(database: str):
    engine = make_engine(database)
    factory = make_sessionmaker(engine, srid=DEFAULT_COUNTY_SRID)
    with factory.begin() as s:
        s.execute(text("INSERT INTO users (id, username, role, password_hash, active, created_at) "
                       "VALUES (1, 'x', 'admin', 'h', 1, '2026-01-01')"))
        s.execute(text("INSERT INTO cases (id, code, footprint_m2, farmland_m2, cultivated_m2, period, disposition, "
                       "rules, date_conflict, status, still_violating, created_at, scanned_at, origin, field_rules, "
                       "remaining_m2, version, geom) VALUES (1, 'C1', 1, 1, 0, 'unknown', 'verify', '1', 0, 'new', "
                       "1, '2026-01-01', '2026-01-01', 'scan', '', 1, 1, "
                       "GeomFromText('MULTIPOLYGON(((0 0,1 0,1 1,0 0)))', 4546))"))
        for i in range(3):
            append_event(s, case_id=1, actor="x", action=f"a{i}", before={}, after={"i": i})
    intact = runner.invoke(app, ["audit", "verify"])
    assert intact.exit_code == 0 and "3 events" in intact.output
    assert "land audit chain intact" in intact.output and "finding audit chain intact" in intact.output
    with factory.begin() as s:
        s.execute(text("UPDATE case_events SET after = '{\"i\": 9}' WHERE id = 2"))
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1 and "event 2" in broken.output
    engine.dispose()


def test_user_add_loads_neither_the_web_framework_nor_geopandas(database: str):
    """A simple command stays light: `redline user add` imports what it needs inside the command, and nothing
    of the HTTP edge or the geometry stack (checked in a fresh interpreter, as a user runs it)."""
    import json
    import os
    import subprocess
    import sys

    script = ("import json, sys\nfrom api.cli import app\n"
              "try:\n    app(['user', 'add', 'light', '--role', 'admin', '--password', 'long-enough-pw'])\n"
              "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
              "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('fastapi', 'starlette', 'geopandas', 'pandas', 'folium', 'uvicorn', 'pyogrio'))))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "REDLINE_DATABASE_URL": database})
    assert done.returncode == 0, done.stderr
    assert "user light (admin) created" in done.stdout
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_epochs_and_compare_on_the_command_line(database: str, tmp_path: Path):
    import geopandas as gpd

    houses = gpd.read_parquet(DEMO / "houses.parquet").head(20)
    houses[["geometry"]].assign(BSM=[f"F{i}" for i in range(20)]).to_file(tmp_path / "e1.gpkg")
    houses.head(15)[["geometry"]].assign(BSM=[f"F{i}" for i in range(15)]).to_file(tmp_path / "e2.gpkg")
    missing = runner.invoke(app, ["import", "epoch", str(tmp_path / "e1.gpkg")])
    assert missing.exit_code == 2 and "--imaged-on" in missing.output
    bad = runner.invoke(app, ["import", "epoch", str(tmp_path / "e1.gpkg"), "--imaged-on", "2026-13-01"])
    assert bad.exit_code == 2 and "not an ISO date" in bad.output
    early = runner.invoke(app, ["compare"])
    assert early.exit_code == 2 and "two imported epochs" in early.output
    for name, day in (("e1.gpkg", "2025-03-01"), ("e2.gpkg", "2025-09-01")):
        done = runner.invoke(app, ["import", "epoch", str(tmp_path / name), "--imaged-on", day])
        assert done.exit_code == 0 and f"epoch {day}" in done.output, done.output
    compared = runner.invoke(app, ["compare", "--from", "2025-03-01", "--to", "2025-09-01"])
    assert compared.exit_code == 0, compared.output
    assert "imagery 2025-03-01 → 2025-09-01" in compared.output and "new footprints 0" in compared.output
    unknown = runner.invoke(app, ["compare", "--to", "2024-01-01"])
    assert unknown.exit_code == 2 and "no epoch imaged on 2024-01-01" in unknown.output


def test_a_houses_survey_carries_the_day_it_was_made(database: str, tmp_path: Path):
    """`redline import houses F --surveyed-on DAY`: the survey's own day; a bad or future day, or the option on
    another layer, is one line and exit 2 with nothing stored."""
    import datetime as dt

    import geopandas as gpd
    from sqlalchemy import select

    from api.db.models import House

    houses = gpd.read_parquet(DEMO / "houses.parquet").head(5)
    houses.to_file(tmp_path / "h.gpkg")
    bad = runner.invoke(app, ["import", "houses", str(tmp_path / "h.gpkg"), "--surveyed-on", "2026-13-01"])
    assert bad.exit_code == 2 and "not an ISO date" in bad.output and len(bad.output.strip().splitlines()) == 1
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    ahead = runner.invoke(app, ["import", "houses", str(tmp_path / "h.gpkg"), "--surveyed-on", future])
    assert ahead.exit_code == 2 and "in the future" in ahead.output
    other = runner.invoke(app, ["import", "epoch", str(tmp_path / "h.gpkg"), "--surveyed-on", "2026-01-05"])
    assert other.exit_code == 2 and "houses survey only" in other.output
    done = runner.invoke(app, ["import", "houses", str(tmp_path / "h.gpkg"), "--surveyed-on", "2026-01-05"])
    assert done.exit_code == 0, done.output
    factory = make_sessionmaker(make_engine(database), srid=DEFAULT_COUNTY_SRID)
    with factory() as s:
        times = set(s.execute(select(House.surveyed_at).where(House.source_key.in_(
            [str(k) for k in houses["id"]]))).scalars())
    assert {as_utc(t) for t in times} == {dt.datetime(2026, 1, 4, 16, tzinfo=dt.UTC)}  # 00:00 in Shanghai
    older = runner.invoke(app, ["import", "houses", str(tmp_path / "h.gpkg"), "--surveyed-on", "2025-12-01"])
    assert older.exit_code == 0 and "updated 0, kept 5 (a later survey holds them)" in older.output, older.output
    assert "a later survey (2026-01-05) holds this house" in older.output


def test_an_admin_resets_a_password_and_enables_a_disabled_user(database: str):
    """A forgotten password had no remedy but a new account (a new name in every history), and a disabled user
    could never be enabled again. `user password` sets a new one and logs the user out everywhere; `user enable`
    lets a disabled user in again, their chief posts still ended."""
    from api.accounts.users import authenticate, issue_token, user_of_token
    from api.errors import NotAuthenticated

    factory = make_sessionmaker(make_engine(database), srid=DEFAULT_COUNTY_SRID)
    assert runner.invoke(app, ["user", "add", "zhao", "--role", "county_reviewer", "--password", "first-password"]
                         ).exit_code == 0
    with factory.begin() as s:
        token = issue_token(s, authenticate(s, "zhao", "first-password"))
    reset = runner.invoke(app, ["user", "password", "zhao"])
    assert reset.exit_code == 0 and "1 token(s) revoked" in reset.output and "password:" in reset.output
    new = reset.output.rsplit("password: ", 1)[1].strip()
    with factory() as s:
        assert authenticate(s, "zhao", "first-password") is None and authenticate(s, "zhao", new) is not None
        with pytest.raises(NotAuthenticated):
            user_of_token(s, token)  # the session opened with the old password is over
    short = runner.invoke(app, ["user", "password", "zhao", "--password", "short"])
    assert short.exit_code == 2 and "at least 8 characters" in short.output and "short" not in short.output[:5]
    assert len(short.output.strip().splitlines()) == 1
    unknown = runner.invoke(app, ["user", "password", "nobody", "--password", "long-enough-pw"])
    assert unknown.exit_code == 2 and "no user 'nobody'" in unknown.output
    assert runner.invoke(app, ["user", "disable", "zhao"]).exit_code == 0
    with factory() as s:
        assert authenticate(s, "zhao", new) is None
    enabled = runner.invoke(app, ["user", "enable", "zhao"])
    assert enabled.exit_code == 0 and "chief assign" in enabled.output
    with factory() as s:
        assert authenticate(s, "zhao", new) is not None
    assert "已停用" not in runner.invoke(app, ["user", "list"]).output
    assert runner.invoke(app, ["user", "enable", "nobody"]).exit_code == 2
