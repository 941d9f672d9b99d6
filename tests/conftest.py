"""Shared fixtures: real SpatiaLite and PostGIS databases, migrated once and copied per test.

Each database test gets a fresh database: a copy of a migrated SpatiaLite file, or a PostGIS database
created from a migrated template. PostGIS tests are skipped when REDLINE_TEST_POSTGIS_URL is unset — and
fail instead when REDLINE_REQUIRE_POSTGIS=1 (CI), so CI cannot pass without them.
"""

from __future__ import annotations

import os
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

from api.database import make_engine, make_sessionmaker
from api.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
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


def shared_path(*parts: str) -> Path:
    """A file of ../shared/data; skips (or fails in CI) when the shared folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared data missing in CI: {path}")
        pytest.skip(f"shared data not present: {path}")
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
    upgrade(engine)
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
    upgrade(engine)
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


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh migrated database on each backend (the test runs once per backend)."""
    if request.param == "spatialite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "redline.sqlite"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        yield Database("spatialite", url, engine, make_sessionmaker(engine))
        engine.dispose()
        return
    _postgis_url()
    template_name: str = request.getfixturevalue("postgis_template")
    name, url = _fresh_postgis(template_name)
    engine = make_engine(url)
    try:
        yield Database("postgis", url, engine, make_sessionmaker(engine))
    finally:
        engine.dispose()
        _drop_postgis(name)
