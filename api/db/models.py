"""The persistence model: one set of tables for SpatiaLite and PostGIS.

Geometries are stored in the county's projected CGCS2000 CRS (`REDLINE_SRID`, default EPSG:4546), so
areas computed by either database or by shapely on loaded rows are in m². Which CRS is decided at run
time: the migration makes the columns in the settings' CRS, and every session carries it
(`api.db.engine.srid_of`); the SRID declared on the columns below is only the default's. Every imported row keeps its
source's own id in `source_key`, which makes re-imports idempotent.
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import false as sa_false
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from gis.codes import DEFAULT_COUNTY_SRID, WEB_MERCATOR_SRID


def polygons() -> Geometry:
    """A MULTIPOLYGON column in the county CRS with a spatial index."""
    return Geometry("MULTIPOLYGON", srid=DEFAULT_COUNTY_SRID, spatial_index=True)


def line() -> Geometry:
    """A LINESTRING column in the county CRS with a spatial index (patrol tracks)."""
    return Geometry("LINESTRING", srid=DEFAULT_COUNTY_SRID, spatial_index=True)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A moment in time, bound to the database as UTC (TIMESTAMPTZ on PostgreSQL, text on SQLite).

    SQLite keeps a time as text, and SQLAlchemy's SQLite DateTime writes the wall-clock digits of the value it is
    handed and drops its offset. So 03:00 in Asia/Shanghai was stored as 03:00 and read back as 03:00 UTC, eight
    hours late; and a county month's bounds (`api.reports.monthly.month_bounds`, aware, Asia/Shanghai) were
    compared digit by digit with stored UTC digits, so on the embedded database every month began and ended
    eight hours late. Every aware value — stored or compared with — is turned to UTC before it is bound; a naive
    one is UTC by construction (`api.clock`) and goes as it is. PostgreSQL gets the same instant either way.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.UTC)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Read back aware, in UTC, on both databases: SQLite hands back its UTC digits naive, and a reader that
        forgot `api.clock.as_utc` compared naive with aware (a TypeError) or wrote the time without its offset."""
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base of all Redline tables."""


class Imported:
    """Columns every imported layer has: its own id in the source, and the planar area."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    #: The source's other fields as JSON (UTF-8 text, Chinese kept as is): nothing read is lost.
    attrs: Mapped[str | None] = mapped_column(Text)


class AdminArea(Base, Imported):
    """A township (乡镇) or village (行政村) with its administrative code (12 digits)."""

    __tablename__ = "admin_areas"
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))  # township | village
    township_code: Mapped[str] = mapped_column(String(12), index=True)
    area_m2: Mapped[float] = mapped_column(Float)
    geom = mapped_column(polygons(), nullable=False)


class Farmland(Base, Imported):
    """A permanent basic farmland polygon (永久基本农田图斑, YJJBNTTB)."""

    __tablename__ = "farmland"
    bsm: Mapped[str | None] = mapped_column(String(40))
    dlbm: Mapped[str | None] = mapped_column(String(10))
    zldwdm: Mapped[str | None] = mapped_column(String(19))
    tbmj: Mapped[float | None] = mapped_column(Float)  # official, ellipsoidal (m²)
    jbntmj: Mapped[float | None] = mapped_column(Float)  # official farmland area (JBNTMJ / YJJBNTMJ)
    area_m2: Mapped[float] = mapped_column(Float)  # planar, in the county CRS
    geom = mapped_column(polygons(), nullable=False)


class LandParcel(Base, Imported):
    """A 三调 land-survey parcel (DLTB) with its land-class code."""

    __tablename__ = "land_parcels"
    bsm: Mapped[str | None] = mapped_column(String(40))
    tbbh: Mapped[str | None] = mapped_column(String(20))
    dlbm: Mapped[str] = mapped_column(String(10), index=True)
    dlmc: Mapped[str | None] = mapped_column(String(60))
    qsdwdm: Mapped[str | None] = mapped_column(String(19))
    qsdwmc: Mapped[str | None] = mapped_column(String(100))
    zldwdm: Mapped[str | None] = mapped_column(String(19), index=True)
    zldwmc: Mapped[str | None] = mapped_column(String(100))
    tbmj: Mapped[float | None] = mapped_column(Float)
    kcdlbm: Mapped[str | None] = mapped_column(String(10))
    kcxs: Mapped[float | None] = mapped_column(Float)
    kcmj: Mapped[float | None] = mapped_column(Float)
    tbdlmj: Mapped[float | None] = mapped_column(Float)
    gdlx: Mapped[str | None] = mapped_column(String(4))
    gdpdjb: Mapped[str | None] = mapped_column(String(4))
    area_m2: Mapped[float] = mapped_column(Float)
    geom = mapped_column(polygons(), nullable=False)


