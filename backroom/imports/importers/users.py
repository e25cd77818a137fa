"""Users and their roles: one row per role a user holds at an org node, with the user's details
(display name, email, language, active) repeated on the user's rows. Written through the
accounts services (`create_user`, `grant_membership`, `update_user`, `set_user_active`:
audited, published).

Natural key: username + role + node. Roles that a user holds but the file does not list are
kept: an import grants, it never revokes. A blank detail cell leaves the user's value as it is;
two rows of one user giving different values are refused. A new user gets a long random
password that nobody is told: an administrator sets one on the user's page before they sign in."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.accounts.models import Membership, Role, User
from backroom.accounts.permissions import ACCOUNTS_MANAGE, ALL, CATALOGUE
from backroom.accounts.selectors import memberships_for
from backroom.accounts.services import (
    UserChanges,
    UserInput,
    create_user,
    grant_membership,
    set_user_active,
    update_user,
)
from backroom.imports.columns import BOOLEAN, CHOICE, CODE, TEXT, Column, Row
from backroom.imports.importers.base import CREATED, UNCHANGED, UPDATED, Change, Importer, register
from backroom.imports.permissions import IMPORTS_USE
from backroom.imports.problems import Problems
from backroom.org.models import OrgNode

PROFILE = ("display_name", "email", "language")  # changed by update_user
DETAILS = (*PROFILE, "is_active")  # is_active by set_user_active

LANGUAGE_SPELLINGS = {
    "en": ("en", "English", "英文", "英语"),
    "zh-hans": ("zh-hans", "Chinese", "Simplified Chinese", "中文", "简体中文", "zh", "zh-cn"),
}


def language_choices() -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(
        (code, LANGUAGE_SPELLINGS.get(code, (code, str(name)))) for code, name in settings.LANGUAGES
    )


@dataclass
class Person:
    """What the file says about one user, gathered over its rows."""

    username: str  # as the first row writes it
    rows: list[int] = field(default_factory=list)
    values: dict[str, dict[Any, list[int]]] = field(default_factory=dict)  # field → value → rows
    user: User | None = None

    def value(self, key: str) -> Any:
        """The one value the rows give for `key` (None when none does)."""
        given = self.values.get(key)
        return next(iter(given)) if given else None


@register
class UsersImporter(Importer):
    kind = "users"
    label = gettext_lazy("Users and roles")
    description = gettext_lazy(
        "Users and roles: one row per role a user holds at an org node (username, role code, "
        "node code), with the user's display name, email, language and active flag on each of "
        "the user's rows (or on one of them). New users get a password nobody knows: an administrator sets "
        "one on the user's page (Set a password) before they sign in. Roles not in the file are kept: an import "
        "never takes a role away."
    )
    permission = IMPORTS_USE
    writes = ACCOUNTS_MANAGE
    key_fields = ("username", "role_code", "node_code")
    columns = (
        Column(
            "username",
            "Username",
            "用户名",
            CODE,
            True,
            "li.wei",
            max_length=150,
            aliases=("user", "login", "user name", "账号", "登录名"),
            help=gettext_lazy("Letters, digits and @ . + - _ only."),
        ),
        Column(
            "role_code",
            "Role code",
            "角色编码",
            CODE,
            True,
            "store_manager",
            max_length=50,
            aliases=("role", "角色"),
        ),
        Column(
            "node_code",
            "Org node code",
            "组织编码",
            CODE,
            True,
            "SHA001",
            max_length=20,
            aliases=("node code", "node", "store code", "门店编码", "机构编码"),
            help=gettext_lazy("Where the role is held: it covers everything below."),
        ),
        Column(
            "display_name",
            "Display name",
            "姓名",
            TEXT,
            False,
            "李伟",
            max_length=150,
            aliases=("name", "full name", "显示名称"),
        ),
        Column(
            "email",
            "Email",
            "邮箱",
            TEXT,
            False,
            "li.wei@example.com",
            max_length=254,
            aliases=("e-mail", "email address", "电子邮箱", "邮件"),
        ),
        Column(
            "language",
            "Language",
            "语言",
            CHOICE,
            False,
            "zh-hans",
            choices=language_choices(),
            aliases=("lang",),
        ),
        Column(
            "is_active",
            "Active",
            "启用",
            BOOLEAN,
            False,
            "yes",
            aliases=("is active", "enabled", "是否启用"),
            help=gettext_lazy(
                "No deactivates the user (they cannot sign in); yes when blank for a new user."
            ),
        ),
    )

    def __init__(self, actor: Any) -> None:
        super().__init__(actor)
        self.people: dict[str, Person] = {}
        self.nodes: dict[str, OrgNode | None] = {}
        self.roles: dict[str, Role] | None = None
        self.grantable: dict[tuple[int, int], bool] = {}
        self.managed: dict[int, bool] = {}
        self.applied: set[str] = set()

    # --- lookups ------------------------------------------------------------------------

    def role(self, code: str) -> Role | None:
        if self.roles is None:
            self.roles = {role.code.casefold(): role for role in Role.objects.all()}
        return self.roles.get(code.casefold())

    def load_nodes(self, codes: set[str]) -> None:
        missing = {code.upper() for code in codes} - set(self.nodes)
        if missing:
            for node in OrgNode.objects.filter(code__in=missing):
                self.nodes[node.code] = node
            for code in missing:
                self.nodes.setdefault(code, None)

    def node(self, code: str) -> OrgNode | None:
        self.load_nodes({code})
        return self.nodes[code.upper()]

    def load_users(self, names: set[str]) -> dict[str, User]:
        found: dict[str, User] = {}
        if names:
            for user in User.objects.filter(username__in=names):
                found[user.username.casefold()] = user
            for name in names - {user.username for user in found.values()}:
                other = User.objects.filter(username__iexact=name).first()  # rare: case differs
                if other is not None:
                    found[name.casefold()] = other
        return found

    def may_manage(self, node: OrgNode) -> bool:
        if node.pk not in self.managed:
            self.managed[node.pk] = self.actor.has_scoped_permission(ACCOUNTS_MANAGE, node)
        return self.managed[node.pk]

    def may_grant(self, role: Role, node: OrgNode) -> bool:
        """As the accounts service rules: only permissions the actor holds there itself."""
        key = (role.pk, node.pk)
        if key not in self.grantable:
            wanted = list(CATALOGUE) if ALL in role.permissions else role.permissions
            self.grantable[key] = all(
                self.actor.has_scoped_permission(permission, node) for permission in wanted
            )
        return self.grantable[key]

    # --- checking -----------------------------------------------------------------------

    def check_rows(self, rows: Sequence[Row], problems: Problems) -> None:
        self.load_nodes({row["node_code"] for row in rows if row.has("node_code")})
        users = self.load_users(
            {
                row["username"]
                for row in rows
                if row.has("username") and row["username"].casefold() not in self.people
            }
        )
        for row in rows:
            if row.has("username"):
                self.note_person(row, users, problems)
        people = [self.people[row["username"].casefold()] for row in rows if row.has("username")]
        held = set(
            Membership.objects.filter(
                user__in={person.user.pk for person in people if person.user is not None}
            ).values_list("user_id", "role_id", "node_id")
        )
        for row in rows:
            person = self.people.get(row["username"].casefold()) if row.has("username") else None
            user = person.user if person is not None else None
            role = self.role(row["role_code"]) if row.has("role_code") else None
            if row.has("role_code") and role is None:
                problems.add(
                    row.number,
                    "role_code",
                    "unknown_reference",
                    _("There is no role %(code)s.") % {"code": row["role_code"]},
                )
            node = self.node(row["node_code"]) if row.has("node_code") else None
            if row.has("node_code") and node is None:
                problems.add(
                    row.number,
                    "node_code",
                    "unknown_reference",
                    _("There is no org node %(code)s.") % {"code": row["node_code"]},
                )
            elif node is not None and not self.may_manage(node):
                problems.add(
                    row.number,
                    "node_code",
                    "permission_denied",
                    _("You may not manage users at %(code)s.") % {"code": node.code},
                )
            elif (
                node is not None
                and role is not None
                and (user is None or (user.pk, role.pk, node.pk) not in held)
                and not self.may_grant(role, node)
            ):
                problems.add(
                    row.number,
                    "role_code",
                    "permission_denied",
                    _(
                        "You cannot grant “%(role)s” at %(code)s: it includes permissions "
                        "you do not hold there."
                    )
                    % {"role": role.code, "code": node.code},
                )

    def note_person(self, row: Row, users: dict[str, User], problems: Problems) -> None:
        username = row["username"]
        key = username.casefold()
        person = self.people.get(key)
        if person is None:
            person = self.people[key] = Person(username, user=users.get(key))
        if person.user is None:
            try:
                User.username_validator(username)
            except ValidationError:
                problems.add(
                    row.number,
                    "username",
                    "invalid_value",
                    _("“%(value)s” is not a username: use letters, digits and @ . + - _ only.")
                    % {"value": username},
                )
        person.rows.append(row.number)
        if row.has("email"):
            try:
                validate_email(row["email"])
            except ValidationError:
                problems.add(
                    row.number,
                    "email",
                    "invalid_value",
                    _("“%(value)s” is not an email address.") % {"value": row["email"]},
                )
        for detail in DETAILS:
            if row.has(detail):
                person.values.setdefault(detail, {}).setdefault(row[detail], []).append(row.number)

    def finish_check(self, problems: Problems) -> None:
        """One value per detail of a user; changing an existing user's details needs
        accounts.manage wherever that user holds a role (as the accounts service rules)."""
        for person in self.people.values():
            for detail, given in person.values.items():
                if len(given) < 2:
                    continue
                for value, numbers in given.items():
                    others = sorted(
                        number for other, rows in given.items() if other != value for number in rows
                    )
                    for number in numbers:
                        problems.add(
                            number,
                            detail,
                            "conflicting_value",
                            _(
                                "%(username)s has another %(column)s on row %(rows)s: give "
                                "a user one value (or leave the other cells blank)."
                            )
                            % {
                                "username": person.username,
                                "column": self.column(detail).label,
                                "rows": ", ".join(str(number) for number in others),
                            },
                        )
            if person.user is not None and self.changed_details(person, person.user):
                outside = [
                    membership.node.code
                    for membership in person.user.memberships.select_related("node")
                    if not self.may_manage(membership.node)
                ]
                if outside:
                    for number in person.rows:
                        problems.add(
                            number,
                            "username",
                            "permission_denied",
                            _(
                                "%(username)s also holds roles at %(codes)s, where you "
                                "may not manage users: you may not change their details."
                            )
                            % {
                                "username": person.user.username,
                                "codes": ", ".join(sorted(outside)),
                            },
                        )

    def changed_details(self, person: Person, user: User) -> list[str]:
        changed = []
        for detail in DETAILS:
            value = person.value(detail)
            if value is not None and value != getattr(user, detail):
                changed.append(detail)
        return changed

    # --- applying -----------------------------------------------------------------------

    def apply_rows(self, rows: Sequence[Row]) -> list[Change]:
        self.load_nodes({row["node_code"] for row in rows})
        users = self.load_users({row["username"] for row in rows})
        changes = []
        for row in rows:
            key = row["username"].casefold()
            person = self.people[key]
            role = self.role(row["role_code"])
            node = self.node(row["node_code"])
            assert role is not None and node is not None, "checked rows resolve"
            user = users.get(key)
            changed: list[str] = []
            if user is None:
                user = self.create(person, role, node)
                users[key] = user
                self.applied.add(key)
                action = CREATED
            else:
                if key not in self.applied:
                    changed = self.update(person, user)
                    self.applied.add(key)
                granted = not Membership.objects.filter(user=user, role=role, node=node).exists()
                if granted:
                    grant_membership(user, role, node, actor=self.actor)
                action = CREATED if granted else UPDATED if changed else UNCHANGED
            changes.append(
                Change(row.number, action, f"{user.username}/{role.code}/{node.code}", changed)
            )
        return changes

    def create(self, person: Person, role: Role, node: OrgNode) -> User:
        user = create_user(
            UserInput(
                username=person.username,
                password=secrets.token_urlsafe(32),  # nobody knows it: an administrator sets one
                display_name=person.value("display_name") or "",
                email=person.value("email") or "",
                language=person.value("language") or "",
            ),
            actor=self.actor,
            node=node,
            role=role,
        )
        if person.value("is_active") is False:
            set_user_active(user, False, actor=self.actor, reason=str(_("Users import")))
        return user

    def update(self, person: Person, user: User) -> list[str]:
        changed = self.changed_details(person, user)
        profile = [detail for detail in changed if detail in PROFILE]
        if profile:
            update_user(
                user,
                UserChanges(
                    display_name=person.value("display_name") or "",
                    email=person.value("email") or "",
                    language=person.value("language") or "",
                    fields=profile,
                ),
                actor=self.actor,
                reason=str(_("Users import")),
            )
        if "is_active" in changed:
            set_user_active(
                user, person.value("is_active"), actor=self.actor, reason=str(_("Users import"))
            )
        return changed

    # --- exporting ----------------------------------------------------------------------

    def export(self) -> Iterator[dict[str, Any]]:
        """Every role held at a node where the actor manages users, with its user's details.
        Users without a role are left out (a row needs a role and a node)."""
        memberships = memberships_for(self.actor, ACCOUNTS_MANAGE).order_by(
            "user__username", "node__path", "role__code"
        )
        for membership in memberships.iterator(chunk_size=1000):
            user = membership.user
            yield {
                "username": user.username,
                "role_code": membership.role.code,
                "node_code": membership.node.code,
                "display_name": user.display_name,
                "email": user.email,
                "language": user.language,
                "is_active": user.is_active,
            }
