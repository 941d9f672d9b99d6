"""The demo county's imagery story, told once by `redline demo` so the imagery features are visible.

Two months ago the county was surveyed and scanned (the demo's scan is dated then on a fresh database); the
imagery of a month before that is the first epoch. Six increment cases of the story township are worked to a
recorded demolition about six weeks ago — five of the houses really went, one still stands (a sham demolition).
Ten days ago a new pass was flown (the second epoch, `data/demo/epoch_b.parquet`): comparing it confirms five
demolitions, reopens the sham one, and opens cases for two grown houses and four new buildings on cultivated
land. `data/demo/demo_story.csv` names the houses of each part (written by `data/generate.py`). Twenty days ago a
satellite monitoring batch came (`tell_leads`): leads on open cases' houses and on bare farmland, some checked on
site since, for the month's 月清 figures.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.cases.deadlines import COUNTY_TZ
from api.cases.service import transition
from api.db.models import Case, CaseEvent, Epoch, User
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


def survey_day(kind: str, now: dt.datetime) -> dt.date | None:
    """The day the demo's houses were surveyed: the story's first day (`SURVEY_AGO`, the county's calendar), before
    its demolitions; None for the other layers. Stamped with the import's time instead, the survey seemed to come
    after the back-dated demolitions, and every later scan reopened them as shams."""
    return (now - SURVEY_AGO).astimezone(COUNTY_TZ).date() if kind == "houses" else None


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


def tell_stewardship(factory: sessionmaker[Session], settings: Settings, now: dt.datetime) -> dict[str, int] | None:
    """The demo's field chiefs and abandoned land, once (None when the grid exists already): the grid generated
    from the villages' farmland; a county, a township and a village chief and a grid patroller; this month two
    patrols of the patroller's cell; three abandoned fields of the story township, one with a remedy decided."""
    import numpy as np
    import shapely
    from pyproj import Transformer

    from api.db.models import Grid, LandParcel
    from api.db.repository import read_frame
    from api.stewardship.abandoned import act_on_record, record_abandoned
    from api.stewardship.chiefs import assign_chief, county_code
    from api.stewardship.grids import generate_grids
    from api.stewardship.patrols import record_patrol
    from data import DEMO_TOWNSHIP
    from gis.codes import WEB_CRS

    with factory() as session:
        if session.execute(select(func.count()).select_from(Grid)).scalar_one():
            return None
    cells = generate_grids(factory, settings.coverage_rules)
    with factory.begin() as session:
        grid = read_frame(session, Grid, ["code", "village_code"], where=[Grid.township_code == DEMO_TOWNSHIP],
                          order_by="code")
        village = str(grid["village_code"].iloc[0])
        cell = grid.iloc[0]
        for level, area, user in (("county", county_code(session), "county"), ("township", DEMO_TOWNSHIP, "township"),
                                  ("village", village, "township"), ("grid", str(cell["code"]), "inspector")):
            assign_chief(session, level, area, user, by="demo", now=now - SECOND_PASS_AGO)
        parcels = read_frame(session, LandParcel, ["dlbm", "zldwdm"], where=[LandParcel.dlbm.in_(["0101", "0103"])])
        users = {u.username: u for u in session.execute(select(User)).scalars()}
        session.expunge_all()
    to_web = Transformer.from_crs(f"EPSG:{settings.srid}", WEB_CRS, always_xy=True)
    ring = shapely.get_coordinates(shapely.get_exterior_ring(shapely.buffer(shapely.centroid(cell["geometry"]), 120,
                                                                    quad_segs=4)))
    lon, lat = to_web.transform(ring[:, 0], ring[:, 1])
    points = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    start_of_month = dt.datetime.combine(now.astimezone(COUNTY_TZ).date().replace(day=1), dt.time(9),
                                         tzinfo=COUNTY_TZ)
    for k in range(2):
        began = max(start_of_month + dt.timedelta(days=k), now - dt.timedelta(hours=2 * (2 - k)))
        record_patrol(factory, users["inspector"], f"00000000-0000-4000-8000-{k + 1:012d}", began,
                      began + dt.timedelta(minutes=40), points, settings.coverage_rules, now=now)
    mine = parcels[parcels["zldwdm"].str.startswith(DEMO_TOWNSHIP[:9]) & (parcels.area > 5000)]
    picks = mine.iloc[np.linspace(0, len(mine) - 1, 3).astype(int)]
    with factory.begin() as session:
        ids = [record_abandoned(session, "inspector", shapely.point_on_surface(g), cause=cause, seen_on=_day(now)
                                - dt.timedelta(days=12), origin="patrol", note=note, now=now - dt.timedelta(days=12)).id
               for g, cause, note in zip(picks.geometry, ("no_labour", "irrigation", "low_return"),
                                         ("家中无劳力，两季未种", "水渠损毁", "种粮收益低，已撂荒一年"), strict=True)]
    act_on_record(factory, users["township"], ids[0], "decide_remedy",
                  {"remedy": "transfer", "remedy_detail": "和平镇粮食种植专业合作社"}, settings.remedy_days,
                  now=now - dt.timedelta(days=10))
    return {"grids": cells, "patrols": 2, "abandoned": len(ids)}


#: The demo's monitoring batch (卫片图斑): when it reached the county, how many of its leads fall on the houses of
#: open increment cases of the story township and how many on its farmland where no house stands, and how many of
#: the leads on houses the inspector has checked on site since.
LEADS_AGO = dt.timedelta(days=20)
LEADS_ON_HOUSES = 4
LEADS_ON_FIELDS = 2
LEADS_CHECKED = 3


def tell_leads(factory: sessionmaker[Session], settings: Settings, now: dt.datetime) -> dict[str, int] | None:
    """A satellite monitoring batch, once (None when a lead is stored already), so that the month's 月清 figures
    and the lead codes on the map show something: leads on the footprints of open increment cases of the story
    township (each becomes that case's lead) and on its farmland where no house stands (each a lead case of its
    own); the inspector checks some of the first kind on site a few days later."""
    import tempfile

    import geopandas as gpd
    import numpy as np
    import shapely

    from api.db.models import Farmland, House
    from api.db.repository import read_frame
    from api.ingest.leads import import_leads
    from data import DEMO_TOWNSHIP

    arrived = now - LEADS_AGO
    with factory() as session:
        if (session.execute(select(func.count()).select_from(Case).where(Case.origin == "lead")).scalar_one()
                or session.execute(select(func.count()).select_from(CaseEvent).where(
                    CaseEvent.action == "lead_attached")).scalar_one()):
            return None
        open_cases = session.execute(
            select(Case.id, Case.house_id).where(Case.township_code == DEMO_TOWNSHIP, Case.status == "new",
                                                 Case.period == "after_cutoff", Case.house_id.is_not(None))
            .order_by(Case.code).limit(LEADS_ON_HOUSES)).all()
        houses = read_frame(session, House, ["source_key"], where=[House.id.in_([h for _, h in open_cases])])
        farmland = read_frame(session, Farmland, [], where=[Farmland.zldwdm.like(f"{DEMO_TOWNSHIP[:9]}%")],
                              order_by="id")
        nearby = read_frame(session, House, ["source_key"], where=[House.village_code.like(f"{DEMO_TOWNSHIP[:9]}%")])
        users = {u.username: u for u in session.execute(select(User)).scalars()}
        session.expunge_all()
    # Fields: a 12 m square at a point inside a farmland polygon of the township, at least 30 m from every house.
    spots = shapely.point_on_surface(farmland.geometry.to_numpy())
    near, _ = shapely.STRtree(nearby.geometry.to_numpy()).query(spots, predicate="dwithin", distance=30.0)
    clear = np.setdiff1d(np.arange(len(spots)), near)[:LEADS_ON_FIELDS]
    fields = [shapely.box(p.x - 6, p.y - 6, p.x + 6, p.y + 6) for p in spots[clear]]
    batch = arrived.astimezone(COUNTY_TZ).strftime("%y%m")  # codes like the national ones: 130403SJBG26210183
    leads = gpd.GeoDataFrame(
        {"JCBH": [f"431021SJBG{batch}{n:04d}" for n in range(1, len(houses) + len(fields) + 1)],
         "PC": [arrived.astimezone(COUNTY_TZ).strftime("%Y-%m")] * (len(houses) + len(fields))},
        geometry=[*houses.geometry.to_numpy(), *fields], crs=houses.crs)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "leads.gpkg"
        leads.to_file(path)
        report = import_leads(factory, path, settings.rules, now=arrived, compare_rules=settings.compare_rules)
    checked = 0
    for step, (case_id, _house) in enumerate(open_cases[:LEADS_CHECKED]):
        when = arrived + dt.timedelta(days=2 + step, hours=9)
        transition(factory, users["county"], case_id, "assign", {"assignee": "inspector"}, now=when)
        transition(factory, users["inspector"], case_id, "verify", {"verdict": "illegal"},
                   now=when + dt.timedelta(hours=6))
        checked += 1
    return {"leads": len(leads), "on_cases": report.attached, "new_cases": report.created, "checked": checked}
