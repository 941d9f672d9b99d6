"""The demo's stories on a freshly generated small county, on both databases: the second imagery pass confirms
the demolitions that happened, reopens the sham one, opens cases for the grown houses and the new buildings;
told twice, it changes nothing the second time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select

from api.accounts.users import create_user
from api.cases.audit import LAND_CHAIN, verify_chain
from api.cases.deadlines import COUNTY_TZ
from api.db.models import AbandonedRecord, Case, CaseEvent, Chief, PatrolGrid
from api.ingest.layers import import_layer
from api.ingest.scan import scan
from api.reports.monthly import figures
from api.settings import Settings
from data import DEMO_TOWNSHIP, story
from data.generate import Size, generate
from tests.conftest import Database

LAYERS = [("townships", "townships.parquet"), ("dltb", "dltb.parquet"), ("farmland", "farmland.parquet"),
          ("households", "households.csv"), ("houses", "houses.parquet"), ("approvals", "approvals.parquet"),
          ("plots", "plots.parquet")]


def test_the_demo_story_shows_confirmed_reopened_and_new_cases(db: Database, tmp_path: Path):
    generate(tmp_path, Size(houses=3000, parcels=1500, width_m=8000, height_m=6000), seed=11)
    now = dt.datetime.now(dt.UTC)
    for kind, name in LAYERS:  # as `redline demo` imports them: the houses surveyed on the story's first day
        import_layer(db.factory, kind, tmp_path / name, surveyed_on=story.survey_day(kind, now))
    assert story.scan_time(db.factory, now) == now - story.SURVEY_AGO  # a fresh database: the survey's date
    scan(db.factory, Settings().rules, now=story.scan_time(db.factory, now))
    assert story.scan_time(db.factory, now) == now
    with db.factory.begin() as s:
        for name, role, town in (("county", "county_reviewer", None), ("township", "township_officer",
                                  DEMO_TOWNSHIP), ("inspector", "inspector", DEMO_TOWNSHIP)):
            create_user(s, name, "demo-story-password", role, town)
    report = story.tell(db.factory, Settings(database_url=db.url), now, demo_dir=tmp_path)
    assert report is not None
    roles = pd.read_csv(tmp_path / "demo_story.csv")["role"].value_counts()
    assert (report.confirmed, report.reopened) == (roles["demolished"], roles["sham"]) == (5, 1)
    assert report.grown_cases == 2 and report.new_cases == 4
    with db.factory() as s:
        sham = pd.read_csv(tmp_path / "demo_story.csv").query("role == 'sham'")["house_id"].iloc[0]
        assert s.execute(select(Case.status).where(Case.code.endswith(f"-{sham}"))).scalar_one() == "reopened"
        assert s.execute(select(func.count()).where(Case.origin == "imagery")).scalar_one() == 6
        events = s.execute(select(func.count()).select_from(CaseEvent)).scalar_one()
        assert verify_chain(s).ok
    assert story.tell(db.factory, Settings(database_url=db.url), now, demo_dir=tmp_path) is None
    with db.factory() as s:
        assert s.execute(select(func.count()).select_from(CaseEvent)).scalar_one() == events
    # The field chiefs' part: a grid, four chiefs, two patrols that covered the patroller's cell, three
    # abandoned fields (one with a remedy decided) — once.
    steward = story.tell_stewardship(db.factory, Settings(database_url=db.url), now)
    assert steward is not None and steward["grids"] > 0 and steward["abandoned"] == 3
    with db.factory() as s:
        assert s.execute(select(func.count()).select_from(Chief)).scalar_one() == 4
        assert s.execute(select(func.count()).select_from(PatrolGrid)).scalar_one() >= 2
        assert sorted(s.execute(select(AbandonedRecord.status)).scalars()) == ["remedy_decided", "reported",
                                                                                "reported"]
        assert verify_chain(s, LAND_CHAIN).ok
    assert story.tell_stewardship(db.factory, Settings(database_url=db.url), now) is None
    # The monitoring batch: leads on four open increment cases' houses and two on farmland no house stands on,
    # three checked on site since — the month's 月清 figures show them; once.
    settings = Settings(database_url=db.url)
    leads = story.tell_leads(db.factory, settings, now)
    assert leads == {"leads": 6, "on_cases": 4, "new_cases": 2, "checked": 3}
    arrived, this_month = ((now - story.LEADS_AGO).astimezone(COUNTY_TZ).strftime("%Y-%m"),
                           now.astimezone(COUNTY_TZ).strftime("%Y-%m"))
    with db.factory() as s:
        assert figures(s, arrived, settings).summary.iloc[-1]["leads_received"] == 6
        assert figures(s, this_month, settings).summary.iloc[-1]["leads_unchecked"] == 3
        assert verify_chain(s).ok
    assert story.tell_leads(db.factory, settings, now) is None
    # The survey came before the demolitions: a scan afterwards takes none of them for a sham (the houses were
    # stamped surveyed at the import, after the story's back-dated demolitions, and every rescan reopened five).
    assert scan(db.factory, Settings().rules).reopened == 0
    # Every event of a case's history reads in words: the imagery pass's confirmation showed its code
    # (demolition_confirmed) in the field app's and the map's history, where every other event had a name.
    from api.cases.workflow import ACTION_NAMES
    from api.http.config import labels

    with db.factory() as s:
        actions = set(s.execute(select(CaseEvent.action).distinct()).scalars())
    assert {"demolition_confirmed", "reappeared", "lead_attached"} <= actions
    assert actions <= set(ACTION_NAMES) and actions <= set(labels("en")["action"]), actions - set(ACTION_NAMES)
