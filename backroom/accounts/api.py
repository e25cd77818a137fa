"""Accounts API: the signed-in user, users, memberships, roles, API tokens."""

from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status
from ninja.pagination import paginate

from backroom.accounts import selectors, services
from backroom.accounts.models import ApiToken, Membership, Role, User
from backroom.accounts.schemas import (
    AccountReasonIn,
    ApiTokenCreatedOut,
    ApiTokenIn,
    ApiTokenOut,
    MembershipFilter,
    MembershipIn,
    MembershipOut,
    MeOut,
    RoleOut,
    UserFilter,
    UserIn,
    UserOut,
    UserPatch,
)
from backroom.config.api_support import ObjectId, Pagination, errors
from backroom.kernel.exceptions import NotFound, ValidationFailed
from backroom.org.selectors import get_node

router = Router(tags=["accounts"])


def _role(code: str, field: str = "role") -> Role:
    role = selectors.roles().filter(code=code).first()
    if role is None:
        raise ValidationFailed({field: [_("There is no role “%(code)s”.") % {"code": code}]})
    return role


def _users(actor: Any) -> QuerySet[User]:
    return selectors.users_for(actor).prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("role", "node"))
    )


def _user(actor: Any, user_id: int) -> User:
    try:
        return _users(actor).get(pk=user_id)
    except User.DoesNotExist:
        raise NotFound() from None


# --- me ------------------------------------------------------------------------------------


@router.get("/me", response={200: MeOut, **errors()})
def me(request: HttpRequest) -> dict[str, Any]:
    """The caller and the roles they hold."""
    user = request.user
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,  # type: ignore[union-attr]
        "language": user.language,  # type: ignore[union-attr]
        "memberships": list(user.memberships.select_related("role", "node")),  # type: ignore[union-attr, misc]
    }


# --- users ---------------------------------------------------------------------------------


@router.get("/users", response={200: list[UserOut], **errors()})
@paginate(Pagination)
def list_users(request: HttpRequest, filters: Query[UserFilter]) -> QuerySet[User]:
    """Users holding a role inside the caller's scope (and the caller)."""
    users = _users(request.user).order_by("username")
    if filters.search:
        term = filters.search
        users = users.filter(
            Q(username__icontains=term) | Q(display_name__icontains=term) | Q(email__icontains=term)
        )
    if filters.role or filters.node_id is not None:
        held = Membership.objects.all()
        if filters.role:
            held = held.filter(role__code=filters.role)
        if filters.node_id is not None:
            held = held.filter(node_id=filters.node_id)
        users = users.filter(pk__in=held.values("user_id"))
    if filters.is_active is not None:
        users = users.filter(is_active=filters.is_active)
    return users


@router.get("/users/{user_id}", response={200: UserOut, **errors(404)})
def get_user(request: HttpRequest, user_id: Path[ObjectId]) -> User:
    return _user(request.user, user_id)


@router.post("/users", response={201: UserOut, **errors(400, 403, 404)})
def create_user(request: HttpRequest, payload: UserIn) -> Status[User]:
    """Create a user, optionally with a first role at a node (both or neither)."""
    node = get_node(request.user, payload.node_id) if payload.node_id is not None else None
    role = _role(payload.role) if payload.role else None
    user = services.create_user(
        services.UserInput(
            username=payload.username,
            password=payload.password,
            display_name=payload.display_name,
            email=payload.email,
            language=payload.language,
            manager_id=payload.manager_id,
        ),
        actor=request.user,
        node=node,
        role=role,
    )
    # Not re-read through the caller's scope: a user created without a role is in no one's yet.
    created = User.objects.filter(pk=user.pk).prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("role", "node"))
    )
    return Status(201, created.get())


@router.patch("/users/{user_id}", response={200: UserOut, **errors(400, 403, 404)})
def update_user(request: HttpRequest, user_id: Path[ObjectId], payload: UserPatch) -> User:
    """Change a user's display name, email, language or manager; only the fields sent change."""
    user = _user(request.user, user_id)
    data = payload.dict(exclude_unset=True)
    reason = data.pop("reason", "")
    for name in ("display_name", "email", "language"):
        if name in data and data[name] is None:
            data[name] = ""
    services.update_user(
        user,
        services.UserChanges(**data, fields=list(data)),
        actor=request.user,
        reason=reason,
    )
    return _user(request.user, user_id)


