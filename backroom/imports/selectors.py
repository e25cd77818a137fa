"""Reads of imports, scoped: a user sees their own imports (an HQ administrator all)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from backroom.imports.importers import IMPORTERS
from backroom.imports.models import ImportJob
from backroom.kernel.exceptions import NotFound


def importers_for(actor: Any) -> list[str]:
    """The kinds of importer the actor may use, in the order a chain moves in."""
    return [kind for kind, importer in IMPORTERS.items() if importer.allowed(actor)]


def jobs_for(actor: Any) -> QuerySet[ImportJob]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return ImportJob.objects.none()
    jobs = ImportJob.objects.filter(kind__in=importers_for(actor))
    if not actor.is_superuser:
        jobs = jobs.filter(created_by=actor)
    return jobs.order_by("-created_at", "-id")


def get_job(actor: Any, job_id: int) -> ImportJob:
    job = jobs_for(actor).filter(pk=job_id).first()
    if job is None:
        raise NotFound()
    return job
