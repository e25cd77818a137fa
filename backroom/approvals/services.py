"""Writes to approval policies (create, edit → new version, publish) and the routing reads that
the editor's "Test this policy" and, next slice, the request runtime use.

Selection rule (`select_policy`): among active policies of the document type that have a
published version and whose scope is the document's node, one of its ancestors, or chain-wide,
the most specific scope wins (deepest node first, chain-wide last); within one scope, policies
are tried oldest first (by id) and the first whose in-force condition holds is chosen; when no
policy at a scope matches, the next broader scope is tried. No match returns None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.accounts.models import Role, User
from backroom.approvals import selectors
from backroom.approvals.choices import ApproverKind, ApproverLevel, BreachAction, StepMode
from backroom.approvals.conditions import evaluate_activation, to_cel_values, validate_condition
from backroom.approvals.events import PolicyCreated, PolicyPublished, PolicyUpdated
from backroom.approvals.exceptions import VersionPublished, VersionSuperseded
from backroom.approvals.models import ApprovalPolicy, PolicyStep, PolicyVersion
from backroom.approvals.permissions import APPROVALS_MANAGE
from backroom.approvals.registry import DocumentType, get_document_type, is_registered
from backroom.audit.services import record_audit, snapshot
from backroom.events.services import publish
from backroom.kernel.exceptions import ErrorCollector, ValidationFailed
from backroom.org.models import OrgNode, code_validator

MAX_STEPS = 20
MAX_SLA_HOURS = 24 * 366
MAX_ID = 2**53


@dataclass
class StepInput:
    """One step of a route, as an editor or the API gives it."""

    name: str
    approver_kind: str
    approver_params: dict[str, Any] = field(default_factory=dict)
    mode: str = StepMode.ANY_ONE
    condition: str = ""
    sla_hours: int | None = None
    on_breach: str = BreachAction.REMIND


@dataclass
class PolicyInput:
    """A whole policy: its metadata and the route of its next version."""

    document_type: str
    name: str
    steps: list[StepInput]
    condition: str = ""
    scope_node_id: int | None = None
    description: str = ""
    is_active: bool = True
    allow_self_approval: bool = False


# --- validation ------------------------------------------------------------------------------


def _valid_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _validate_approver(errors: ErrorCollector, key: str, step: StepInput) -> None:
    params = step.approver_params if isinstance(step.approver_params, dict) else None
    if params is None:
        errors.add(f"{key}.approver_params", _("Give the approver's parameters as an object."))
        return
    if step.approver_kind == ApproverKind.ROLE:
        unknown = sorted(set(params) - {"role", "level"})
        if unknown:
            errors.add(
                f"{key}.approver_params",
                _("Unknown parameters: %(names)s.") % {"names": ", ".join(unknown)},
            )
        role = params.get("role")
        if not isinstance(role, str) or not role or len(role) > 50 or "\x00" in role:
            errors.add(f"{key}.approver_params.role", _("Name the role by its code."))
        elif not Role.objects.filter(code=role).exists():
            errors.add(
                f"{key}.approver_params.role",
                _("There is no role “%(role)s”.") % {"role": role},
            )
        level = params.get("level", ApproverLevel.NODE)
        if level not in ApproverLevel.values:
            errors.add(
                f"{key}.approver_params.level",
                _("The level must be one of: %(levels)s.")
                % {"levels": ", ".join(ApproverLevel.values)},
            )
    elif step.approver_kind == ApproverKind.USERS:
        unknown = sorted(set(params) - {"user_ids"})
        if unknown:
            errors.add(
                f"{key}.approver_params",
                _("Unknown parameters: %(names)s.") % {"names": ", ".join(unknown)},
            )
        user_ids = params.get("user_ids")
        if (
            not isinstance(user_ids, list)
            or not user_ids
            or len(user_ids) > 50
            or not all(_valid_id(user_id) for user_id in user_ids)
        ):
            errors.add(f"{key}.approver_params.user_ids", _("List 1–50 user ids."))
        else:
            found = set(
                User.objects.filter(pk__in=user_ids, is_active=True).values_list("pk", flat=True)
            )
            missing = [str(user_id) for user_id in user_ids if user_id not in found]
            if missing:
                errors.add(
                    f"{key}.approver_params.user_ids",
                    _("No active user with id %(ids)s.") % {"ids": ", ".join(missing)},
                )
            elif len(found) != len(user_ids):
                errors.add(f"{key}.approver_params.user_ids", _("A user is listed twice."))
    elif step.approver_kind == ApproverKind.REQUESTER_MANAGER:
        if params:
            errors.add(f"{key}.approver_params", _("The requester's manager takes no parameters."))
    else:
        errors.add(
            f"{key}.approver_kind",
            _("“%(kind)s” is not a kind of approver.") % {"kind": step.approver_kind},
        )


def _validate_step(
    errors: ErrorCollector, index: int, step: StepInput, document_type: DocumentType | None
) -> None:
    key = f"steps.{index}"
    if not step.name.strip():
        errors.add(f"{key}.name", _("Name the step."))
    elif len(step.name) > 200:
        errors.add(f"{key}.name", _("A step name may have at most 200 characters."))
    _validate_approver(errors, key, step)
    if step.mode not in StepMode.values:
        errors.add(f"{key}.mode", _("“%(mode)s” is not a step mode.") % {"mode": step.mode})
    if step.on_breach not in BreachAction.values:
        errors.add(
            f"{key}.on_breach",
            _("“%(action)s” is not a breach action.") % {"action": step.on_breach},
        )
    if step.sla_hours is not None and not 1 <= step.sla_hours <= MAX_SLA_HOURS:
        errors.add(
            f"{key}.sla_hours",
            _("The SLA must be 1–%(max)s hours.") % {"max": MAX_SLA_HOURS},
        )
    if step.sla_hours is None and step.on_breach != BreachAction.REMIND:
        errors.add(f"{key}.sla_hours", _("An action on breach needs an SLA."))
    if document_type is not None:
        validate_condition(errors, f"{key}.condition", step.condition, document_type)


def _resolve_scope(scope_node_id: int | None) -> OrgNode | None:
    if scope_node_id is None:
        return None
    node = OrgNode.objects.filter(pk=scope_node_id).first() if _valid_id(scope_node_id) else None
    if node is None:
        raise ValidationFailed({"scope_node_id": [_("This org node does not exist.")]})
    return node


def _validate(data: PolicyInput, *, policy: ApprovalPolicy | None = None) -> DocumentType | None:
    """Every problem of a policy input at once (raises ValidationFailed)."""
    errors = ErrorCollector()
    document_type = None
    if policy is not None and data.document_type != policy.document_type:
        errors.add("document_type", _("The document type of a policy cannot change."))
    elif not is_registered(data.document_type):
        errors.add(
            "document_type",
            _("“%(code)s” is not a registered document type.") % {"code": data.document_type},
        )
    else:
        document_type = get_document_type(data.document_type)
    name = data.name.strip()
    if not name:
        errors.add("name", _("Name the policy."))
    elif len(name) > 200:
        errors.add("name", _("A policy name may have at most 200 characters."))
    else:
        clash = ApprovalPolicy.objects.filter(document_type=data.document_type, name=name)
        if policy is not None:
            clash = clash.exclude(pk=policy.pk)
        if clash.exists():
            errors.add("name", _("Another policy for this document type has this name."))
    if document_type is not None:
        validate_condition(errors, "condition", data.condition, document_type)
    if not data.steps:
        errors.add("steps", _("A policy needs at least one step."))
    elif len(data.steps) > MAX_STEPS:
        errors.add("steps", _("A policy may have at most %(max)s steps.") % {"max": MAX_STEPS})
    else:
        for index, step in enumerate(data.steps):
            _validate_step(errors, index, step, document_type)
    errors.raise_if_any()
    return document_type


# --- writes ----------------------------------------------------------------------------------


def _route(condition: str, allow_self_approval: bool, steps: Sequence[StepInput]) -> dict[str, Any]:
    """A version's content as plain data: compared to decide whether an edit needs a version."""
    return {
        "condition": condition.strip(),
        "allow_self_approval": allow_self_approval,
        "steps": [
            {
                "name": step.name.strip(),
                "approver_kind": step.approver_kind,
                "approver_params": step.approver_params,
                "mode": step.mode,
                "condition": step.condition.strip(),
                "sla_hours": step.sla_hours,
                "on_breach": step.on_breach,
            }
            for step in steps
        ],
    }


