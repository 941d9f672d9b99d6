"""Database engines for both targets: embedded SQLite + SpatiaLite, and PostGIS.

The pyenv CPython here cannot load SQLite extensions, so SQLite goes through `pysqlite3` (a build that
can) and GeoAlchemy2 loads `mod_spatialite` on every new connection.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from api.db import DEFAULT_WRITE_WAIT_S
from api.errors import DatabaseBusy
from gis.errors import RedlineInputError

_SPATIALITE_LOAD = threading.Lock()
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WritersTurn:
    """A first-come, first-served turn: `release` hands it straight to the longest waiter.

    `threading.Lock` is not fair: a thread arriving just as the turn is given back takes it before the woken
    waiter runs, and under fifty writers some waited seconds behind later arrivals (upload p95 1.5 s at field
    pace). Here a waiter has an event of its own, set by the writer before it.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._guard:
            if not self._held:
                self._held = True
                return True
            mine = threading.Event()
            self._waiters.append(mine)
        if mine.wait(timeout):
            return True
        with self._guard:
            if mine.is_set():  # handed over just as the wait ran out
                return True
            self._waiters.remove(mine)
            return False

    def release(self) -> None:
        with self._guard:
            if self._waiters:
                self._waiters.popleft().set()  # the turn passes on without ever being free
            else:
                self._held = False


_TURNS: dict[str, WritersTurn] = {}  # one writers' queue per database file in this process


def _sqlite_module() -> Any:
    """The SQLite DB-API module that can load extensions."""
    try:
        import pysqlite3.dbapi2 as sqlite  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - a Python built with extension loading works too
        import sqlite3 as sqlite
    return sqlite


def is_sqlite(engine_or_url: Engine | str) -> bool:
    """Tell whether an engine or URL is the embedded SQLite/SpatiaLite backend."""
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def make_engine(url: str, *, write_wait_s: float = DEFAULT_WRITE_WAIT_S, **kwargs: Any) -> Engine:
    """Create an engine for `url`; for SQLite, create the file's folder, load SpatiaLite and queue this
    process's writers (`_queue_writers`), each waiting at most `write_wait_s` seconds for its turn."""
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True, **kwargs)
    # pyproj's own PROJ in the process before mod_spatialite brings the system's: SQLite loads an extension with
    # RTLD_GLOBAL, so a PROJ loaded after it bound its C++ globals to the system copy, both libraries destroyed
    # them at exit, and every process that had used both ended in a double free (exit 134/139) after its work.
    import pyproj  # noqa: F401
    from geoalchemy2 import load_spatialite

    os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, module=_sqlite_module(), connect_args={"timeout": write_wait_s},
                           **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Loading mod_spatialite initialises GEOS/PROJ state it shares between connections: two
        # connections opened at once by concurrent requests must not do it at the same time. A new file's
        # spatial metadata (some 6 000 reference systems) is written in one transaction: row by row it took
        # 7 s of `redline db upgrade`, nearly all of it waiting on the disk, and it is all-or-nothing either way.
        with _SPATIALITE_LOAD:
            load_spatialite(dbapi_conn, transaction=True)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    with _SPATIALITE_LOAD:
        turn = _TURNS.setdefault(str(Path(database).resolve()) if database and database != ":memory:" else
                                 f"memory:{id(engine)}", WritersTurn())
    _queue_writers(engine, turn, write_wait_s)
    return engine


def _queue_writers(engine: Engine, turn: WritersTurn, wait_s: float) -> None:
    """One write transaction at a time per process, handed over in turn rather than fought for in SQLite.

    SQLite lets one writer in at a time and makes the others poll: its busy handler sleeps up to 100 ms
    between tries, so a waiter can keep missing its chance. One of fifty concurrent writers on a loaded
    machine got "database is locked", answered as a plain-text 500. Here a connection takes its database
    file's turn (`turn`, first come first served, shared by every engine on that file in this process) at its
    first INSERT, UPDATE or DELETE, where pysqlite begins the transaction, and gives it back at commit or
    rollback (or when the connection returns to the pool without either). A write that does not get its turn
    within `wait_s` fails with `DatabaseBusy` (HTTP 503, retry later) having written nothing. Another process
    (the CLI beside the server) is still met by SQLite's busy timeout, which is the same `wait_s`.
    """
    @event.listens_for(engine, "before_cursor_execute")
    def _take_turn(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        info = conn.connection.info
        if info.get("writing") or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        if not turn.acquire(timeout=wait_s):
            raise DatabaseBusy(wait_s)
        info["writing"] = True

    def _give_turn(info: dict[str, Any]) -> None:
        if info.pop("writing", False):
            turn.release()

    # Given back as the transaction ends (SQLAlchemy's "commit" and "rollback" fire just before the driver's):
    # the next writer, woken, meets SQLite's lock for the instant the commit takes and waits for it in SQLite's
    # busy handler (milliseconds). Holding the turn until the connection is back in the pool kept the
    # session's after-commit work, under fifty threads' contention for the GIL, inside everyone's wait.
    # pysqlite begins a transaction at its first write, so no writer ever holds a stale read snapshot.
    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _ended(conn: Any) -> None:
        _give_turn(conn.connection.info)

    @event.listens_for(engine.pool, "checkin")
    @event.listens_for(engine.pool, "close")
    def _returned(_dbapi_connection: Any, connection_record: Any) -> None:
        _give_turn(connection_record.info)

    @event.listens_for(engine.pool, "invalidate")
    @event.listens_for(engine.pool, "soft_invalidate")
    def _invalidated(_dbapi_connection: Any, connection_record: Any, _exception: Any) -> None:
        _give_turn(connection_record.info)


def open_database(url: str, srid: int, *, write_wait_s: float = DEFAULT_WRITE_WAIT_S) -> sessionmaker[Session]:
    """The session factory of the database at `url` whose geometries are in EPSG:`srid` (checked against
    the database when its schema exists)."""
    engine = make_engine(url, write_wait_s=write_wait_s)
    check_srid(engine, srid)
    return make_sessionmaker(engine, srid=srid)


def make_sessionmaker(engine: Engine, *, srid: int) -> sessionmaker[Session]:
    """A session factory whose sessions know the county CRS their geometries are in (`srid_of`); services
    own the transaction (`with factory.begin()`)."""
    return sessionmaker(engine, expire_on_commit=False, info={"srid": int(srid)})


def srid_of(session: Session | sessionmaker[Session]) -> int:
    """The county CRS (EPSG code) of a session's, or a session factory's, geometries."""
    info = session.info if isinstance(session, Session) else session.kw.get("info", {})
    return int(info["srid"])


def stored_srid(engine: Engine) -> int | None:
    """The CRS the database's geometry columns were made in (None before the schema exists)."""
    with engine.connect() as connection:
        try:
            srid = connection.execute(text("SELECT srid FROM geometry_columns WHERE f_table_name = 'houses'")).scalar()
        except DBAPIError:  # no spatial metadata yet: a database never migrated
            return None
    return None if srid is None else int(srid)


def check_srid(engine: Engine, srid: int) -> None:
    """Refuse settings whose county CRS differs from the one the database was made in: geometries would be
    read and written in the wrong CRS (areas, distances and positions all wrong)."""
    stored = stored_srid(engine)
    if stored is not None and int(stored) != int(srid):
        raise RedlineInputError(f"the database stores geometries in EPSG:{stored}, the settings say "
                                f"EPSG:{srid}: set REDLINE_SRID={stored} (or use a new database)", field="srid")