@router.post("/users/{user_id}/deactivate", response={200: UserOut, **errors(400, 403, 404)})
def deactivate_user(
    request: HttpRequest, user_id: Path[ObjectId], payload: AccountReasonIn
) -> User:
    """Stop a user signing in or using their tokens; their history stays."""
    user = _user(request.user, user_id)
    services.set_user_active(user, False, actor=request.user, reason=payload.reason)
    return _user(request.user, user_id)


@router.post("/users/{user_id}/reactivate", response={200: UserOut, **errors(400, 403, 404)})
def reactivate_user(
    request: HttpRequest, user_id: Path[ObjectId], payload: AccountReasonIn
) -> User:
    user = _user(request.user, user_id)
    services.set_user_active(user, True, actor=request.user, reason=payload.reason)
    return _user(request.user, user_id)


# --- memberships ---------------------------------------------------------------------------


@router.get("/memberships", response={200: list[MembershipOut], **errors()})
@paginate(Pagination)
def list_memberships(
    request: HttpRequest, filters: Query[MembershipFilter]
) -> QuerySet[Membership]:
    """Roles held at nodes inside the caller's scope."""
    memberships = selectors.memberships_for(request.user).order_by("node__path", "user_id", "pk")
    if filters.user_id is not None:
        memberships = memberships.filter(user_id=filters.user_id)
    if filters.role:
        memberships = memberships.filter(role__code=filters.role)
    if filters.node_id is not None:
        memberships = memberships.filter(node_id=filters.node_id)
    return memberships


@router.post("/memberships", response={201: MembershipOut, **errors(400, 403, 404)})
def grant_membership(request: HttpRequest, payload: MembershipIn) -> Status[Membership]:
    """Give a user a role at a node (covering its subtree); granting twice returns the first."""
    user = _user(request.user, payload.user_id)
    node = get_node(request.user, payload.node_id)
    role = _role(payload.role)
    return Status(201, services.grant_membership(user, role, node, actor=request.user))


@router.delete(
    "/memberships/{membership_id}", response={200: MembershipOut, **errors(400, 403, 404)}
)
def revoke_membership(
    request: HttpRequest, membership_id: Path[ObjectId], params: Query[AccountReasonIn]
) -> MembershipOut:
    """Take a role away; returns the membership as it was."""
    try:
        membership = selectors.memberships_for(request.user).get(pk=membership_id)
    except Membership.DoesNotExist:
        raise NotFound() from None
    revoked = MembershipOut.from_orm(membership)
    services.revoke_membership(membership, actor=request.user, reason=params.reason)
    return revoked


# --- roles ---------------------------------------------------------------------------------


@router.get("/roles", response={200: list[RoleOut], **errors()})
@paginate(Pagination)
def list_roles(request: HttpRequest) -> QuerySet[Role]:
    """Roles (named permission sets) that can be granted."""
    return selectors.roles()


# --- API tokens ----------------------------------------------------------------------------


@router.get("/tokens", response={200: list[ApiTokenOut], **errors()})
@paginate(Pagination)
def list_tokens(request: HttpRequest) -> QuerySet[ApiToken]:
    """The caller's own tokens, newest first (never the raw values)."""
    return selectors.tokens_of(request.user).order_by("-created_at", "-pk")


@router.post("/tokens", response={201: ApiTokenCreatedOut, **errors(400, 403, 404)})
def create_token(request: HttpRequest, payload: ApiTokenIn) -> Status[ApiToken]:
    """Issue a token acting as the caller with a role at a node. The raw token is shown once."""
    node = get_node(request.user, payload.node_id)
    role = _role(payload.role)
    issued = services.create_api_token(
        actor=request.user,
        name=payload.name,
        role=role,
        node=node,
        expires_in_days=payload.expires_in_days,
    )
    issued.token.token = issued.raw  # type: ignore[attr-defined]
    return Status(201, issued.token)


@router.post("/tokens/{token_id}/revoke", response={200: ApiTokenOut, **errors(400, 403, 404)})
def revoke_token(request: HttpRequest, token_id: Path[ObjectId]) -> ApiToken:
    """Revoke one of the caller's tokens at once; revoking twice is harmless."""
    try:
        token = selectors.tokens_of(request.user).get(pk=token_id)
    except ApiToken.DoesNotExist:
        raise NotFound() from None
    return services.revoke_api_token(token, actor=request.user)
