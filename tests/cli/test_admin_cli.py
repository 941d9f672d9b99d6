"""`redline user add`, `redline audit verify`, `redline import leads` against a real SpatiaLite file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.audit import append_event
from api.cli import app
from api.database import make_engine, make_sessionmaker
from api.settings import get_settings

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
    assert dup.exit_code != 0
    bad = runner.invoke(app, ["user", "add", "li", "--role", "inspector"])
    assert bad.exit_code == 1 and "belongs to a township" in bad.output


def test_audit_verify_names_the_broken_link(database: str):
    engine = make_engine(database)
    factory = make_sessionmaker(engine)
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
    with factory.begin() as s:
        s.execute(text("UPDATE case_events SET after = '{\"i\": 9}' WHERE id = 2"))
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1 and "event 2" in broken.output
    engine.dispose()
