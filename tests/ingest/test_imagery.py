"""A new imagery pass applied to the cases, on both databases: a recorded demolition confirmed, a sham one
reopened (only when the imagery is newer than the record), a legally closed case left alone, growth and a new
building opened as increment cases — and the same comparison again changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import geopandas as gpd
import pytest
from shapely import box
from sqlalchemy import select

from api.cases.audit import verify_chain
from api.cases.deadlines import COUNTY_TZ
from api.cases.service import transition
from api.db.models import Case, CaseEvent, House, User
from api.db.repository import read_frame
from api.ingest.epochs import import_epoch
from api.ingest.imagery import compare_epochs
from api.reports.monthly import figures
from api.settings import Settings
from gis.compare import CompareRules
from gis.errors import RedlineInputError
from gis.rules import CUTOFF, RuleSet, built_between
from tests.http.conftest import Site

TODAY = dt.datetime.now(dt.UTC)
RECORDED = TODAY - dt.timedelta(days=30)
AFTER = (TODAY - dt.timedelta(days=10)).date()
BEFORE = dt.date(2025, 1, 1)


def test_built_between_places_a_building_by_the_two_passes():
    assert built_between(dt.date(2021, 1, 1), dt.date(2021, 6, 1), CUTOFF) == dt.date(2021, 6, 1)  # increment
    assert built_between(dt.date(2019, 1, 1), dt.date(2020, 1, 1), CUTOFF) == dt.date(2020, 1, 1)  # stock
    assert built_between(dt.date(2020, 1, 1), dt.date(2021, 1, 1), CUTOFF) is None  # across the cutoff: unknown
    assert built_between(CUTOFF, dt.date(2020, 8, 1), CUTOFF) == dt.date(2020, 8, 1)  # absent on the cutoff day


def users(site: Site) -> dict[str, User]:
    with site.db.factory() as s:
        found = {u.username: u for u in s.execute(select(User)).scalars()}
        s.expunge_all()
    return found


def case_of(site: Site, house: str) -> Case:
    with site.db.factory() as s:
        case = s.execute(select(Case).where(Case.code.endswith(f"-{house}"))).scalar_one()
        s.expunge(case)
    return case


def drive(site: Site, house: str, steps: list[tuple[str, str, dict]], at: dt.datetime | None = None) -> None:
    who = users(site)
    cid = case_of(site, house).id
    for actor, action, payload in steps:
        transition(site.db.factory, who[actor], cid, action, payload, now=at)


def epoch_file(tmp_path: Path, name: str, geoms: list) -> Path:  # type: ignore[type-arg]
    path = tmp_path / f"{name}.gpkg"
    gpd.GeoDataFrame({"BSM": [f"{name}{i}" for i in range(len(geoms))]}, geometry=geoms, crs=4546).to_file(path)
    return path


def test_a_new_pass_confirms_reopens_and_opens_cases(site: Site, tmp_path: Path):
    demolish = [("admin", "assign", {"assignee": "inspector1"}), ("inspector1", "verify", {"verdict": "illegal"}),
                ("officer1", "serve_notice", {}), ("officer1", "start_demolition", {}),
                ("inspector1", "record_demolition", {})]
    drive(site, "A1", demolish, at=RECORDED)
    drive(site, "A3", demolish, at=RECORDED)
    drive(site, "A2", [("admin", "assign", {"assignee": "inspector1"}),
                       ("inspector1", "verify", {"verdict": "legal", "legal_reason": "facility_farmland"}),
                       ("officer1", "submit", {}), ("county", "pass_review", {})], at=RECORDED)
    with site.db.factory() as s:
        houses = read_frame(s, House, where=[House.source_key.in_(["A1", "A2", "A3", "A4", "A5"])])
    geom = dict(zip(houses["source_key"], houses.geometry, strict=True))
    x, y = geom["A4"].bounds[0] - 50, geom["A4"].bounds[1] - 50  # the fixture's farmland square starts here
    before = [geom[k] for k in ("A1", "A2", "A3", "A4", "A5")]
    a4 = geom["A4"].bounds
    after = [geom["A2"], geom["A3"], box(a4[0], a4[1], a4[2] + 5, a4[3]), geom["A5"],
             box(x + 70, y + 70, x + 80, y + 80)]
    assert import_epoch(site.db.factory, epoch_file(tmp_path, "before", before), BEFORE).stored == 5
    later = epoch_file(tmp_path, "after", after)
    assert import_epoch(site.db.factory, later, AFTER).stored == 5
    assert import_epoch(site.db.factory, later, AFTER).unchanged  # the same file again: nothing written

    report = compare_epochs(site.db.factory, RuleSet(), CompareRules())
    assert (report.before, report.after) == (BEFORE, AFTER)
    assert (report.confirmed, report.reopened, report.grown_cases, report.new_cases) == (1, 1, 1, 1)
    with site.db.factory() as s:
        def events(house: str) -> list[tuple[str, str, str]]:
            cid = s.execute(select(Case.id).where(Case.code.endswith(f"-{house}"))).scalar_one()
            return [(e.action, e.actor, e.note or "") for e in s.execute(
                select(CaseEvent).where(CaseEvent.case_id == cid).order_by(CaseEvent.id)).scalars()]
        confirmed = events("A1")[-1]
        assert confirmed[:2] == ("demolition_confirmed", "imagery") and str(AFTER) in confirmed[2]
        assert case_of(site, "A1").status == "demolished"
        assert events("A3")[-1][:2] == ("reappeared", "imagery") and case_of(site, "A3").status == "reopened"
        assert case_of(site, "A2").status == "closed"  # closed legally, no demolition: imagery proves nothing
        created = s.execute(select(Case).where(Case.origin == "imagery").order_by(Case.code)).scalars().all()
        grown = next(c for c in created if "-A4-E" in c.code)
        new = next(c for c in created if "-N" in c.code)
        assert grown.period == new.period == "after_cutoff" and grown.disposition == new.disposition == "demolish"
        assert grown.farmland_m2 == pytest.approx(50.0) and new.farmland_m2 == pytest.approx(100.0)
        assert grown.parent_case_id == case_of(site, "A4").id and grown.township_code == "431021101000"
        create = s.execute(select(CaseEvent).where(CaseEvent.case_id == new.id)).scalars().one()
        assert json.loads(create.after)["imagery"] == str(AFTER)
        assert verify_chain(s).ok

    # The monthly figures count demolitions confirmed by imagery apart from those only reported.
    month = dt.datetime.now(COUNTY_TZ).strftime("%Y-%m")
    with site.db.factory() as s:
        total = figures(s, month, Settings(), None).summary.iloc[-1]
    same_month = RECORDED.astimezone(COUNTY_TZ).strftime("%Y-%m") == month
    assert total["demolished_confirmed"] == 1  # A1, confirmed now
    assert total["demolished_reported"] == (2 if same_month else 0)  # A1 and A3 were reported on RECORDED

    rerun = compare_epochs(site.db.factory, RuleSet(), CompareRules())
    assert (rerun.confirmed, rerun.reopened, rerun.grown_cases, rerun.new_cases) == (0, 0, 0, 0)


def test_imagery_older_than_the_recorded_demolition_reopens_nothing(site: Site, tmp_path: Path):
    drive(site, "A3", [("admin", "assign", {"assignee": "inspector1"}),
                       ("inspector1", "verify", {"verdict": "illegal"}),
                       ("officer1", "serve_notice", {}), ("officer1", "start_demolition", {}),
                       ("inspector1", "record_demolition", {})])  # recorded today
    with site.db.factory() as s:
        houses = read_frame(s, House, where=[House.source_key == "A3"])
    import_epoch(site.db.factory, epoch_file(tmp_path, "b", list(houses.geometry)), BEFORE)
    import_epoch(site.db.factory, epoch_file(tmp_path, "a", list(houses.geometry)), AFTER)  # ten days ago
    report = compare_epochs(site.db.factory, RuleSet(), CompareRules())
    assert report.reopened == 0 and case_of(site, "A3").status == "demolished"


def test_imagery_older_than_the_demolition_confirms_nothing(site: Site, tmp_path: Path):
    """Two old passes compared after a demolition was recorded (`redline compare --from --to`): the house absent
    on the later one was not built yet, not demolished. Before, that "confirmed" the demolition by imagery taken
    before it began, and the month counted it as a demolition the satellite had seen."""
    drive(site, "A1", [("admin", "assign", {"assignee": "inspector1"}),
                       ("inspector1", "verify", {"verdict": "illegal"}), ("officer1", "serve_notice", {}),
                       ("officer1", "start_demolition", {}), ("inspector1", "record_demolition", {})], at=RECORDED)
    with site.db.factory() as s:
        houses = read_frame(s, House, where=[House.source_key.in_(["A1", "A2"])])
    geom = dict(zip(houses["source_key"], houses.geometry, strict=True))
    old, older = (RECORDED - dt.timedelta(days=200)).date(), (RECORDED - dt.timedelta(days=400)).date()
    import_epoch(site.db.factory, epoch_file(tmp_path, "older", [geom["A1"], geom["A2"]]), older)
    import_epoch(site.db.factory, epoch_file(tmp_path, "old", [geom["A2"]]), old)  # A1 not there
    report = compare_epochs(site.db.factory, RuleSet(), CompareRules(), before=older, after=old)
    assert report.changes.get("gone") and report.confirmed == 0
    import_epoch(site.db.factory, epoch_file(tmp_path, "after", [geom["A2"]]), AFTER)  # after the record
    assert compare_epochs(site.db.factory, RuleSet(), CompareRules(), before=old, after=AFTER).confirmed == 1


def test_compare_needs_two_epochs_and_refuses_future_imagery(site: Site, tmp_path: Path):
    with pytest.raises(RedlineInputError, match="two imported epochs"):
        compare_epochs(site.db.factory, RuleSet(), CompareRules())
    with pytest.raises(RedlineInputError, match="future"):
        import_epoch(site.db.factory, epoch_file(tmp_path, "x", [box(0, 0, 1, 1)]), TODAY.date() + dt.timedelta(days=2))
    # 07:30 on 5 December in the county is still 4 December in UTC: imagery of the county's today is no future
    # imagery (before, the UTC date refused it until 08:00 every morning); its tomorrow is.
    morning = dt.datetime(2026, 12, 4, 23, 30, tzinfo=dt.UTC)
    with pytest.raises(RedlineInputError, match="future"):
        import_epoch(site.db.factory, epoch_file(tmp_path, "y", [box(0, 0, 1, 1)]), dt.date(2026, 12, 6), now=morning)
    with pytest.raises(RedlineInputError, match="outside") as today:
        import_epoch(site.db.factory, epoch_file(tmp_path, "y", [box(0, 0, 1, 1)]), dt.date(2026, 12, 5), now=morning)
    assert "future" not in str(today.value)


def test_an_extensions_old_part_on_a_new_pass_is_no_sham_demolition(site: Site, tmp_path: Path):
    """An extension's demolition removes its new part; a later pass shows the old part still standing. That is
    no sham demolition (before, the house standing reopened the case); the new part standing again is."""
    from api.ingest.layers import import_layer
    from api.ingest.scan import scan

    with site.db.factory() as s:
        houses = read_frame(s, House, where=[House.source_key.in_(["A2", "A4"])])
    geom = dict(zip(houses["source_key"], houses.geometry, strict=True))
    old = {}
    for key in ("A2", "A4"):
        minx, miny, maxx, maxy = geom[key].bounds
        old[key] = box(minx, miny, maxx - 4, maxy)  # imaged at the cutoff without a 4 m wing
    gpd.GeoDataFrame({"id": ["BL2", "BL4"], "imaged_on": ["2020-07-01"] * 2}, geometry=[old["A2"], old["A4"]],
                     crs=4546).to_file(tmp_path / "baseline.gpkg")
    import_layer(site.db.factory, "baseline", tmp_path / "baseline.gpkg")
    scan(site.db.factory, RuleSet())
    assert case_of(site, "A2").period == case_of(site, "A4").period == "extended_after_cutoff"
    steps = [("admin", "assign", {"assignee": "inspector1"}), ("inspector1", "verify", {"verdict": "illegal"}),
             ("officer1", "serve_notice", {}), ("officer1", "start_demolition", {}),
             ("inspector1", "record_demolition", {})]
    drive(site, "A2", steps, at=RECORDED)
    drive(site, "A4", steps, at=RECORDED)
    assert import_epoch(site.db.factory, epoch_file(tmp_path, "before", [geom["A2"], geom["A4"]]), BEFORE).stored == 2
    # After the record: A2 without its wing (the demolition done), A4 with it (never demolished).
    assert import_epoch(site.db.factory, epoch_file(tmp_path, "after", [old["A2"], geom["A4"]]), AFTER).stored == 2
    report = compare_epochs(site.db.factory, RuleSet(), CompareRules())
    assert report.reopened == 1
    assert case_of(site, "A2").status == "demolished" and case_of(site, "A4").status == "reopened"
    assert report.confirmed == 1  # A2's wing gone: its demolition is confirmed (before: only a whole house gone was)


def test_an_extension_ordered_demolished_whole_is_reopened_by_its_old_part_standing(site: Site, tmp_path: Path):
    """An extension whose old part was classified `demolish` too (on permanent basic farmland, the only decision)
    was to be taken down whole: a later pass showing the old part standing contradicts the recorded demolition.
    Before, only the new part was ever looked for, and the old part standing passed as the demolition done."""
    from api.ingest.layers import import_layer
    from api.ingest.scan import scan

    with site.db.factory() as s:
        house = read_frame(s, House, where=[House.source_key == "A2"]).geometry.iloc[0]
    minx, miny, maxx, maxy = house.bounds
    old = box(minx, miny, maxx - 4, maxy)
    gpd.GeoDataFrame({"id": ["BL2"], "imaged_on": ["2020-07-01"]}, geometry=[old], crs=4546
                     ).to_file(tmp_path / "baseline.gpkg")
    import_layer(site.db.factory, "baseline", tmp_path / "baseline.gpkg")
    scan(site.db.factory, RuleSet())
    steps = [("admin", "assign", {"assignee": "inspector1"}), ("inspector1", "verify", {"verdict": "illegal"}),
             ("officer1", "serve_notice", {}), ("officer1", "start_demolition", {}),
             ("inspector1", "record_demolition", {})]
    drive(site, "A2", steps, at=RECORDED)
    with site.db.factory.begin() as s:  # the wing gone and re-inspected, the old part classified demolish and
        s.get(Case, case_of(site, "A2").id).decision = "demolish"  # its own demolition recorded (as above)
    assert import_epoch(site.db.factory, epoch_file(tmp_path, "before", [house]), BEFORE).stored == 1
    assert import_epoch(site.db.factory, epoch_file(tmp_path, "after", [old]), AFTER).stored == 1
    report = compare_epochs(site.db.factory, RuleSet(), CompareRules())
    assert report.reopened == 1 and report.confirmed == 0
    case = case_of(site, "A2")
    assert case.status == "reopened" and case.decision is None


def test_a_later_pass_reopens_a_sham_demolition_of_a_case_without_a_house_of_its_own(site: Site, tmp_path: Path):
    """Cases that imagery (or a scan, or a patrol) opened have no stored house: a house's new wing (`…-E`) and a
    new building (`…-N`). Before, a later pass never looked at them again once their demolition was recorded, so
    a wing or a building left standing stood unseen. Now the pass reopens one whose own footprint it still shows
    (at least `min_area` of it, more than `tolerance_m` inside its outline), and only that: a wall digitised
    0.8 m into a demolished wing is no wing."""
    mid = (TODAY - dt.timedelta(days=60)).date()
    with site.db.factory() as s:
        houses = read_frame(s, House, where=[House.source_key.in_(["A1", "A4"])])
    geom = dict(zip(houses["source_key"], houses.geometry, strict=True))
    x, y = geom["A4"].bounds[0] - 50, geom["A4"].bounds[1] - 50  # the fixture's farmland square starts here

    def wider(key: str, by: float):  # type: ignore[no-untyped-def]
        minx, miny, maxx, maxy = geom[key].bounds
        return box(minx, miny, maxx + by, maxy)

    building = box(x + 70, y + 70, x + 80, y + 80)
    import_epoch(site.db.factory, epoch_file(tmp_path, "p1", [geom["A1"], geom["A4"]]), BEFORE)
    import_epoch(site.db.factory, epoch_file(tmp_path, "p2", [wider("A1", 5), wider("A4", 5), building]), mid)
    opened = compare_epochs(site.db.factory, RuleSet(), CompareRules(), before=BEFORE, after=mid)
    assert (opened.grown_cases, opened.new_cases) == (2, 1)
    steps = [("admin", "assign", {"assignee": "inspector1"}), ("inspector1", "verify", {"verdict": "illegal"}),
             ("officer1", "serve_notice", {}), ("officer1", "start_demolition", {}),
             ("inspector1", "record_demolition", {})]
    with site.db.factory() as s:
        codes = list(s.execute(select(Case.code).where(Case.origin == "imagery").order_by(Case.code)).scalars())
    for code in codes:
        drive(site, code.split("-", 2)[2], steps, at=RECORDED)
    # Ten days ago: A1's wing and the new building still stand; A4's wing is gone, its wall 0.8 m further out.
    import_epoch(site.db.factory, epoch_file(tmp_path, "p3", [wider("A1", 5), wider("A4", 0.8), building]), AFTER)
    report = compare_epochs(site.db.factory, RuleSet(), CompareRules())
    assert report.reopened == 2
    assert report.confirmed == 1  # A4's wing: gone from the pass (before, a case without a house was never confirmed)
    status = {code.split("-", 2)[2].split("-")[0]: case_of(site, code.split("-", 2)[2]).status for code in codes}
    assert status == {"A1": "reopened", "A4": "demolished", next(k for k in status if k.startswith("N")): "reopened"}
    assert compare_epochs(site.db.factory, RuleSet(), CompareRules()).reopened == 0  # once
    with site.db.factory() as s:
        assert verify_chain(s).ok


def test_a_building_a_pass_found_is_the_house_the_survey_then_delivers_and_a_wing_stays_apart(site: Site,
                                                                                              tmp_path: Path):
    """A pass shows a new building on farmland: an imagery case. The survey that then delivers the building as a
    house opened a second case for it (only a satellite lead's case took its surveyed house): one building worked
    twice and counted twice in the month. The house now takes the imagery case (one case, held in zero tolerance
    whatever the survey declares). A grown house's new part is no building of its own: its case
    (`part_of_house_id`) stays apart from the house's."""
    from api.ingest.layers import import_layer
    from api.ingest.scan import scan

    def survey(name: str, houses: dict[str, object]) -> None:
        gpd.GeoDataFrame({"id": list(houses), "built_on": ["2019-05-01"] * len(houses)}, geometry=list(houses.values()),
                         crs=4546).to_file(tmp_path / f"{name}.gpkg")
        import_layer(site.db.factory, "houses", tmp_path / f"{name}.gpkg")
        scan(site.db.factory, RuleSet())

    with site.db.factory() as s:
        houses = read_frame(s, House, where=[House.source_key.in_(["A1", "A2", "A3", "A4", "A5"])])
    geom = dict(zip(houses["source_key"], houses.geometry, strict=True))
    x, y = geom["A4"].bounds[0] - 50, geom["A4"].bounds[1] - 50  # the farmland square (x..x+100, y..y+100)
    beside = box(x + 100, y + 30, x + 110, y + 40)  # touching the square's east edge: on no farmland
    survey("first", {"A9": beside})
    assert all(not c.code.endswith("-A9") for c in _cases(site))
    new_building, grown = box(x + 70, y + 70, x + 80, y + 80), box(x + 94, y + 30, x + 110, y + 40)
    before = [geom[k] for k in ("A1", "A2", "A3", "A4", "A5")] + [beside]
    import_epoch(site.db.factory, epoch_file(tmp_path, "before", before), BEFORE)
    import_epoch(site.db.factory, epoch_file(tmp_path, "after", [*before[:5], grown, new_building]), AFTER)
    report = compare_epochs(site.db.factory, RuleSet(), CompareRules())
    assert (report.grown_cases, report.new_cases) == (1, 1)
    imagery = {c.code: c for c in _cases(site) if c.origin == "imagery"}
    new_case = next(c for c in imagery.values() if "-N" in c.code)
    wing = next(c for c in imagery.values() if "-A9-E" in c.code)
    with site.db.factory() as s:
        a9 = s.execute(select(House.id).where(House.source_key == "A9")).scalar_one()
    assert wing.part_of_house_id == a9 and new_case.part_of_house_id is None
    survey("second", {"A9": grown, "A10": new_building})
    with site.db.factory() as s:
        a10 = s.execute(select(House.id).where(House.source_key == "A10")).scalar_one()
    after = {c.id: c for c in _cases(site)}
    assert after[new_case.id].house_id == a10 and [c.id for c in after.values() if c.house_id == a10] == [new_case.id]
    assert after[new_case.id].period == "after_cutoff"  # the survey's 2019 does not take it out of zero tolerance
    assert after[wing.id].house_id is None  # the wing's case is not the house's
    assert any(c.house_id == a9 and c.origin == "scan" for c in after.values())


def _cases(site: Site) -> list[Case]:
    with site.db.factory() as s:
        found = list(s.execute(select(Case).order_by(Case.id)).scalars())
        s.expunge_all()
    return found
