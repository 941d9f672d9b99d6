"""The `redline` command line (Typer): database, imports, checks, scans, exports, users, the demo and the server.

Each command lives in the module of its concern; this module only assembles them. Commands import what
they need when they run, so a simple one (`redline user add`) starts without FastAPI or geopandas.
"""

from __future__ import annotations

from api.cli import admin, files, ingest, reports, serve, stewardship
from api.cli.base import typer_app
from api.cli.serve import DEMO_LAYERS
from gis.collector import freeze_at_exit

app = typer_app("Redline: rural houses on farmland — check, queue, track.")
db_app = typer_app("Database schema.")
app.add_typer(db_app, name="db")
user_app = typer_app("Users and roles.")
app.add_typer(user_app, name="user")
audit_app = typer_app("The tamper-evident audit trail.")
app.add_typer(audit_app, name="audit")
chief_app = typer_app("Field chiefs (田长制): who answers for which area.")
app.add_typer(chief_app, name="chief")
grids_app = typer_app("The farmland grid (网格).")
app.add_typer(grids_app, name="grids")

app.command("import")(ingest.import_cmd)
app.command("scan")(ingest.scan_cmd)
app.command("compare")(ingest.compare_cmd)
app.command("check")(files.check_cmd)
app.command("partition")(files.partition_cmd)
app.command("photo-info")(files.photo_info_cmd)
app.command("export")(reports.export_cmd)
app.command("dossier")(reports.dossier_cmd)
app.command("serve")(serve.serve_cmd)
app.command("demo")(serve.demo_cmd)
db_app.command("upgrade")(admin.db_upgrade)
user_app.command("add")(admin.user_add)
user_app.command("list")(admin.user_list)
user_app.command("password")(admin.user_password)
user_app.command("disable")(admin.user_disable)
user_app.command("enable")(admin.user_enable)
audit_app.command("verify")(admin.audit_verify)
chief_app.command("assign")(stewardship.chief_assign)
chief_app.command("list")(stewardship.chief_list)
grids_app.command("generate")(stewardship.grids_generate)


def main() -> None:
    """The `redline` program (`[project.scripts]`): the commands, and an exit that does not walk the heap
    (`gis.collector.freeze_at_exit`). Only the program does this: tests and the server use `app`."""
    freeze_at_exit()
    app()


__all__ = ["DEMO_LAYERS", "app", "main"]

if __name__ == "__main__":  # pragma: no cover
    main()
