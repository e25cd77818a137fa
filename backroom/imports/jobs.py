"""Worker tasks: run an import (check, then apply when asked); resume runs the worker lost."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task


@db_task()
def run_import(job_id: int, token: str) -> None:
    from backroom.imports.services import run_job

    run_job(job_id, token)


@db_periodic_task(crontab(minute="*"))
def resume_stalled_imports() -> list[int]:
    from backroom.imports.services import resume_stalled_imports

    return resume_stalled_imports()
