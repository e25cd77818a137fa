"""Org scoping: one path from an actor to the rows they may see, shared by pages, API and exports.

A scoped model names the org node it hangs off with `scope_field` (a lookup path to a node with
a materialised `path`, e.g. "node" or "site__node"; "" for the node model itself). The actor
answers `scope_paths(permission)`: the tree paths where it holds that permission, or None when
it is unrestricted. The kernel knows nothing else about users or the org tree.
"""

from __future__ import annotations

from functools import reduce
from operator import or_
from typing import Any, Protocol, Self

from django.db import models


class ScopedActor(Protocol):
    def scope_paths(self, permission: str) -> list[str] | None: ...


def scope_q(scope_field: str, paths: list[str]) -> models.Q:
    lookup = f"{scope_field}__path__startswith" if scope_field else "path__startswith"
    return reduce(or_, (models.Q(**{lookup: path}) for path in paths))


class OrgScopedQuerySet(models.QuerySet):
    def restrict(self, actor: Any, permission: str) -> Self:
        """Rows under the subtrees where `actor` holds `permission`; none for anonymous users."""
        if actor is None or not getattr(actor, "is_authenticated", False):
            return self.none()
        paths = actor.scope_paths(permission)
        if paths is None:
            return self
        if not paths:
            return self.none()
        scope_field = getattr(self.model, "scope_field", "")
        return self.filter(scope_q(scope_field, paths))
