"""Settings, read from the environment (prefix REDLINE_) and an optional `.env` file."""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.cases.deadlines import DeadlinePolicy
from api.db import DEFAULT_WRITE_WAIT_S
from gis.codes import DEFAULT_COUNTY_SRID
from gis.rules import CUTOFF, RuleSet

if TYPE_CHECKING:  # these load GEOS and PROJ: read only where a photo is checked or epochs compared
    from gis.compare import CompareRules
    from gis.coverage import CoverageRules
    from gis.evidence import EvidencePolicy


class Settings(BaseSettings):
    """Everything a deployment may change; the defaults run the embedded demo on one machine."""

    model_config = SettingsConfigDict(env_prefix="REDLINE_", env_file=".env", extra="ignore")

    #: SQLAlchemy URL. Empty: a SpatiaLite file under `var_dir`. PostGIS: postgresql+psycopg://...
    database_url: str = ""
    var_dir: Path = Path("var")
    #: Embedded database only: how long a write waits for its turn (s) before the request is answered 503
    #: ("busy, nothing saved, retry") — behind this process's other writers, or another process's.
    write_wait_s: float = Field(default=DEFAULT_WRITE_WAIT_S, gt=0, le=600)
    #: The county's projected CGCS2000 CRS: every stored geometry and every area is in it.
    srid: int = DEFAULT_COUNTY_SRID
    cutoff: dt.date = CUTOFF
    min_area_m2: float = Field(default=1.0, ge=0)
    homestead_standard_m2: float = Field(default=130.0, gt=0)
    #: The county's "137" deadlines (days).
    study_days: int = Field(default=1, ge=1)
    finish_days: int = Field(default=3, ge=1)
    report_every_days: int = Field(default=7, ge=1)
    #: Township scoreboard (通报): commend a township with at least `commend_min_due` deadlines due in the
    #: month, no new increment, no overdue case and an on-time rate at or above `commend_on_time_rate`;
    #: criticise `criticise_new_increments` new increments or more, `criticise_overdue` overdue cases or
    #: more, or (over `commend_min_due` deadlines) an on-time rate below `criticise_below`.
    commend_on_time_rate: float = Field(default=0.9, ge=0, le=1)
    commend_min_due: int = Field(default=5, ge=1)
    criticise_below: float = Field(default=0.6, ge=0, le=1)
    criticise_overdue: int = Field(default=5, ge=1)
    criticise_new_increments: int = Field(default=1, ge=1)
    #: Evidence checks of field photos (metres, degrees).
    evidence_max_distance_m: float = Field(default=30.0, gt=0)
    evidence_field_of_view_deg: float = Field(default=60.0, gt=0, le=360)
    evidence_view_range_m: float = Field(default=100.0, gt=0)
    evidence_max_browser_gap_m: float = Field(default=50.0, gt=0)
    #: Imagery comparison: a footprint and a house match when their overlap is at least this share of the
    #: smaller of the two (`gis.compare`); changes below `min_area_m2` are digitising noise.
    compare_match_share: float = Field(default=0.5, gt=0, le=1)
    #: How far apart two passes may digitise the same wall (m): thinner differences are not growth or loss.
    compare_tolerance_m: float = Field(default=1.0, ge=0, le=10)
    #: 田长制: patrols each level owes per month (grid patroller weekly, village chief twice a month, township
    #: chief monthly; the county chief leads by inspection, not by a monthly quota), how much of a track must
    #: run inside a grid cell for it to count as patrolled (m), and the side of generated grid cells (m).
    patrols_per_month_grid: int = Field(default=4, ge=0)
    patrols_per_month_village: int = Field(default=2, ge=0)
    patrols_per_month_township: int = Field(default=1, ge=0)
    patrols_per_month_county: int = Field(default=0, ge=0)
    patrol_min_inside_m: float = Field(default=50.0, ge=0)
    grid_cell_m: float = Field(default=500.0, gt=0)
    #: Abandoned land: days a remedy has by default (replant within a season; a transfer or a managed service
    #: takes a contract first).
    remedy_days_replant: int = Field(default=60, ge=1)
    remedy_days_transfer: int = Field(default=90, ge=1)
    remedy_days_managed: int = Field(default=90, ge=1)
    #: The review map draws vector tiles read from the database (`api.mapview.tiles`) once the county has more
    #: cases than this (0: always); below it, in-memory snapshots (`api.mapview.snapshots`), which cost about
    #: 0.5 KB per feature per server process and two seconds per 100 000 features to build.
    map_tiles_above: int = Field(default=200_000, ge=0)
    #: Largest photo upload accepted (bytes).
    photo_max_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    host: str = "127.0.0.1"
    port: int = 8000
    #: Basemap tile URL template for the maps; empty means no basemap (works offline).
    tile_url: str = ""
    tile_attribution: str = ""

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the embedded SpatiaLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'redline.sqlite').resolve()}"

    @property
    def photo_dir(self) -> Path:
        """Content-addressed store of original photos."""
        return self.var_dir / "photos"

    @property
    def evidence_policy(self) -> EvidencePolicy:
        """The photo evidence thresholds these settings describe."""
        from gis.evidence import EvidencePolicy

        return EvidencePolicy(max_distance_m=self.evidence_max_distance_m,
                              field_of_view_deg=self.evidence_field_of_view_deg,
                              view_range_m=self.evidence_view_range_m,
                              max_browser_gap_m=self.evidence_max_browser_gap_m)

    @property
    def patrol_duty(self) -> dict[str, int]:
        """Patrols owed per month, by chief level."""
        return {"county": self.patrols_per_month_county, "township": self.patrols_per_month_township,
                "village": self.patrols_per_month_village, "grid": self.patrols_per_month_grid}

    @property
    def remedy_days(self) -> dict[str, int]:
        """Default days to carry out each remedy of abandoned land."""
        return {"replant": self.remedy_days_replant, "transfer": self.remedy_days_transfer,
                "managed": self.remedy_days_managed}

    @property
    def coverage_rules(self) -> CoverageRules:
        """The patrol coverage and grid generation thresholds."""
        from gis.coverage import CoverageRules

        return CoverageRules(min_inside_m=self.patrol_min_inside_m, cell_m=self.grid_cell_m)

    @property
    def deadline_policy(self) -> DeadlinePolicy:
        """The 137 policy these settings describe."""
        return DeadlinePolicy(self.study_days, self.finish_days, self.report_every_days)

    @property
    def compare_rules(self) -> CompareRules:
        """The imagery comparison's thresholds."""
        from gis.compare import CompareRules

        return CompareRules(match_share=self.compare_match_share, min_area_m2=self.min_area_m2,
                            tolerance_m=self.compare_tolerance_m)

    @property
    def rules(self) -> RuleSet:
        """The rule set these settings describe."""
        return RuleSet(cutoff=self.cutoff, min_area_m2=self.min_area_m2,
                       homestead_standard_m2=self.homestead_standard_m2)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache after changing the environment)."""
    os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
    return Settings()
