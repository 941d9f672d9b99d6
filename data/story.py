"""The demo county's imagery story, told once by `redline demo` so the imagery features are visible.

Two months ago the county was surveyed and scanned (the demo's scan is dated then on a fresh database); the
imagery of a month before that is the first epoch. Six increment cases of the story township are worked to a
recorded demolition about six weeks ago — five of the houses really went, one still stands (a sham demolition).
Ten days ago a new pass was flown (the second epoch, `data/demo/epoch_b.parquet`): comparing it confirms five
demolitions, reopens the sham one, and opens cases for two grown houses and four new buildings on cultivated
land. `data/demo/demo_story.csv` names the houses of each part (written by `data/generate.py`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.cases.deadlines import COUNTY_TZ
from api.cases.service import transition
from api.db.models import Case, Epoch, User
from api.ingest.epochs import import_epoch
from api.ingest.imagery import ImageryReport, compare_epochs
from api.settings import Settings

DEMO_DIR = Path(__file__).resolve().parent / "demo"
#: When each part happened, counted back from the day the demo is loaded.
SURVEY_AGO = dt.timedelta(days=60)
FIRST_PASS_AGO = dt.timedelta(days=90)
WORK_AGO = dt.timedelta(days=50)
SECOND_PASS_AGO = dt.timedelta(days=10)
#: The steps from a new increment case to a recorded demolition: (who, action, payload), a day apart.
TO_DEMOLITION = [("county", "assign", {"assignee": "inspector"}),
                 ("inspector", "verify", {"verdict": "illegal", "period": "after_cutoff"}),
                 ("township", "serve_notice", {}), ("township", "start_demolition", {}),
                 ("inspector", "record_demolition", {})]


def scan_time(factory: sessionmaker[Session], now: dt.datetime) -> dt.datetime:
    """When the demo's scan is dated: two months ago on a database without cases (the story's start), else now
    (a scan of unchanged data writes nothing anyway)."""
    with factory() as session:
        empty = session.execute(select(func.count()).select_from(Case)).scalar_one() == 0
    return now - SURVEY_AGO if empty else now


def tell(factory: sessionmaker[Session], settings: Settings, now: dt.datetime,
         demo_dir: Path = DEMO_DIR) -> ImageryReport | None:
    """Tell the story once (None when epochs are stored already: a second `redline demo` changes nothing)."""
    with factory() as session:
        if session.execute(select(func.count()).select_from(Epoch)).scalar_one():
            return None
        users = {u.username: u for u in session.execute(select(User)).scalars()}
        session.expunge_all()
    story = pd.read_csv(demo_dir / "demo_story.csv")
    worked = story.loc[story["role"].isin(["demolished", "sham"]), "house_id"].tolist()
    import_epoch(factory, demo_dir / "epoch_a.parquet", _day(now - FIRST_PASS_AGO))
    with factory() as session:
        cases = {code: i for code, i in session.execute(select(Case.code, Case.id).where(Case.status == "new"))}
    for house in worked:
        case_id = next((i for code, i in cases.items() if code.endswith(f"-{house}")), None)
        if case_id is None:
            continue
        for step, (who, action, payload) in enumerate(TO_DEMOLITION):
            transition(factory, users[who], case_id, action, payload,
                       now=now - WORK_AGO + dt.timedelta(days=step, hours=9))
    import_epoch(factory, demo_dir / "epoch_b.parquet", _day(now - SECOND_PASS_AGO))
    return compare_epochs(factory, settings.rules, settings.compare_rules, now=now)


def _day(at: dt.datetime) -> dt.date:
    return at.astimezone(COUNTY_TZ).date()
