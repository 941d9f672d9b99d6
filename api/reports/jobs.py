"""Monthly exports as background jobs: start, poll (survives a page reload), download; failures are kept.

A job row records status and progress; the work runs in a thread with its own session. Township officers
export only their own township (forced, not trusted from the request).
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.accounts.roles import Role, township_of
from api.clock import utcnow
from api.db.areas import check_township
from api.db.models import ExportJob, User
from api.errors import Forbidden, Message, NotFound
from api.reports.export import export_month
from api.reports.monthly import check_report_period
from api.settings import Settings

log = logging.getLogger("redline.exports")
#: Exports run one at a time per server process: each reads every case of the month and writes several
#: files, and a burst of requests must queue rather than run the machine out of memory.
_WORKERS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redline-export")


def export_scope(user: User, township: str | None) -> str | None:
    """The township an export may cover for this user (township roles: their own, whatever was asked)."""
    if user.role == Role.INSPECTOR:
        raise Forbidden(Message("巡查员不导出月报", "inspectors do not file monthly exports"))
    if user.role == Role.TOWNSHIP_OFFICER:
        if township and township != user.township_code:
            raise Forbidden(Message("乡镇干部只能导出本乡镇的月报",
                                    "a township officer exports only their own township"))
        return user.township_code
    return township


def start_export(factory: sessionmaker[Session], settings: Settings, user: User, month: str,
                 township: str | None, *, background: bool = True) -> ExportJob:
    """Queue an export job and start it (on the export worker unless `background` is False).

    The month (or quarter, or year) must have begun and the township must be one of the county's (422
    otherwise): a job for township '../../etc' or 9999-12 is refused before it is queued, not failed (or 'done'
    empty) after.
    """
    check_report_period(month)
    township = export_scope(user, township)
    with factory.begin() as session:
        if township is not None:
            check_township(session, township)
        job = ExportJob(month=month, township_code=township, status="queued", progress=0.0, created_by=user.id,
                        created_at=utcnow())
        session.add(job)
        session.flush()
        job.out_dir = str((settings.var_dir / "exports" / f"job-{job.id}").resolve())
        session.flush()
        session.expunge(job)
    if background:
        _WORKERS.submit(run_export, factory, settings, job.id)
    else:
        run_export(factory, settings, job.id)
    return job


def _update(factory: sessionmaker[Session], job_id: int, **values: object) -> None:
    with factory.begin() as session:
        job = session.get(ExportJob, job_id)
        assert job is not None
        for key, value in values.items():
            setattr(job, key, value)


def run_export(factory: sessionmaker[Session], settings: Settings, job_id: int) -> None:
    """Do the work of a job, recording progress, and failure with its reason."""
    with factory() as session:
        job = session.get(ExportJob, job_id)
        assert job is not None
        if not job.out_dir:
            raise RuntimeError(f"export job {job_id} has no output folder")
        month, township, out_dir = job.month, job.township_code, Path(job.out_dir)
    _update(factory, job_id, status="running", progress=0.01)
    try:
        with factory() as session:
            export_month(session, month, out_dir, settings, township=township,
                         progress=lambda fraction, _what: _update(factory, job_id, progress=round(fraction, 3)))
    except Exception as exc:  # the job must record any failure; the worker has no one else to tell
        # The user sees what failed, not where: the traceback (with server paths) goes to the server log.
        log.exception("export job %s failed", job_id)
        _update(factory, job_id, status="failed", error=f"{type(exc).__name__}: {_without_paths(str(exc))}",
                finished_at=utcnow())
        return
    _update(factory, job_id, status="done", progress=1.0, finished_at=utcnow())


def _without_paths(text: str) -> str:
    """An error message with absolute server paths cut down to their last part."""
    return re.sub(r"(/[\w.\-]+)+/([\w.\-]+)", r"…/\2", text)


def load_job(session: Session, user: User, job_id: int) -> ExportJob:
    """A job the user may see: their own, or any for county roles."""
    job = session.get(ExportJob, job_id)
    township = township_of(user.role, user.township_code)
    if job is None or (township is not None and job.township_code != township):
        raise NotFound(f"no export job {job_id}")
    return job


def list_jobs(session: Session, user: User, limit: int = 50) -> list[ExportJob]:
    """The newest jobs the user may see (a township user: their township's), newest first."""
    stmt = select(ExportJob).order_by(ExportJob.id.desc()).limit(limit)
    township = township_of(user.role, user.township_code)
    if township is not None:
        stmt = stmt.where(ExportJob.township_code == township)
    return list(session.execute(stmt).scalars())


def job_files(job: ExportJob) -> list[str]:
    """Names of the files a finished job produced."""
    if job.status != "done" or not job.out_dir:
        return []
    return sorted(p.name for p in Path(job.out_dir).iterdir() if p.is_file())
