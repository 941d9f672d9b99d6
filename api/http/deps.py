"""FastAPI dependencies: a database session per request, the session factory for writes, settings.

The dependencies that only read the application's state are `async`: FastAPI runs a plain `def` dependency
on its thread pool, one hop (and a wait for a free thread under load) per dependency per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session, sessionmaker

from api.mapview.snapshots import MapData
from api.settings import Settings


def get_session(request: Request) -> Iterator[Session]:
    """A session for this request; read-only routes need no transaction of their own."""
    with request.app.state.sessionmaker() as session:
        yield session


async def get_factory(request: Request) -> sessionmaker[Session]:
    """The session factory: write services open their own transaction with it (`factory.begin()`)."""
    return request.app.state.sessionmaker  # type: ignore[no-any-return]


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_map_data(request: Request) -> MapData:
    return request.app.state.map_data  # type: ignore[no-any-return]


SessionDep = Annotated[Session, Depends(get_session)]
FactoryDep = Annotated[sessionmaker[Session], Depends(get_factory)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
MapDataDep = Annotated[MapData, Depends(get_map_data)]
#: A row id as the database can hold it (ids are 32-bit INTEGER columns on PostgreSQL): a larger number is a
#: 422, not an overflow in the driver (a 500). Found by the Schemathesis run.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