class Household(Base, Imported):
    """A rural household (户), the unit of one-household-one-homestead."""

    __tablename__ = "households"
    head_name: Mapped[str | None] = mapped_column(String(60))
    village_code: Mapped[str | None] = mapped_column(String(12), index=True)
    members: Mapped[int | None] = mapped_column(Integer)
    homesteads_elsewhere: Mapped[int] = mapped_column(Integer, default=0)


class House(Base, Imported):
    """A house footprint, from imagery or survey, with what is declared about it."""

    __tablename__ = "houses"
    household_key: Mapped[str | None] = mapped_column(String(64), index=True)
    built_on: Mapped[dt.date | None] = mapped_column(Date)
    builder_type: Mapped[str | None] = mapped_column(String(20))  # farmer | non_farmer | collective | enterprise
    use: Mapped[str | None] = mapped_column(String(40))
    floors: Mapped[int | None] = mapped_column(Integer)
    township_code: Mapped[str | None] = mapped_column(String(12), index=True)
    village_code: Mapped[str | None] = mapped_column(String(12), index=True)
    area_m2: Mapped[float] = mapped_column(Float)
    #: When a survey (a houses import) last showed this house. A house missing from a later survey keeps its
    #: row, so only this — not the latest import of any file — is evidence that a demolished house still stands;
    #: importing a file already imported is no new survey and leaves it.
    surveyed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    geom = mapped_column(polygons(), nullable=False)


class BaselineFootprint(Base, Imported):
    """A footprint as seen on imagery at the cutoff (2020-07): what existed then is stock."""

    __tablename__ = "baseline_footprints"
    imaged_on: Mapped[dt.date | None] = mapped_column(Date)
    area_m2: Mapped[float] = mapped_column(Float)
    geom = mapped_column(polygons(), nullable=False)


