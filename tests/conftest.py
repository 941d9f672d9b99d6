"""Shared fixtures: real SpatiaLite and PostGIS databases, migrated once and copied per test.

Each database test gets a fresh database: a copy of a migrated SpatiaLite file, or a PostGIS database
created from a migrated template. PostGIS tests are skipped when REDLINE_TEST_POSTGIS_URL is unset — and
fail instead when REDLINE_REQUIRE_POSTGIS=1 (CI), so CI cannot pass without them.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")

from api.db.engine import make_engine, make_sessionmaker
from api.db.migrate import upgrade
from gis.codes import DEFAULT_COUNTY_SRID

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
DEMO = ROOT / "data" / "demo"
ARTIFACTS = ROOT / "test-artifacts"
BACKENDS = ["spatialite", "postgis"]


@dataclass
class Database:
    """A fresh, migrated database for one test."""

    backend: str
    url: str
    engine: Engine
    factory: sessionmaker[Session]


def fixture_path(*parts: str) -> Path:
    """A file of tests/fixtures (real sample data, see its MANIFEST); a missing one is a failure, never a skip."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"test fixture missing: {path} (every fixture lives in the repository)")
    return path


def _postgis_url() -> str | None:
    url = os.environ.get("REDLINE_TEST_POSTGIS_URL")
    if not url:
        if os.environ.get("REDLINE_REQUIRE_POSTGIS") == "1":
            pytest.fail("REDLINE_REQUIRE_POSTGIS=1 but REDLINE_TEST_POSTGIS_URL is not set")
        pytest.skip("PostGIS not configured (REDLINE_TEST_POSTGIS_URL)")
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SpatiaLite file (SpatiaLite's metadata init is slow: done once per session)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine, srid=DEFAULT_COUNTY_SRID)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgis_template(worker_id: str) -> Iterator[str]:
    """A migrated PostGIS template database, one per xdist worker."""
    url = make_url(_postgis_url())
    name = f"redline_tmpl_{worker_id}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(url.set(database=name))
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    upgrade(engine, srid=DEFAULT_COUNTY_SRID)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fresh_postgis(template: str) -> tuple[str, str]:
    url = make_url(os.environ["REDLINE_TEST_POSTGIS_URL"])
    name = f"redline_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return name, url.set(database=name).render_as_string(hide_password=False)


def _drop_postgis(name: str) -> None:
    admin = create_engine(make_url(os.environ["REDLINE_TEST_POSTGIS_URL"]), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """The address of one local Dask cluster (two worker processes, one thread each) for every test that needs
    *a* cluster: each start costs 10–50 s on a loaded two-core machine, and the suite needed six. Tests using
    it are marked `xdist_group("dask")` so one xdist worker runs them all (scripts/test.sh: --dist loadgroup).
    The paths that start a cluster of their own (`redline check --workers`, a worker killed mid-run) still do.
    """
    pytest.importorskip("dask_geopandas")
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh migrated database on each backend (the test runs once per backend)."""
    if request.param == "spatialite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "redline.sqlite"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        yield Database("spatialite", url, engine, make_sessionmaker(engine, srid=DEFAULT_COUNTY_SRID))
        engine.dispose()
        return
    _postgis_url()
    template_name: str = request.getfixturevalue("postgis_template")
    name, url = _fresh_postgis(template_name)
    engine = make_engine(url)
    try:
        yield Database("postgis", url, engine, make_sessionmaker(engine, srid=DEFAULT_COUNTY_SRID))
    finally:
        engine.dispose()
        _drop_postgis(name)


# --- CI refuses skipped tests ------------------------------------------------------------------------------
# A skipped test is a test that did not run: on a fresh CI machine every dependency is installed, so a skip
# means a missing install step or fixture. In CI (CI=true) the run fails on any skip whose reason does not
# match a line of tests/skips_allowed.txt (one regular expression per line, '#' comments).
ALLOWED_SKIPS = ROOT / "tests" / "skips_allowed.txt"
_skips: list[tuple[str, str]] = []


def _allowed_skip_patterns() -> list[re.Pattern[str]]:
    lines = ALLOWED_SKIPS.read_text(encoding="utf-8").splitlines() if ALLOWED_SKIPS.exists() else []
    return [re.compile(line.strip()) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skips.append((report.nodeid, reason))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput") or os.environ.get("CI") != "true":
        return  # the controller (or a plain run) judges; outside CI a skip is only reported
    patterns = _allowed_skip_patterns()
    refused = [(node, reason) for node, reason in _skips if not any(p.search(reason) for p in patterns)]
    if refused:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for node, reason in refused:
            line = f"CI refuses a skipped test: {node}: {reason}"
            if reporter is not None:
                reporter.write_line(line, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