def _version_route(version: PolicyVersion) -> dict[str, Any]:
    return _route(
        version.condition,
        version.allow_self_approval,
        [
            StepInput(
                name=step.name,
                approver_kind=step.approver_kind,
                approver_params=step.approver_params,
                mode=step.mode,
                condition=step.condition,
                sla_hours=step.sla_hours,
                on_breach=step.on_breach,
            )
            for step in version.steps.order_by("position")
        ],
    )


def _create_version(
    policy: ApprovalPolicy, number: int, route: dict[str, Any], actor: Any
) -> PolicyVersion:
    version = PolicyVersion.objects.create(
        policy=policy,
        number=number,
        condition=route["condition"],
        allow_self_approval=route["allow_self_approval"],
        created_by=actor if isinstance(actor, User) else None,
    )
    PolicyStep.objects.bulk_create(
        PolicyStep(version=version, position=position, **step)
        for position, step in enumerate(route["steps"], start=1)
    )
    return version


def _policy_state(policy: ApprovalPolicy, route: dict[str, Any], number: int) -> dict[str, Any]:
    return {**snapshot(policy), "version": number, "route": route}


def create_policy(data: PolicyInput, *, actor: Any, publish_now: bool = False) -> ApprovalPolicy:
    """Create a policy with its first version (a draft unless `publish_now`)."""
    scope = _resolve_scope(data.scope_node_id)
    require_permission(actor, APPROVALS_MANAGE, scope or selectors.root_node())
    _validate(data)
    route = _route(data.condition, data.allow_self_approval, data.steps)
    with transaction.atomic():
        policy = ApprovalPolicy.objects.create(
            document_type=data.document_type,
            name=data.name.strip(),
            description=data.description,
            is_active=data.is_active,
            scope_node=scope,
        )
        version = _create_version(policy, 1, route, actor)
        record_audit(
            actor=actor,
            action="approvals.policy.create",
            target=policy,
            after=_policy_state(policy, route, 1),
            org_node=scope,
        )
        publish(
            PolicyCreated(
                policy_id=policy.pk, document_type=policy.document_type, name=policy.name, version=1
            ),
            org_node=scope,
        )
        if publish_now:
            publish_version(version, actor=actor)
    return policy


