"""Accounts API schemas: users, memberships, roles, API tokens, and their list filters."""

import datetime as dt

from ninja import Field, Schema

from backroom.config.api_support import ObjectId, Text, text


class MembershipOut(Schema):
    id: int
    user_id: int
    role: str
    node_id: int
    node_code: str

    @staticmethod
    def resolve_role(obj: object) -> str:
        return obj.role.code  # type: ignore[attr-defined, no-any-return]

    @staticmethod
    def resolve_node_code(obj: object) -> str:
        return obj.node.code  # type: ignore[attr-defined, no-any-return]


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    language: str
    memberships: list[MembershipOut]


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    email: str
    language: str
    manager_id: int | None
    is_active: bool
    date_joined: dt.datetime
    last_login: dt.datetime | None
    memberships: list[MembershipOut]

    @staticmethod
    def resolve_memberships(obj: object) -> list[object]:
        return list(obj.memberships.all())  # type: ignore[attr-defined]


class UserIn(Schema):
    username: str = text(min_length=1, max_length=150)
    password: str = text(min_length=1, max_length=128)
    display_name: str = text(max_length=150, default="")
    email: str = text(max_length=254, default="")
    language: str = text(max_length=10, default="")
    manager_id: ObjectId | None = None
    role: str | None = text(max_length=50, default=None)
    node_id: ObjectId | None = Field(None, description="Where the first role is held")


class UserPatch(Schema):
    display_name: str | None = text(max_length=150, default=None)
    email: str | None = text(max_length=254, default=None)
    language: str | None = text(max_length=10, default=None)
    manager_id: ObjectId | None = Field(None, description="null clears the manager")
    reason: str = text(max_length=1000, default="")


class UserFilter(Schema):
    search: Text | None = Field(
        None, max_length=100, description="Part of the username, display name or email"
    )
    role: Text | None = Field(None, max_length=50, description="Role code")
    node_id: ObjectId | None = Field(None, description="Holds a role at this node")
    is_active: bool | None = None


class AccountReasonIn(Schema):
    reason: str = text(max_length=1000, default="")


class MembershipIn(Schema):
    user_id: ObjectId
    role: str = text(min_length=1, max_length=50)
    node_id: ObjectId


class MembershipFilter(Schema):
    user_id: ObjectId | None = None
    role: Text | None = Field(None, max_length=50, description="Role code")
    node_id: ObjectId | None = Field(None, description="Held exactly at this node")


class RoleOut(Schema):
    id: int
    code: str
    name: str
    permissions: list[str]
    is_system: bool


class ApiTokenOut(Schema):
    id: int
    name: str
    prefix: str
    role: str
    node_id: int
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_role(obj: object) -> str:
        return obj.role.code  # type: ignore[attr-defined, no-any-return]


class ApiTokenCreatedOut(ApiTokenOut):
    token: str = Field(description="The raw token: shown this once, never again")


class ApiTokenIn(Schema):
    name: str = text(min_length=1, max_length=100)
    role: str = text(min_length=1, max_length=50)
    node_id: ObjectId
    expires_in_days: int = Field(90, ge=1, le=366)
