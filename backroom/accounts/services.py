"""Writes to users, roles, memberships and API tokens; sign-in with throttling."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.accounts.events import (
    ApiTokenCreated,
    ApiTokenRevoked,
    MembershipGranted,
    MembershipRevoked,
    UserCreated,
    UserUpdated,
)
from backroom.accounts.exceptions import InvalidCredentials, LoginThrottled
from backroom.accounts.models import ApiToken, Membership, Role, User
from backroom.accounts.permissions import (
    ACCOUNTS_MANAGE,
    ALL,
    API_TOKENS_MANAGE,
    CATALOGUE,
    DEFAULT_ROLES,
)
from backroom.accounts.selectors import users_for
from backroom.audit.services import record_audit, snapshot
from backroom.events.services import publish
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import ErrorCollector, NotFound, ValidationFailed
from backroom.kernel.prepared import prepared
from backroom.org.models import OrgNode

TOKEN_PREFIX = "brt"
MAX_TOKEN_DAYS = 366


def ensure_default_roles() -> list[Role]:
    """Create the shipped roles that are missing; never overwrites an administrator's edits."""
    created = []
    for code, (name, permissions) in DEFAULT_ROLES.items():
        role, was_created = Role.objects.get_or_create(
            code=code, defaults={"name": str(name), "permissions": permissions, "is_system": True}
        )
        if was_created:
            created.append(role)
    return created


@dataclass
class UserInput:
    username: str
    password: str
    display_name: str = ""
    email: str = ""
    language: str = ""
    manager_id: int | None = None


def create_user(
    data: UserInput, *, actor: Any, node: OrgNode | None = None, role: Role | None = None
) -> User:
    """Create a user, optionally granting a first role at a node in the same transaction."""
    require_permission(actor, ACCOUNTS_MANAGE, node)
    errors = ErrorCollector()
    username = data.username.strip()
    if not username:
        errors.add("username", _("A username is required."))
    elif User.objects.filter(username__iexact=username).exists():
        errors.add("username", _("This username is taken."))
    try:
        validate_password(data.password, User(username=username, email=data.email))
    except ValidationError as error:
        for message in error.messages:
            errors.add("password", message)
    if data.language and data.language not in dict(settings.LANGUAGES):
        errors.add("language", _("Unsupported language."))
    if (node is None) != (role is None):
        errors.add("role", _("Give both a role and a node, or neither."))
    errors.raise_if_any()
    with transaction.atomic():
        user = User.objects.create_user(
            username=username,
            password=data.password,
            email=data.email,
            display_name=data.display_name,
            language=data.language,
            manager_id=data.manager_id,
        )
        record_audit(
            actor=actor,
            action="accounts.user.create",
            target=user,
            after=snapshot(user),
            org_node=node,
        )
        publish(UserCreated(user_id=user.pk, username=user.username), org_node=node)
        if node is not None and role is not None:
            grant_membership(user, role, node, actor=actor)
    return user


def _check_grantable(actor: Any, role: Role, node: OrgNode) -> None:
    """An actor may only grant permissions it holds itself at that node."""
    require_permission(actor, ACCOUNTS_MANAGE, node)
    wanted = list(CATALOGUE) if ALL in role.permissions else role.permissions
    for permission in wanted:
        if not actor.has_scoped_permission(permission, node):
            from backroom.kernel.exceptions import PermissionDenied

            raise PermissionDenied(
                _("You cannot grant “%(role)s”: it includes permissions you do not hold there.")
                % {"role": role.name}
            )


def grant_membership(user: User, role: Role, node: OrgNode, *, actor: Any) -> Membership:
    """Give `user` the role at `node` (covering its subtree). Granting twice returns the first."""
    _check_grantable(actor, role, node)
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(user=user, role=role, node=node)
        if created:
            record_audit(
                actor=actor,
                action="accounts.membership.grant",
                target=membership,
                after=snapshot(membership),
                org_node=node,
            )
            publish(
                MembershipGranted(
                    membership_id=membership.pk, user_id=user.pk, role=role.code, node_id=node.pk
                ),
                org_node=node,
            )
    user.forget_grants()
    return membership


def revoke_membership(membership: Membership, *, actor: Any, reason: str = "") -> None:
    """Take a role away. The membership row goes; the audit log keeps what it was."""
    _check_grantable(actor, membership.role, membership.node)
    with transaction.atomic():
        before = snapshot(membership)
        record_audit(
            actor=actor,
            action="accounts.membership.revoke",
            target=membership,
            before=before,
            reason=reason,
            org_node=membership.node,
        )
        publish(
            MembershipRevoked(
                membership_id=membership.pk,
                user_id=membership.user_id,
                role=membership.role.code,
                node_id=membership.node_id,
            ),
            org_node=membership.node,
        )
        membership.delete()