class Epoch(Base):
    """One imagery pass (影像期次): the date it was imaged and the footprint layer digitised from it."""

    __tablename__ = "epochs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    imaged_on: Mapped[dt.date] = mapped_column(Date, unique=True)
    source: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class EpochFootprint(Base):
    """A building footprint on one epoch's imagery (its own id in the source kept, per epoch)."""

    __tablename__ = "epoch_footprints"
    __table_args__ = (UniqueConstraint("epoch_id", "source_key", name="uq_epoch_footprints_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch_id: Mapped[int] = mapped_column(ForeignKey("epochs.id"), index=True)
    source_key: Mapped[str] = mapped_column(String(64))
    attrs: Mapped[str | None] = mapped_column(Text)
    area_m2: Mapped[float] = mapped_column(Float)
    geom = mapped_column(polygons(), nullable=False)


class Approval(Base, Imported):
    """An approval: homestead (宅基地审批), land conversion (农转用) or planning permit."""

    __tablename__ = "approvals"
    kind: Mapped[str] = mapped_column(String(20))  # homestead | land_conversion | planning
    body: Mapped[str | None] = mapped_column(String(100))
    approved_on: Mapped[dt.date | None] = mapped_column(Date)
    approved_area_m2: Mapped[float | None] = mapped_column(Float)
    household_key: Mapped[str | None] = mapped_column(String(64), index=True)
    area_m2: Mapped[float] = mapped_column(Float)
    geom = mapped_column(polygons(), nullable=False)


class ContractedPlot(Base, Imported):
    """A contracted plot of cultivated land (承包地)."""

    __tablename__ = "contracted_plots"
    contractor_key: Mapped[str | None] = mapped_column(String(64), index=True)
    contract_area_m2: Mapped[float | None] = mapped_column(Float)
    area_m2: Mapped[float] = mapped_column(Float)
    geom = mapped_column(polygons(), nullable=False)


class User(Base):
    """A person who uses Redline, with one role and (for township roles) one township."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))  # inspector | township_officer | county_reviewer | admin
    township_code: Mapped[str | None] = mapped_column(String(12))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), server_default=func.now())


class ImportRun(Base):
    """One import of one source: what was read, stored, repaired and dropped."""

    __tablename__ = "import_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    rows_read: Mapped[int] = mapped_column(Integer)
    inserted: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    repaired: Mapped[int] = mapped_column(Integer)
    dropped: Mapped[int] = mapped_column(Integer)
    report: Mapped[str] = mapped_column(Text)
    finished_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), server_default=func.now())


class FarmlandTotal(Base):
    """Permanent farmland area per township as it stood after one import (of farmland or of boundaries).

    The monthly report states each township's farmland "as of" the month; re-imports later must not
    rewrite a month already reported, so every import leaves its totals here.
    """

    __tablename__ = "farmland_totals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id"), index=True)
    township_code: Mapped[str] = mapped_column(String(12))
    area_m2: Mapped[float] = mapped_column(Float)
    as_of: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)


#: SQL of a case's centroid in Web Mercator (x, y), the same in PostGIS and SpatiaLite.
CASE_MAP_X = f"ST_X(ST_Transform(ST_Centroid(geom), {WEB_MERCATOR_SRID}))"
CASE_MAP_Y = f"ST_Y(ST_Transform(ST_Centroid(geom), {WEB_MERCATOR_SRID}))"


class Case(Base):
    """A violation queued for enforcement: one per violating house (or per imported lead)."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    origin: Mapped[str] = mapped_column(String(10), default="scan")  # scan | lead
    lead_code: Mapped[str | None] = mapped_column(String(40))  # e.g. 130403SJBG26210183
    batch: Mapped[str | None] = mapped_column(String(40))  # monitoring batch of a lead
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    studied_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    #: The county's last return (退回): the finish and report clocks run again from here.
    returned_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    #: 立案: the county's formal filing, with its number (not the scan that created the case).
    file_number: Mapped[str | None] = mapped_column(String(50))
    filed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    #: A change of period asked for (request_period) and awaiting the county, with its reason and evidence.
    requested_period: Mapped[str | None] = mapped_column(String(24))
    period_request: Mapped[str | None] = mapped_column(Text)
    #: The case this one continues (a stock house that grew after its case closed: the new part's case).
    parent_case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: The house this case is a new part of (a wing an imagery pass found): never that house's own case, which the
    #: survey's house of a building found before the survey otherwise becomes (`api.ingest.scan`).
    part_of_house_id: Mapped[int | None] = mapped_column(Integer)
    last_report_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    verdict: Mapped[str | None] = mapped_column(String(10))  # illegal | uncertain | legal
    legal_reason: Mapped[str | None] = mapped_column(String(20))
    decision: Mapped[str | None] = mapped_column(String(12))  # stock: demolish | confiscate | fine_keep | legalise
    field_rules: Mapped[str] = mapped_column(String(10), default="")  # 八不准 3, 5, 7 found on site
    remaining_m2: Mapped[float] = mapped_column(Float, default=0.0)  # 剩余未整改面积
    occupied_m2: Mapped[float] = mapped_column(Float, default=0.0)  # on farmland or unapproved cultivated land
    resume_status: Mapped[str | None] = mapped_column(String(20))  # where a returned case goes back to
    #: The highest level above the county (city, province) that passed the case since the county closed it.
    upper_review: Mapped[str | None] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer, default=1)
    house_id: Mapped[int | None] = mapped_column(ForeignKey("houses.id"), unique=True)
    township_code: Mapped[str | None] = mapped_column(String(12), index=True)
    village_code: Mapped[str | None] = mapped_column(String(12), index=True)
    #: The farmland grid cell (网格) the house lies in, where the county has a grid (its chiefs answer for it).
    grid_code: Mapped[str | None] = mapped_column(String(20), index=True)
    footprint_m2: Mapped[float] = mapped_column(Float)
    farmland_m2: Mapped[float] = mapped_column(Float)
    cultivated_m2: Mapped[float] = mapped_column(Float)  # all of it, whatever the paperwork says
    unapproved_cultivated_m2: Mapped[float | None] = mapped_column(Float)  # what no lawful approval covers
    after_cutoff_m2: Mapped[float | None] = mapped_column(Float)
    farmland_after_cutoff_m2: Mapped[float | None] = mapped_column(Float)
    unapproved_after_cutoff_m2: Mapped[float | None] = mapped_column(Float)
    period: Mapped[str] = mapped_column(String(24), index=True)
    disposition: Mapped[str] = mapped_column(String(12), index=True)
    rules: Mapped[str] = mapped_column(String(20))
    date_conflict: Mapped[bool] = mapped_column(Boolean, default=False)
    #: An approval granted after this stock house was built (补办): no legalisation by itself, no 8.
    retro_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    still_violating: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    scanned_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    geom = mapped_column(polygons(), nullable=False)
    # The footprint's centroid in Web Mercator metres, kept by the database from `geom` (migration 0011): on
    # PostgreSQL the map's count tiles group cases by these stored numbers instead of transforming every case's
    # geometry per request. SQLite can add only virtual columns (computed on every mention), so there the
    # count tiles transform each centroid once themselves. Deferred: nothing else reads them.
    map_x: Mapped[float | None] = mapped_column(Float, Computed(CASE_MAP_X), deferred=True)
    map_y: Mapped[float | None] = mapped_column(Float, Computed(CASE_MAP_Y), deferred=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (optimistic locking: stale writes refused)


class CaseLead(Base):
    """A further satellite lead (卫片图斑) a case answers: the same building flagged again by a later monitoring batch
    (the first is `Case.lead_code`). Each lead is answered with its case, so one building keeps one case."""

    __tablename__ = "case_leads"
    lead_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    batch: Mapped[str | None] = mapped_column(String(40))
    attached_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class ChainedEvent:
    """The columns of every hash-chained audit event: who did what, when, before → after (JSON), and the link.

    `hash` = SHA-256 over the previous event's hash and this event's canonical content, so editing or
    deleting any event breaks every later link (`redline audit verify`).
    """

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(30))
    before: Mapped[str] = mapped_column(Text)  # JSON
    after: Mapped[str] = mapped_column(Text)  # JSON
    note: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class CaseEvent(Base, ChainedEvent):
    """One append-only audit event of a case (the case chain)."""

    __tablename__ = "case_events"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)


