"""Accounts events."""

from dataclasses import dataclass
from enum import StrEnum

from backroom.events.catalogue import event


class AccountsEvent(StrEnum):
    USER_CREATED = "accounts.user.created"
    USER_UPDATED = "accounts.user.updated"
    MEMBERSHIP_GRANTED = "accounts.membership.granted"
    MEMBERSHIP_REVOKED = "accounts.membership.revoked"
    API_TOKEN_CREATED = "accounts.api_token.created"
    API_TOKEN_REVOKED = "accounts.api_token.revoked"


@event(AccountsEvent.USER_CREATED)
@dataclass(frozen=True)
class UserCreated:
    user_id: int
    username: str


@event(AccountsEvent.MEMBERSHIP_GRANTED)
@dataclass(frozen=True)
class MembershipGranted:
    membership_id: int
    user_id: int
    role: str
    node_id: int


@event(AccountsEvent.MEMBERSHIP_REVOKED)
@dataclass(frozen=True)
class MembershipRevoked:
    membership_id: int
    user_id: int
    role: str
    node_id: int


@event(AccountsEvent.API_TOKEN_CREATED)
@dataclass(frozen=True)
class ApiTokenCreated:
    token_id: int
    user_id: int
    prefix: str


@event(AccountsEvent.API_TOKEN_REVOKED)
@dataclass(frozen=True)
class ApiTokenRevoked:
    token_id: int
    user_id: int
    prefix: str


@event(AccountsEvent.USER_UPDATED)
@dataclass(frozen=True)
class UserUpdated:
    user_id: int
    username: str
    changed: list[str]
