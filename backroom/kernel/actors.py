"""The system actor: jobs, the demo seed and migrations act as it. Unrestricted and audited."""

from typing import Any


class SystemActor:
    is_authenticated = True
    is_active = True
    is_superuser = True
    pk = None
    username = "system"

    def scope_paths(self, permission: str) -> list[str] | None:
        return None

    def has_scoped_permission(self, permission: str, node: Any | None = None) -> bool:
        return True

    def __str__(self) -> str:
        return "system"


SYSTEM = SystemActor()
