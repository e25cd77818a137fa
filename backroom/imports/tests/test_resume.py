"""A run killed mid-file resumes at its last committed chunk: no row twice, none lost."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backroom.imports.importers.opening_stock import OpeningStockImporter
from backroom.imports.models import ImportJob, ImportStatus
from backroom.imports.services import request_run, resume_stalled_imports, upload_import
from backroom.imports.testing import workbook
from backroom.imports.tests.conftest import HEADER, stock_rows
from backroom.inventory.models import StockMove

pytestmark = pytest.mark.django_db


class Killed(BaseException):
    """Stands for SIGKILL: nothing of the run's own error handling sees it."""


def test_killed_run_resumes_exactly(world, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(OpeningStockImporter, "chunk_size", 10)
    original = OpeningStockImporter.apply_rows
    calls = {"count": 0}

    def dying(self, rows):
        calls["count"] += 1
        if calls["count"] == 3:
            raise Killed()
        return original(self, rows)

    monkeypatch.setattr(OpeningStockImporter, "apply_rows", dying)
    job = upload_import(
        "opening_stock", "big.xlsx", workbook(HEADER, stock_rows(45)), actor=world.admin
    )
    with pytest.raises(Killed), django_capture_on_commit_callbacks(execute=True):
        request_run(job, actor=world.admin, apply=True)
    job.refresh_from_db()
    assert job.status == ImportStatus.APPLYING
    assert job.applied_rows == 20  # two chunks committed with the cursor, the third rolled back
    assert StockMove.objects.count() == 20

    assert resume_stalled_imports() == []  # its heartbeat is fresh: maybe still running
    later = timezone.now() + dt.timedelta(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):
        assert resume_stalled_imports(now=later) == [job.pk]
    job.refresh_from_db()
    assert job.status == ImportStatus.APPLIED, job.error
    assert (job.applied_rows, job.created_count, job.unchanged_count) == (45, 45, 0)
    assert StockMove.objects.count() == 45
    lots = StockMove.objects.values_list("lot__code", flat=True)
    assert sorted(lots) == [f"L{number:05d}" for number in range(1, 46)]


def test_superseded_run_stops_at_its_next_chunk(world, monkeypatch):
    from backroom.imports.services.engine import claim, run_job

    monkeypatch.setattr(OpeningStockImporter, "chunk_size", 10)
    original = OpeningStockImporter.apply_rows
    job = upload_import(
        "opening_stock", "big.xlsx", workbook(HEADER, stock_rows(30)), actor=world.admin
    )
    ImportJob.objects.filter(pk=job.pk).update(apply_requested=True)
    first = claim(job, ImportStatus.CHECKING)

    def taken_over(self, rows):
        result = original(self, rows)
        claim(job, ImportStatus.APPLYING)  # the sweeper hands the job to another run
        return result

    monkeypatch.setattr(OpeningStockImporter, "apply_rows", taken_over)
    assert run_job(job.pk, first) is None
    job.refresh_from_db()
    assert job.applied_rows == 10
    assert StockMove.objects.count() == 10
