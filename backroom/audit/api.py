"""Audit API: browse entries in the caller's scope; verify the hash chain."""

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Path, Query, Router
from ninja.pagination import paginate

from backroom.audit import selectors
from backroom.audit.models import AuditEntry
from backroom.audit.schemas import AuditEntryFilter, AuditEntryOut, AuditVerifyOut
from backroom.audit.services import verify_audit_chain
from backroom.config.api_support import ObjectId, Pagination, errors
from backroom.kernel.exceptions import PermissionDenied

router = Router(tags=["audit"])


@router.get("/entries", response={200: list[AuditEntryOut], **errors()})
@paginate(Pagination)
def list_entries(request: HttpRequest, filters: Query[AuditEntryFilter]) -> QuerySet[AuditEntry]:
    """Audit entries under the nodes where the caller holds audit.view, newest first."""
    return selectors.entries_for(request.user, selectors.EntryFilter(**filters.dict()))


@router.get("/entries/{entry_id}", response={200: AuditEntryOut, **errors(404)})
def get_entry(request: HttpRequest, entry_id: Path[ObjectId]) -> AuditEntry:
    return selectors.get_entry(request.user, entry_id)


@router.get("/verify", response={200: AuditVerifyOut, **errors(403)})
def verify(request: HttpRequest) -> dict[str, object]:
    """Walk the whole chain and report the first edited, inserted or missing entry."""
    if not selectors.may_verify_chain(request.user):
        raise PermissionDenied()
    result = verify_audit_chain()
    return {
        "checked": result.checked,
        "is_valid": result.is_valid,
        "first_bad_id": result.first_bad_id,
        "problem": result.problem,
    }
