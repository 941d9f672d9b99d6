"""Shared fixtures: real SpatiaLite and PostGIS databases, migrated once and copied per test.

Each database test gets a fresh database: a copy of a migrated SpatiaLite file, or a PostGIS database
created from a migrated template. PostGIS tests are skipped when REDLINE_TEST_POSTGIS_URL is unset — and
fail instead when REDLINE_REQUIRE_POSTGIS=1 (CI), so CI cannot pass without them.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
# The county's clock, as its servers and its officials' browsers keep it (the live server and Chromium inherit it):
# on a UTC machine a naive UTC time read as local time is right by accident, so a time written without its offset,
# or a naive stored time turned to the county's day as if local, passed every test and was eight hours off in the
# county (a chief's appointment, a patrol's start). Set before anything reads the clock.
os.environ.setdefault("TZ", "Asia/Shanghai")

from api.db.engine import is_sqlite, make_engine, make_sessionmaker
from api.db.migrate import upgrade
from gis.codes import DEFAULT_COUNTY_SRID

time.tzset()  # this process too (the environment above reaches the processes it starts)

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


def _create_postgis(name: str, template: str) -> None:
    admin = create_engine(make_url(os.environ["REDLINE_TEST_POSTGIS_URL"]), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()


def _fresh_postgis(template: str, prefix: str = "redline_t_") -> tuple[str, str]:
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    _create_postgis(name, template)
    url = make_url(os.environ["REDLINE_TEST_POSTGIS_URL"])
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
    `redline check --workers` still starts a cluster of its own; the test that kills a worker mid-run kills
    one of this cluster's (its nanny starts a new one).
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


# --- Built databases, made once and copied per test --------------------------------------------------------
# A scanned county with its users takes 5–25 s to build on a loaded two-core machine (imports, the scan, one
# argon2 hash per user); some 200 tests start from one of a few such counties. Each is built once per session
# and xdist worker and copied into the test's own fresh database: a file copy for SpatiaLite, CREATE DATABASE
# ... TEMPLATE for PostGIS. Every test still gets a database of its own.
Build = Callable[[Database, Path], Any]


@dataclass(frozen=True)
class _Built:
    source: str  # the SpatiaLite file, or the PostGIS database name
    facts: Any   # what the build returned (codes, coordinates) for the fixture to hand on
    folder: Path  # the files the build wrote (layer files it imported), copied to each test's tmp_path


@pytest.fixture(scope="session")
def built_databases(worker_id: str) -> Iterator[dict[tuple[str, str], _Built]]:
    """The session's built databases by (backend, name); the PostGIS ones are dropped at the end."""
    built: dict[tuple[str, str], _Built] = {}
    yield built
    for (backend, _name), entry in built.items():
        if backend == "postgis":
            _drop_postgis(entry.source)


def _sqlite_file(url: str) -> Path:
    database = make_url(url).database
    assert database, url
    return Path(database)


def _settled(engine: Engine) -> None:
    """Close every connection; a SpatiaLite file then holds everything (SQLite folds the WAL back in when the
    last connection closes), so a plain copy of it is a whole database."""
    engine.dispose()
    if is_sqlite(engine):
        path = _sqlite_file(str(engine.url))
        wal = path.with_name(path.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0, f"{wal} still holds writes after every connection closed"


def import_demo_layers(db: Database, _folder: Path) -> None:
    """A build (`from_built`): the demo county's layers imported, not scanned."""
    from api.cli import DEMO_LAYERS
    from api.ingest.layers import import_layer

    for kind, name in DEMO_LAYERS:
        import_layer(db.factory, kind, DEMO / name)


def from_built(request: pytest.FixtureRequest, db: Database, name: str, build: Build) -> Any:
    """Make the test's fresh database `db` a copy of the database `build` makes from an empty migrated one
    (built at most once per session and worker, under `name`), copy the files the build wrote in its folder
    to the test's tmp_path (as if the test had built it there), and return what `build` returned."""
    cache: dict[tuple[str, str], _Built] = request.getfixturevalue("built_databases")
    key = (db.backend, name)
    if key not in cache:
        folder = request.getfixturevalue("tmp_path_factory").mktemp(f"built-{name}-{db.backend}")
        if db.backend == "spatialite":
            template: Path = request.getfixturevalue("sqlite_template")
            path = request.getfixturevalue("tmp_path_factory").mktemp(f"built-{name}-db") / "built.sqlite"
            shutil.copy(template, path)
            source, url = str(path), f"sqlite:///{path}"
        else:
            source, url = _fresh_postgis(request.getfixturevalue("postgis_template"), prefix="redline_b_")
        engine = make_engine(url)
        try:
            facts = build(Database(db.backend, url, engine, make_sessionmaker(engine, srid=DEFAULT_COUNTY_SRID)),
                          folder)
        finally:
            _settled(engine)
        cache[key] = _Built(source, facts, folder)
    built = cache[key]
    shutil.copytree(built.folder, request.getfixturevalue("tmp_path"), dirs_exist_ok=True)
    _settled(db.engine)
    if db.backend == "spatialite":
        target = _sqlite_file(db.url)
        for leftover in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copy(built.source, target)
    else:
        database = make_url(db.url).database
        assert database
        _drop_postgis(database)
        _create_postgis(database, built.source)
    return built.facts


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