def update_policy(
    policy: ApprovalPolicy,
    data: PolicyInput,
    *,
    actor: Any,
    reason: str = "",
    publish_now: bool = False,
) -> ApprovalPolicy:
    """Replace a policy's metadata and route. A changed route becomes a new version (a draft
    unless `publish_now`); existing versions, published or not, are never changed."""
    require_permission(actor, APPROVALS_MANAGE, selectors.policy_node(policy))
    scope = _resolve_scope(data.scope_node_id)
    if scope != policy.scope_node:
        require_permission(actor, APPROVALS_MANAGE, scope or selectors.root_node())
    _validate(data, policy=policy)
    route = _route(data.condition, data.allow_self_approval, data.steps)
    with transaction.atomic():
        policy = ApprovalPolicy.objects.select_for_update().get(pk=policy.pk)
        latest = selectors.latest_version(policy)
        before = _policy_state(policy, _version_route(latest), latest.number)
        changed = [
            name
            for name, value in (
                ("name", data.name.strip()),
                ("description", data.description),
                ("is_active", data.is_active),
                ("scope_node_id", scope.pk if scope else None),
            )
            if getattr(policy, name) != value
        ]
        version = latest
        if route != before["route"]:
            version = _create_version(policy, latest.number + 1, route, actor)
            changed.append("route")
        if changed:
            policy.name = data.name.strip()
            policy.description = data.description
            policy.is_active = data.is_active
            policy.scope_node = scope
            policy.save()
            record_audit(
                actor=actor,
                action="approvals.policy.update",
                target=policy,
                before=before,
                after=_policy_state(policy, route, version.number),
                reason=reason,
                org_node=scope,
            )
            publish(
                PolicyUpdated(
                    policy_id=policy.pk,
                    document_type=policy.document_type,
                    changed=changed,
                    version=version.number,
                ),
                org_node=scope,
            )
        if publish_now and not version.is_published:
            publish_version(version, actor=actor)
    return policy


