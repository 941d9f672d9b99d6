"""Exports of a month, a quarter or a year: start a background job, poll it, download its files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.clock import as_utc
from api.errors import NotFound
from api.http.deps import FactoryDep, RowId, SessionDep, SettingsDep
from api.http.identity import CurrentUser
from api.reports.jobs import job_files, list_jobs, load_job, start_export
from api.reports.monthly import PERIOD_PATTERN, chosen_period

router = APIRouter(prefix="/api/exports", tags=["exports"])


class ExportIn(BaseModel):
    """A month (`month`), or a quarter or a year (`period`, e.g. 2026-Q4 for 季核, 2026 for 年度评估): one of them."""

    month: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}$", examples=["2026-10"])
    period: str | None = Field(default=None, pattern=PERIOD_PATTERN, max_length=7, examples=["2026-Q4"])
    township: str | None = Field(default=None, examples=["431021101000"])



def _job_out(job: Any) -> dict[str, Any]:
    return {"id": job.id, "month": job.month, "township": job.township_code, "status": job.status,
            "progress": job.progress, "error": job.error, "files": job_files(job),
            "created_at": as_utc(job.created_at).isoformat(),
            "finished_at": as_utc(job.finished_at).isoformat() if job.finished_at else None}


@router.post("", status_code=202)
def post_export(factory: FactoryDep, user: CurrentUser, settings: SettingsDep, body: ExportIn) -> dict[str, Any]:
    """Start the export of a month, a quarter or a year (workbook, GeoPackage, zipped GBK Shapefile, 摸排 table,
    printable report, manifest); the job's `month` is the period asked for."""
    job = start_export(factory, settings, user, chosen_period(body.month, body.period), body.township)
    return _job_out(job)


@router.get("")
def list_exports(session: SessionDep, user: CurrentUser) -> list[dict[str, Any]]:
    """The newest 50 exports the caller may see, newest first (with their files once done)."""
    return [_job_out(job) for job in list_jobs(session, user)]


@router.get("/{job_id}")
def get_export(session: SessionDep, user: CurrentUser, job_id: RowId) -> dict[str, Any]:
    """A job's status and progress (0–1); when done, its files; when failed, the reason."""
    return _job_out(load_job(session, user, job_id))


@router.get("/{job_id}/files/{name}")
def download(session: SessionDep, user: CurrentUser, job_id: RowId, name: str) -> FileResponse:
    """One file of a finished job."""
    job = load_job(session, user, job_id)
    if name not in job_files(job):
        raise NotFound(f"job {job_id} has no file {name!r}")
    return FileResponse(Path(job.out_dir or "") / name, filename=name)
