"""`redline serve` and `redline demo` (the demo county loaded, scanned and served)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import data
from api.cli.base import echo, print_summary
from api.settings import get_settings


def serve_cmd(host: str | None = None, port: int | None = None) -> None:
    """Serve the API, the review map (/map) and the field app (/field)."""
    import uvicorn

    s = get_settings()
    uvicorn.run("api.http.app:create_app", factory=True, host=host or s.host, port=port or s.port, log_level="info")


DEMO_DIR = Path(data.__file__).resolve().parent / "demo"
#: The demo county's layers in import order (townships first: houses are located in villages).
DEMO_LAYERS = [("townships", "townships.parquet"), ("dltb", "dltb.parquet"), ("farmland", "farmland.parquet"),
               ("households", "households.csv"), ("houses", "houses.parquet"), ("baseline", "baseline.parquet"),
               ("approvals", "approvals.parquet"), ("plots", "plots.parquet")]
DEMO_TOWNSHIP = data.DEMO_TOWNSHIP


def demo_users(factory) -> list[str]:  # type: ignore[no-untyped-def]
    """Create one demo user per role (skipping existing ones); return what to print."""
    import secrets

    from sqlalchemy import select

    from api.accounts.users import create_user
    from api.db.models import User

    wanted = [("admin", "admin", None), ("county", "county_reviewer", None),
              ("township", "township_officer", DEMO_TOWNSHIP), ("inspector", "inspector", DEMO_TOWNSHIP)]
    lines = []
    with factory.begin() as session:
        for username, role, township in wanted:
            if session.execute(select(User).where(User.username == username)).scalar_one_or_none():
                lines.append(f"{username:<10} {role:<17} (exists)")
                continue
            password = secrets.token_urlsafe(9)
            create_user(session, username, password, role, township)
            lines.append(f"{username:<10} {role:<17} password: {password}" + (f"  township {township}" if township
                                                                               else ""))
    return lines


def demo_cmd(
    serve: Annotated[bool, typer.Option(help="serve after loading")] = True,
    port: int | None = None,
) -> None:
    """Create the embedded database, import the demo county, scan it and serve the map."""
    from api.clock import utcnow
    from api.db.engine import check_srid, make_engine, make_sessionmaker
    from api.db.migrate import upgrade
    from api.ingest.layers import import_layer
    from api.ingest.scan import scan
    from data import story

    s = get_settings()
    engine = make_engine(s.resolved_database_url)
    echo(f"database: {s.resolved_database_url}")
    check_srid(engine, s.srid)
    upgrade(engine, srid=s.srid)
    factory = make_sessionmaker(engine, srid=s.srid)
    now = utcnow()
    for kind, name in DEMO_LAYERS:
        imported = import_layer(factory, kind, DEMO_DIR / name, surveyed_on=story.survey_day(kind, now))
        echo(f"  {kind:<10} {imported.rows_read:>6} rows (new {imported.inserted}, updated {imported.updated})")
    scanned = scan(factory, s.rules, now=story.scan_time(factory, now), compare_rules=s.compare_rules)
    echo(f"scan: {scanned.houses} houses, {scanned.violations} violations, {scanned.created} new cases")
    print_summary(scanned.result.summary())
    echo("\nusers (one per role; passwords are shown once, when created):")
    for line in demo_users(factory):
        echo(f"  {line}")
    steward = story.tell_stewardship(factory, s, now)
    if steward is not None:
        echo(f"field chiefs: {steward['grids']} grid cells generated, chiefs named, {steward['patrols']} patrols, "
             f"{steward['abandoned']} abandoned fields recorded")
    told = story.tell(factory, s, now)
    if told is not None:
        echo(f"\nimagery {told.before} → {told.after}: demolitions confirmed {told.confirmed}, reopened "
             f"{told.reopened} (a sham demolition), cases for growth {told.grown_cases}, for new buildings "
             f"{told.new_cases}")
    leads = story.tell_leads(factory, s, now)
    if leads is not None:
        echo(f"satellite leads: {leads['leads']} (on the houses of {leads['on_cases']} open cases, "
             f"{leads['new_cases']} new lead cases), {leads['checked']} checked on site since")
    if serve:
        port = port or s.port
        echo(f"\nRedline demo: open http://{s.host}:{port}/map  (API docs: http://{s.host}:{port}/docs)")
        serve_cmd(host=s.host, port=port)
