"""Run the Alembic migrations programmatically (`redline db upgrade`), on SpatiaLite or PostGIS."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine, srid: int | None = None) -> Config:
    """An Alembic config bound to `engine`'s connection, without an ini file; `srid` is the county CRS that
    new geometry columns are made in (needed when the initial revision runs)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    cfg.attributes["srid"] = srid
    return cfg


def upgrade(engine: Engine, revision: str = "head", *, srid: int) -> None:
    """Bring the schema to `revision` (default: the newest), geometry columns in EPSG:`srid`."""
    cfg = alembic_config(engine, srid)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` ('base' drops every table)."""
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)
