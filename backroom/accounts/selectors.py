"""Reads of users, roles, memberships and tokens, scoped to the actor."""

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from backroom.accounts.models import ApiToken, Membership, Role, User
from backroom.accounts.permissions import ACCOUNTS_VIEW
from backroom.kernel.exceptions import NotFound
from backroom.kernel.scoping import scope_q


def users_for(actor: Any, permission: str = ACCOUNTS_VIEW) -> QuerySet[User]:
    """Users holding a membership inside the actor's scope (and the actor itself)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return User.objects.none()
    paths = actor.scope_paths(permission)
    if paths is None:
        return User.objects.all()
    own = Q(pk=actor.pk)
    if not paths:
        return User.objects.filter(own)
    inside = Membership.objects.filter(Q(user=OuterRef("pk")) & scope_q("node", paths))
    visible = own | Q(Exists(inside))
    if any(path.count("/") == 2 for path in paths):
        # Holders at the root also see users who hold no role yet (just created, or all revoked).
        visible |= ~Q(Exists(Membership.objects.filter(user=OuterRef("pk"))))
    return User.objects.filter(visible)


def get_user(actor: Any, user_id: int, permission: str = ACCOUNTS_VIEW) -> User:
    try:
        return users_for(actor, permission).get(pk=user_id)
    except User.DoesNotExist:
        raise NotFound() from None


def memberships_for(actor: Any, permission: str = ACCOUNTS_VIEW) -> QuerySet[Membership]:
    return Membership.objects.restrict(actor, permission).select_related("user", "role", "node")


def roles() -> QuerySet[Role]:
    """Roles are catalogue data, visible to every signed-in user."""
    return Role.objects.order_by("code")


def tokens_of(actor: Any) -> QuerySet[ApiToken]:
    """An actor's own API tokens."""
    if actor is None or not getattr(actor, "is_authenticated", False) or actor.pk is None:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user_id=actor.pk).select_related("role", "node")
