"""Permission checks for service writes: 404 when the actor cannot see the object, 403 when it can."""

from typing import Any

from backroom.accounts.permissions import ORG_VIEW
from backroom.kernel.exceptions import NotFound, PermissionDenied


def require_permission(actor: Any, permission: str, node: Any | None = None) -> None:
    """Raise unless `actor` holds `permission` at `node` (or anywhere when node is None)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise PermissionDenied()
    if actor.has_scoped_permission(permission, node):
        return
    if node is not None and not actor.has_scoped_permission(ORG_VIEW, node):
        raise NotFound()
    raise PermissionDenied()