class AuditHead(Base):
    """The newest link of the audit chain: a deleted last event is detectable, and appends serialise here."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class Comment(Base):
    """A comment on a case."""

    __tablename__ = "case_comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    text: Mapped[str] = mapped_column(Text)


class ProgressReport(Base):
    """A staged progress report (阶段性进展报告) on a case not finished within 3 days."""

    __tablename__ = "progress_reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    text: Mapped[str] = mapped_column(Text)
    remaining_m2: Mapped[float | None] = mapped_column(Float)


class ClientRequest(Base):
    """A submission on a case that carried the client's own UUID (the field app's queue, the desk's forms).

    The field app sends a queued item again whenever an answer did not reach the phone; the first send may
    have been applied all the same. The key, written in the submission's own transaction, makes the resend
    an answer instead of a second report, a second comment or a step refused because it was already taken.
    `fingerprint` (SHA-256 of what was asked) tells a resend from a reuse of the key for something else.
    """

    __tablename__ = "client_requests"
    client_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # transition | progress_report | comment
    fingerprint: Mapped[str] = mapped_column(String(64))
    #: The report or comment the submission filed (a transition answers with the case as it now stands).
    record_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class ApiToken(Base):
    """A bearer token (only its SHA-256 is stored)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class Photo(Base):
    """A photo attached to a case as evidence; the original file lives in content-addressed storage."""

    __tablename__ = "photos"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # panorama | closeup | detail | after_demolition
    media_type: Mapped[str] = mapped_column(String(20))
    size_bytes: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    bearing_deg: Mapped[float | None] = mapped_column(Float)
    altitude_m: Mapped[float | None] = mapped_column(Float)
    bearing_ref: Mapped[str | None] = mapped_column(String(2))
    bearing_source: Mapped[str | None] = mapped_column(String(20))
    time_source: Mapped[str | None] = mapped_column(String(24))
    browser_lat: Mapped[float | None] = mapped_column(Float)  # the phone's own geolocation at capture
    browser_lon: Mapped[float | None] = mapped_column(Float)
    browser_heading: Mapped[float | None] = mapped_column(Float)
    phash: Mapped[str | None] = mapped_column(String(16))  # 64-bit dHash, hex
    checks: Mapped[str | None] = mapped_column(Text)  # JSON list of evidence flags (empty: passed)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    # When the picture was decoded (thumbnail, difference hash, near-duplicate check): just after the upload
    # was answered (`api.evidence.pixels`); NULL until then. A PDF is never decoded and takes its upload time.
    pixels_checked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class ExportJob(Base):
    """A monthly export running in the background (survives a page reload: the client polls by id)."""

    __tablename__ = "export_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    township_code: Mapped[str | None] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(10))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    out_dir: Mapped[str | None] = mapped_column(Text)


class Grid(Base, Imported):
    """A farmland grid cell (网格): the patch a grid patroller (网格员) answers for."""

    __tablename__ = "grids"
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    village_code: Mapped[str | None] = mapped_column(String(12), index=True)
    township_code: Mapped[str | None] = mapped_column(String(12), index=True)
    area_m2: Mapped[float] = mapped_column(Float)
    geom = mapped_column(polygons(), nullable=False)