def set_user_active(user: User, is_active: bool, *, actor: Any, reason: str = "") -> User:
    """Deactivate (or reactivate) a user; a deactivated user cannot sign in or use tokens."""
    require_manage_user(actor, user)
    with transaction.atomic():
        before = snapshot(user, ["is_active"])
        User.objects.filter(pk=user.pk).update(is_active=is_active)
        user.is_active = is_active
        record_audit(
            actor=actor,
            action="accounts.user.activate" if is_active else "accounts.user.deactivate",
            target=user,
            before=before,
            after=snapshot(user, ["is_active"]),
            reason=reason,
        )
        publish(UserUpdated(user_id=user.pk, username=user.username, changed=["is_active"]))
    return user


# --- API tokens ---------------------------------------------------------------------------


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str  # shown once, never stored


def create_api_token(
    *, actor: Any, name: str, role: Role, node: OrgNode, expires_in_days: int = 90
) -> IssuedToken:
    """Issue a token acting as `actor` with `role` at `node`; the raw value is returned once."""
    errors = ErrorCollector()
    if not name.strip():
        errors.add("name", _("A name is required."))
    if not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        errors.add(
            "expires_in_days",
            _("A token lasts between 1 and %(days)s days.") % {"days": MAX_TOKEN_DAYS},
        )
    errors.raise_if_any()
    require_permission(actor, API_TOKENS_MANAGE, node)
    # The token may only carry what the actor holds at that node.
    _check_token_role(actor, role, node)
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=actor,
            name=name.strip(),
            prefix=prefix,
            token_hash=_hash_token(raw),
            role=role,
            node=node,
            expires_at=timezone.now() + dt.timedelta(days=expires_in_days),
        )
        record_audit(
            actor=actor,
            action="accounts.api_token.create",
            target=token,
            after=snapshot(token),
            org_node=node,
        )
        publish(ApiTokenCreated(token_id=token.pk, user_id=actor.pk, prefix=prefix), org_node=node)
    return IssuedToken(token=token, raw=raw)


def _check_token_role(actor: Any, role: Role, node: OrgNode) -> None:
    from backroom.kernel.exceptions import PermissionDenied

    wanted = list(CATALOGUE) if ALL in role.permissions else role.permissions
    missing = [p for p in wanted if not actor.has_scoped_permission(p, node)]
    if missing:
        raise PermissionDenied(
            _("The token's role includes permissions you do not hold there."),
            details={"missing": missing},
        )


def revoke_api_token(token: ApiToken, *, actor: Any) -> ApiToken:
    """Revoke one of the actor's tokens at once; revoking twice is harmless."""
    if getattr(actor, "pk", None) != token.user_id and actor is not SYSTEM:
        raise NotFound()
    if token.revoked_at is not None:
        return token
    with transaction.atomic():
        before = snapshot(token, ["revoked_at"])
        token.revoked_at = timezone.now()
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=token.revoked_at)
        record_audit(
            actor=actor,
            action="accounts.api_token.revoke",
            target=token,
            before=before,
            after=snapshot(token, ["revoked_at"]),
            org_node=token.node,
        )
        publish(
            ApiTokenRevoked(token_id=token.pk, user_id=token.user_id, prefix=token.prefix),
            org_node=token.node,
        )
    return token


@prepared
def _token(prefix: str, token_hash: str) -> QuerySet[ApiToken]:
    return ApiToken.objects.select_related("user", "role", "node").filter(
        prefix=prefix, token_hash=token_hash
    )[:1]


