"""Users, roles (named permission sets), memberships (a role at an org node) and API tokens."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backroom.accounts.permissions import ALL
from backroom.kernel.models import TimestampedModel
from backroom.kernel.prepared import prepared
from backroom.kernel.scoping import OrgScopedQuerySet


class Role(TimestampedModel):
    """A named set of permission codes, held at org nodes through memberships."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    permissions = models.JSONField(_("permissions"), default=list)
    is_system = models.BooleanField(default=False, help_text=_("Shipped with Backroom"))

    class Meta:
        ordering = ["code"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def __str__(self) -> str:
        return str(self.name)

    def grants(self, permission: str) -> bool:
        return ALL in self.permissions or permission in self.permissions


class User(AbstractUser):
    """A person (or an integration's service account) who signs in."""

    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    manager = models.ForeignKey(
        "self",
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )

    objects: ClassVar[UserManager[User]] = UserManager()  # type: ignore[assignment]

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username

    # --- scoping (the kernel's ScopedActor protocol) ---------------------------------------
    def _grants(self) -> list[tuple[Role, str]]:
        """(role, node path) pairs in force for this request; a token narrows them to one."""
        cache: list[tuple[Role, str]] | None = getattr(self, "_grant_cache", None)
        if cache is None:
            memberships = _memberships(self.pk)
            # Every membership, for what a token may use; those at active nodes are in force.
            self._membership_cache = [(m.role, m.node.path) for m in memberships]
            cache = [(m.role, m.node.path) for m in memberships if m.node.is_active]
            token: ApiToken | None = getattr(self, "_api_token", None)
            if token is not None:
                cache = [
                    (token.role, token.node.path)
                    for role, path in cache
                    if token.node.path.startswith(path)
                ][:1]
            self._grant_cache = cache
        return cache

    def scope_paths(self, permission: str) -> list[str] | None:
        """Tree paths where this user holds `permission`; None when unrestricted (superuser)."""
        if not self.is_active:
            return []
        if self.is_superuser and getattr(self, "_api_token", None) is None:
            return None
        paths = set()
        for role, path in self._grants():
            if role.grants(permission) and self._token_allows(permission, path):
                paths.add(path)
        # Drop paths already covered by a shorter one.
        return sorted(p for p in paths if not any(p != q and p.startswith(q) for q in paths))

    def _token_allows(self, permission: str, token_path: str) -> bool:
        token: ApiToken | None = getattr(self, "_api_token", None)
        if token is None:
            return True
        # A token never exceeds what its user holds at that node.
        full: list[tuple[Role, str]] | None = getattr(self, "_membership_cache", None)
        if full is None:
            full = [(m.role, m.node.path) for m in _memberships(self.pk)]
            self._membership_cache = full
        return any(role.grants(permission) and token_path.startswith(path) for role, path in full)

    def has_scoped_permission(self, permission: str, node: Any | None = None) -> bool:
        """Holds `permission` somewhere (node=None) or at a node covering `node`."""
        paths = self.scope_paths(permission)
        if paths is None:
            return True
        if node is None:
            return bool(paths)
        return any(node.path.startswith(path) for path in paths)

    def role_codes(self) -> set[str]:
        return {role.code for role, _ in self._grants()}

    def forget_grants(self) -> None:
        self.__dict__.pop("_grant_cache", None)
        self.__dict__.pop("_membership_cache", None)


class Membership(TimestampedModel):
    """A role held at an org node, covering the node's whole subtree."""

    scope_field = "node"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="memberships")
    node = models.ForeignKey("org.OrgNode", on_delete=models.PROTECT, related_name="memberships")

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "node"], name="accounts_membership_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.role} @ {self.node}"


class ApiToken(TimestampedModel):
    """A bearer token for integrations: stored hashed, shown once, scoped to a role at a node."""

    scope_field = "node"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="+")
    node = models.ForeignKey("org.OrgNode", on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


@prepared
def _memberships(user_id: int) -> models.QuerySet[Membership]:
    """The user's memberships with their roles and nodes (read on every request)."""
    return Membership.objects.filter(user_id=user_id).select_related("role", "node")