class Chief(Base):
    """A field chief (田长): a user answerable for an area at one level — the county, a township, a village or
    a grid cell. A new chief of the same area and level ends the previous one (`ended_at`)."""

    __tablename__ = "chiefs"
    __table_args__ = (Index("ix_chiefs_area", "level", "area_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    level: Mapped[str] = mapped_column(String(10))
    area_code: Mapped[str] = mapped_column(String(20))
    assigned_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    assigned_by: Mapped[str] = mapped_column(String(60))
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class Patrol(Base):
    """A patrol (巡田): who walked, when, the GPS fixes as sent (JSON) and the track they make."""

    __tablename__ = "patrols"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    ended_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    points: Mapped[str] = mapped_column(Text)
    length_m: Mapped[float] = mapped_column(Float)
    township_code: Mapped[str | None] = mapped_column(String(12), index=True)
    uploaded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    geom = mapped_column(line(), nullable=False)


class PatrolGrid(Base):
    """A grid cell a patrol covered, and how much of its track ran inside it (m)."""

    __tablename__ = "patrol_grids"
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), primary_key=True)
    inside_m: Mapped[float] = mapped_column(Float)


class AbandonedRecord(Base):
    """Abandoned cultivated land (抛荒/撂荒) on a parcel: what was seen, and its remedy (`stewardship.workflow`)."""

    __tablename__ = "abandoned_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    origin: Mapped[str] = mapped_column(String(10))  # patrol | survey | desk
    source_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    parcel_id: Mapped[int | None] = mapped_column(ForeignKey("land_parcels.id"))
    dlbm: Mapped[str | None] = mapped_column(String(10))
    area_m2: Mapped[float] = mapped_column(Float)
    contractor_key: Mapped[str | None] = mapped_column(String(64))
    cause: Mapped[str] = mapped_column(String(20))
    seen_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    remedy: Mapped[str | None] = mapped_column(String(20))
    remedy_detail: Mapped[str | None] = mapped_column(Text)
    remedy_deadline: Mapped[dt.date | None] = mapped_column(Date)
    remedy_decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    township_code: Mapped[str | None] = mapped_column(String(12), index=True)
    village_code: Mapped[str | None] = mapped_column(String(12), index=True)
    grid_code: Mapped[str | None] = mapped_column(String(20), index=True)
    created_by: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    geom = mapped_column(polygons(), nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (optimistic locking)


class Finding(Base):
    """What a patroller found on the way: its kind, where, and what it became (a case, an abandoned-land
    record, or nothing to open)."""

    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    patrol_id: Mapped[int | None] = mapped_column(ForeignKey("patrols.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    township_code: Mapped[str | None] = mapped_column(String(12), index=True)
    village_code: Mapped[str | None] = mapped_column(String(12))
    grid_code: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))
    #: Indexed: every workflow decision on a case asks for its unhandled findings (`CaseState.unchecked_growth`).
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    abandoned_id: Mapped[int | None] = mapped_column(ForeignKey("abandoned_records.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    #: A finding left to a person (`TO_HANDLE`) is listed until someone handles it: when, who, what was done.
    handled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    handled_by: Mapped[str | None] = mapped_column(String(60))
    handled_note: Mapped[str | None] = mapped_column(Text)


class FindingEvent(Base, ChainedEvent):
    """A finding's handling and each reopening by the county, hash-chained like case events (its own chain:
    `audit_head` 3): the word that takes a finding off every list is kept, in order, under its author's name."""

    __tablename__ = "finding_events"
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), index=True)


class LandPhoto(Base):
    """A photo of land (an abandoned parcel, a patrol finding) — stored like case photos, by SHA-256."""

    __tablename__ = "land_photos"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    abandoned_id: Mapped[int | None] = mapped_column(ForeignKey("abandoned_records.id"), index=True)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("findings.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # the same-file check at each upload
    kind: Mapped[str] = mapped_column(String(20))
    media_type: Mapped[str] = mapped_column(String(20))
    size_bytes: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    bearing_deg: Mapped[float | None] = mapped_column(Float)
    checks: Mapped[str | None] = mapped_column(Text)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    phash: Mapped[str | None] = mapped_column(String(16))  # 64-bit dHash, hex: the near-duplicate check


class LandEvent(Base, ChainedEvent):
    """One step of an abandoned-land record, hash-chained like case events (its own chain: `audit_head` 2)."""

    __tablename__ = "land_events"
    record_id: Mapped[int] = mapped_column(ForeignKey("abandoned_records.id"), index=True)