def publish_version(version: PolicyVersion, *, actor: Any) -> PolicyVersion:
    """Put a version in force for new requests. Publishing is once; older versions cannot be
    published over a newer published one (that would roll the policy back silently)."""
    policy = version.policy
    require_permission(actor, APPROVALS_MANAGE, selectors.policy_node(policy))
    with transaction.atomic():
        ApprovalPolicy.objects.select_for_update().filter(pk=policy.pk).get()
        version.refresh_from_db()
        if version.is_published:
            raise VersionPublished(details={"version": version.number})
        if policy.versions.filter(number__gt=version.number, published_at__isnull=False).exists():
            raise VersionSuperseded(details={"version": version.number})
        now = timezone.now()
        user = actor if isinstance(actor, User) else None
        PolicyVersion.objects.filter(pk=version.pk, published_at__isnull=True).update(
            published_at=now, published_by=user
        )
        version.refresh_from_db()
        record_audit(
            actor=actor,
            action="approvals.policy.publish",
            target=policy,
            after={"version": version.number, "published_at": now.isoformat()},
            org_node=policy.scope_node,
        )
        publish(
            PolicyPublished(
                policy_id=policy.pk, document_type=policy.document_type, version=version.number
            ),
            org_node=policy.scope_node,
        )
    return version


# --- routing reads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteApprover:
    user_id: int
    username: str
    display_name: str


@dataclass(frozen=True)
class RouteStep:
    """One step as it would run for a document: whether it applies and who would approve.

    `problem` is set (and `approvers` empty) when no approver can be found, e.g. no region
    manager is assigned; a preview shows it instead of failing.
    """

    position: int
    name: str
    applies: bool
    mode: str
    approver_kind: str
    approver_description: str
    approvers: list[RouteApprover]
    problem: str | None
    condition: str
    sla_hours: int | None
    on_breach: str


def _node_label(node: OrgNode) -> str:
    return f"{node.name} ({node.code})"


def document_node(document_type: DocumentType, fields: Mapping[str, Any]) -> OrgNode | None:
    """The org node a document belongs to, from its node field (the store code)."""
    code = fields.get(document_type.node_field) if document_type.node_field else None
    if not isinstance(code, str):
        return None
    try:
        code_validator(code)
    except Exception:
        return None
    return OrgNode.objects.filter(code=code).first()


def _ancestor_of_kind(node: OrgNode, kind: str) -> OrgNode | None:
    return OrgNode.objects.filter(pk__in=node.ancestor_ids(), kind=kind).order_by("-depth").first()


def _with_derived_fields(
    document_type: DocumentType, fields: Mapping[str, Any], node: OrgNode | None
) -> dict[str, Any]:
    """Fill `region` from the document's node when the caller did not give it."""
    values = dict(fields)
    if node is not None and document_type.get_field("region") and not values.get("region"):
        region = _ancestor_of_kind(node, "region")
        if region is not None:
            values["region"] = region.code
    return values


def _users(queryset: Any) -> list[RouteApprover]:
    return [
        RouteApprover(user.pk, user.username, user.display_name or user.username)
        for user in queryset
    ]