def authenticate_token(raw: str) -> ApiToken | None:
    """The usable token for a raw bearer value, or None. Marks it used (at most once a minute)."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    token = next(iter(_token(parts[1], _hash_token(raw))), None)
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


# --- sign-in --------------------------------------------------------------------------------


def _client_address(request: HttpRequest | None) -> str:
    return (request.META.get("REMOTE_ADDR", "") if request is not None else "") or "unknown"


def _throttle_key(username: str, request: HttpRequest | None) -> str:
    digest = hashlib.sha256(
        f"{username.strip().lower()}|{_client_address(request)}".encode()
    ).hexdigest()
    return f"login-failures:{digest}"


def sign_in(request: HttpRequest | None, username: str, password: str) -> User:
    """Check credentials, refusing after too many failures for this username from this address."""
    key = _throttle_key(username, request)
    failures = cache.get(key, 0)
    if failures >= settings.LOGIN_FAILURE_LIMIT:
        raise LoginThrottled()
    user = authenticate(request, username=username, password=password)
    if user is None:
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW)
        raise InvalidCredentials()
    cache.delete(key)
    return user  # type: ignore[return-value]


# --- profile ---------------------------------------------------------------------------------

PROFILE_FIELDS = ("display_name", "email", "language", "manager_id")
_SNAPSHOT_FIELDS = ["display_name", "email", "language", "manager"]


@dataclass
class UserChanges:
    """The profile fields to change; only the names listed in `fields` are applied."""

    display_name: str = ""
    email: str = ""
    language: str = ""
    manager_id: int | None = None
    fields: list[str] = field(default_factory=list)


def require_manage_user(actor: Any, user: User) -> None:
    """The actor must hold accounts.manage at every node where `user` holds a role.

    A user whose roles span two stores can only be changed by someone covering both; a user
    with no role at all needs accounts.manage somewhere.
    """
    nodes = [membership.node for membership in user.memberships.select_related("node")]
    if not nodes:
        require_permission(actor, ACCOUNTS_MANAGE)
    for node in nodes:
        require_permission(actor, ACCOUNTS_MANAGE, node)


def set_password(user: User, password: str, *, actor: Any, reason: str = "") -> User:
    """Set a user's password (an imported user's first, or a forgotten one): accounts.manage
    wherever the user holds a role; the password rules apply. The user's other sessions end
    (Django checks a hash of the password on each request). Audited without the password."""
    require_manage_user(actor, user)
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationFailed({"password": list(error.messages)}) from None
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.set_password(password)
        user.save(update_fields=["password"])
        record_audit(
            actor=actor,
            action="accounts.user.set_password",
            target=user,
            after={"password": "(set)"},
            reason=reason,
            org_node=_home_node(user),
        )
        publish(
            UserUpdated(user_id=user.pk, username=user.username, changed=["password"]),
            org_node=_home_node(user),
        )
    return user


def update_user(user: User, changes: UserChanges, *, actor: Any, reason: str = "") -> User:
    """Change a user's profile; audits old and new values and publishes accounts.user.updated."""
    require_manage_user(actor, user)
    errors = ErrorCollector()
    wanted = [name for name in changes.fields if name in PROFILE_FIELDS]
    if "display_name" in wanted and len(changes.display_name) > 150:
        errors.add("display_name", _("Use at most 150 characters."))
    if "email" in wanted and changes.email:
        try:
            validate_email(changes.email)
        except ValidationError:
            errors.add("email", _("Enter a valid email address."))
    if "language" in wanted and changes.language not in {"", *dict(settings.LANGUAGES)}:
        errors.add("language", _("Unsupported language."))
    if "manager_id" in wanted and changes.manager_id is not None:
        manager = users_for(actor).filter(pk=changes.manager_id).first()
        if manager is None:
            errors.add("manager_id", _("There is no such user."))
        elif _manages(user, manager):
            errors.add("manager_id", _("A user cannot report to themselves or to their reports."))
    errors.raise_if_any()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = snapshot(user, _SNAPSHOT_FIELDS)
        changed = []
        for name in wanted:
            value = getattr(changes, name)
            if name != "manager_id":
                value = value.strip()
            if value != getattr(user, name):
                setattr(user, name, value)
                changed.append(name)
        if not changed:
            return user
        user.save(update_fields=changed)
        record_audit(
            actor=actor,
            action="accounts.user.update",
            target=user,
            before=before,
            after=snapshot(user, _SNAPSHOT_FIELDS),
            reason=reason,
            org_node=_home_node(user),
        )
        publish(
            UserUpdated(user_id=user.pk, username=user.username, changed=changed),
            org_node=_home_node(user),
        )
    return user


def _manages(user: User, manager: User) -> bool:
    """True when `manager` is `user` or reports (directly or not) to `user`."""
    seen: set[int] = set()
    current: User | None = manager
    while current is not None and current.pk not in seen:
        if current.pk == user.pk:
            return True
        seen.add(current.pk)
        current = current.manager
    return False


def _home_node(user: User) -> Any:
    """The highest node where the user holds a role (the audit entry's scope), or None."""
    membership = user.memberships.select_related("node").order_by("node__depth", "node_id").first()
    return membership.node if membership is not None else None