def _resolve_approvers(
    step: PolicyStep, node: OrgNode | None, fields: Mapping[str, Any]
) -> tuple[str, list[RouteApprover], str | None]:
    """(description, approvers, problem) for a step at a document's node."""
    params = step.approver_params or {}
    if step.approver_kind == ApproverKind.ROLE:
        role = Role.objects.filter(code=params.get("role")).first()
        role_label = str(role.name) if role else str(params.get("role"))
        level = params.get("level", ApproverLevel.NODE)
        level_label = ApproverLevel(level).label if level in ApproverLevel.values else level
        if level == ApproverLevel.NODE:
            description = _("%(role)s at the document's node") % {"role": role_label}
        else:
            description = _("%(role)s of the document's %(level)s") % {
                "role": role_label,
                "level": str(level_label).lower(),
            }
        if role is None:
            return (
                description,
                [],
                _("The role “%(role)s” no longer exists.") % {"role": role_label},
            )
        if node is None:
            return description, [], _("The document's store is unknown, so no one can be found.")
        target = node if level == ApproverLevel.NODE else _ancestor_of_kind(node, level)
        if target is None:
            return (
                description,
                [],
                _("%(node)s has no %(level)s above it.")
                % {"node": _node_label(node), "level": str(level_label).lower()},
            )
        description = _("%(role)s at %(node)s") % {"role": role_label, "node": _node_label(target)}
        approvers = _users(
            User.objects.filter(is_active=True, memberships__role=role, memberships__node=target)
            .distinct()
            .order_by("username")
        )
        if not approvers:
            return (
                description,
                [],
                _("No one holds %(role)s at %(node)s.")
                % {"role": role_label, "node": _node_label(target)},
            )
        return description, approvers, None
    if step.approver_kind == ApproverKind.USERS:
        user_ids = [uid for uid in params.get("user_ids", []) if _valid_id(uid)]
        by_id = {user.pk: user for user in User.objects.filter(pk__in=user_ids, is_active=True)}
        approvers = _users(by_id[uid] for uid in user_ids if uid in by_id)
        description = ", ".join(approver.display_name for approver in approvers) or _("Named users")
        missing = [str(uid) for uid in user_ids if uid not in by_id]
        if missing:
            return (
                description,
                [],
                _("User %(ids)s is no longer active.") % {"ids": ", ".join(missing)},
            )
        return description, approvers, None
    description = _("The requester's manager")
    requester_id: Any = fields.get("requester")
    requester = (
        User.objects.select_related("manager").filter(pk=requester_id).first()
        if _valid_id(requester_id)
        else None
    )
    if requester is None:
        return description, [], _("The requester is unknown, so their manager cannot be found.")
    manager = requester.manager
    if manager is None or not manager.is_active:
        return (
            description,
            [],
            _("%(user)s has no active manager.") % {"user": requester.display_name or requester},
        )
    return description, _users([manager]), None


def preview_route(
    policy_or_version: ApprovalPolicy | PolicyVersion,
    document_type: str,
    fields: Mapping[str, Any],
    *,
    org_node: OrgNode | None = None,
) -> list[RouteStep]:
    """ "Test this policy": every step of the version (a policy's newest, draft or not) with
    whether it applies to these field values and who would approve it.

    The document's node is `org_node`, else the node named by its store code; `region` is
    filled from the node when not given. Bad field values raise ValidationFailed
    (`fields.<name>`); an approver that cannot be found is reported on its step.
    """
    version = (
        selectors.latest_version(policy_or_version)
        if isinstance(policy_or_version, ApprovalPolicy)
        else policy_or_version
    )
    if document_type != version.policy.document_type:
        raise ValidationFailed({"document_type": [_("This policy is for another document type.")]})
    definition = get_document_type(document_type)
    node = org_node or document_node(definition, fields)
    values = _with_derived_fields(definition, fields, node)
    activation = to_cel_values(definition, values)
    route = []
    for step in version.steps.order_by("position"):
        applies = evaluate_activation(step.condition, definition, activation)
        description, approvers, problem = _resolve_approvers(step, node, values)
        route.append(
            RouteStep(
                position=step.position,
                name=step.name,
                applies=applies,
                mode=step.mode,
                approver_kind=step.approver_kind,
                approver_description=description,
                approvers=approvers,
                problem=problem,
                condition=step.condition,
                sla_hours=step.sla_hours,
                on_breach=step.on_breach,
            )
        )
    return route


def version_matches(
    version: PolicyVersion, fields: Mapping[str, Any], *, org_node: OrgNode | None = None
) -> bool:
    """Whether a version's selecting condition holds for these field values."""
    definition = get_document_type(version.policy.document_type)
    node = org_node or document_node(definition, fields)
    activation = to_cel_values(definition, _with_derived_fields(definition, fields, node))
    return evaluate_activation(version.condition, definition, activation)


def select_policy(
    document_type: str, fields: Mapping[str, Any], org_node: OrgNode
) -> PolicyVersion | None:
    """The in-force policy version for a document at `org_node` (see the module for the rule)."""
    definition = get_document_type(document_type)
    activation = to_cel_values(definition, _with_derived_fields(definition, fields, org_node))
    ancestors = set(org_node.ancestor_ids())
    candidates = [
        policy
        for policy in ApprovalPolicy.objects.filter(document_type=document_type, is_active=True)
        .select_related("scope_node")
        .order_by("pk")
        if policy.scope_node_id is None or policy.scope_node_id in ancestors
    ]
    candidates.sort(key=lambda policy: -(policy.scope_node.depth if policy.scope_node else -1))
    for policy in candidates:
        version = selectors.version_in_force(policy)
        if version is not None and evaluate_activation(version.condition, definition, activation):
            return version
    return None
