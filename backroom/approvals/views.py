"""Approval policy pages for administrators: the list, the editor (steps as a form list), the
version history, publishing, and "Test this policy".

Everything needs `approvals.manage` somewhere; a policy is then read through
`selectors.get_policy` (another scope's policy is a 404, chain-wide policies need the permission
at the top node). Thin views: they read what was typed into `services.PolicyInput`, call the
services and render. Adding, removing and moving step rows are submit buttons that re-render the
form as typed and save nothing, so the editor works without scripts.

A save reports every problem at once, each next to its field: the service's keys (`condition`,
`steps.2.condition`, `steps.0.approver_params.role`...) map to the row and field they name.
What cannot even be read (an SLA that is not a number, an unknown username) is reported the same
way; the service still checks the rest in a transaction that is always rolled back, so the
conditions' errors show in the same answer and nothing is saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from backroom.accounts.models import Role, User
from backroom.approvals import selectors, services
from backroom.approvals.choices import ApproverKind, ApproverLevel, BreachAction, StepMode
from backroom.approvals.models import ApprovalPolicy, PolicyVersion
from backroom.approvals.permissions import APPROVALS_MANAGE
from backroom.approvals.registry import (
    DocumentType,
    FieldType,
    document_types,
    get_document_type,
    is_registered,
)
from backroom.kernel.exceptions import DomainError, ValidationFailed
from backroom.org.models import OrgNode
from backroom.web.errors import page
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page

# The editor's "Finance of the document's legal entity": a role step with fixed parameters.
FINANCE = "finance"
FINANCE_PARAMS = {"role": "finance", "level": ApproverLevel.ENTITY.value}
STEP_FIELDS = (
    "name",
    "kind",
    "role",
    "level",
    "users",
    "mode",
    "condition",
    "sla_hours",
    "on_breach",
)
# Service error keys below `steps.<i>.` → the row's field that shows them.
STEP_ERROR_FIELDS = {
    "name": "name",
    "approver_kind": "kind",
    "approver_params": "kind",
    "approver_params.role": "role",
    "approver_params.level": "level",
    "approver_params.user_ids": "users",
    "mode": "mode",
    "condition": "condition",
    "sla_hours": "sla_hours",
    "on_breach": "on_breach",
}
POLICY_FIELDS = ("name", "document_type", "scope_node_id", "condition", "description", "steps")


def approver_kinds() -> list[tuple[str, str]]:
    return [
        (ApproverKind.ROLE.value, _("A role")),
        (ApproverKind.USERS.value, _("Named users")),
        (ApproverKind.REQUESTER_MANAGER.value, _("The requester's manager")),
        (FINANCE, _("Finance of the legal entity")),
    ]


@dataclass
class StepRow:
    """One step of the form as shown (or as typed), with its errors by field."""

    name: str = ""
    kind: str = ApproverKind.ROLE.value
    role: str = ""
    level: str = ApproverLevel.STORE.value
    users: str = ""
    mode: str = StepMode.ANY_ONE.value
    condition: str = ""
    sla_hours: str = ""
    on_breach: str = BreachAction.REMIND.value
    errors: dict[str, list[str]] = field(default_factory=dict)

    def errors_of(self, name: str) -> list[str]:
        return self.errors.get(name, [])

    @property
    def name_errors(self) -> list[str]:
        return self.errors_of("name")

    @property
    def kind_errors(self) -> list[str]:
        return self.errors_of("kind")

    @property
    def role_errors(self) -> list[str]:
        return self.errors_of("role")

    @property
    def level_errors(self) -> list[str]:
        return self.errors_of("level")

    @property
    def users_errors(self) -> list[str]:
        return self.errors_of("users")

    @property
    def mode_errors(self) -> list[str]:
        return self.errors_of("mode")

    @property
    def condition_errors(self) -> list[str]:
        return self.errors_of("condition")

    @property
    def sla_errors(self) -> list[str]:
        return self.errors_of("sla_hours")

    @property
    def breach_errors(self) -> list[str]:
        return self.errors_of("on_breach")

    @property
    def other_errors(self) -> list[str]:
        return [text for name, texts in self.errors.items() if name == "" for text in texts]


@dataclass
class PolicyForm:
    """The whole editor form: the policy's metadata and its steps."""

    name: str = ""
    document_type: str = ""
    scope_node_id: str = ""
    condition: str = ""
    description: str = ""
    is_active: bool = True
    allow_self_approval: bool = False
    steps: list[StepRow] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def errors_of(self, name: str) -> list[str]:
        return self.errors.get(name, [])

    @property
    def name_errors(self) -> list[str]:
        return self.errors_of("name")

    @property
    def document_type_errors(self) -> list[str]:
        return self.errors_of("document_type")

    @property
    def scope_errors(self) -> list[str]:
        return self.errors_of("scope_node_id")

    @property
    def condition_errors(self) -> list[str]:
        return self.errors_of("condition")

    @property
    def description_errors(self) -> list[str]:
        return self.errors_of("description")

    @property
    def steps_errors(self) -> list[str]:
        return self.errors_of("steps")

    @property
    def other_errors(self) -> list[str]:
        return [
            text
            for name, texts in self.errors.items()
            if name not in POLICY_FIELDS
            for text in texts
        ]

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(step.errors for step in self.steps)

    def add_error(self, key: str, message: str) -> None:
        """Put a service error where its key points: a policy field or a step row's field."""
        if key.startswith("steps."):
            index_text, _dot, rest = key[len("steps.") :].partition(".")
            if index_text.isdigit() and int(index_text) < len(self.steps):
                row = self.steps[int(index_text)]
                row.errors.setdefault(STEP_ERROR_FIELDS.get(rest, ""), []).append(message)
                return
        self.errors.setdefault(key, []).append(message)


# --- reading the form ------------------------------------------------------------------------


def _usernames(user_ids: list[Any]) -> str:
    names = dict(User.objects.filter(pk__in=user_ids).values_list("pk", "username"))
    return ", ".join(names.get(user_id, str(user_id)) for user_id in user_ids)


def form_from_version(policy: ApprovalPolicy, version: PolicyVersion) -> PolicyForm:
    """The editor filled from a policy and one of its versions."""
    rows = []
    for step in version.steps.order_by("position"):
        params = step.approver_params or {}
        kind = step.approver_kind
        if kind == ApproverKind.ROLE and params == FINANCE_PARAMS:
            kind = FINANCE
        rows.append(
            StepRow(
                name=step.name,
                kind=kind,
                role=str(params.get("role", "")),
                level=str(params.get("level", ApproverLevel.NODE.value)),
                users=_usernames(params.get("user_ids", [])),
                mode=step.mode,
                condition=step.condition,
                sla_hours="" if step.sla_hours is None else str(step.sla_hours),
                on_breach=step.on_breach,
            )
        )
    return PolicyForm(
        name=policy.name,
        document_type=policy.document_type,
        scope_node_id="" if policy.scope_node_id is None else str(policy.scope_node_id),
        condition=version.condition,
        description=policy.description,
        is_active=policy.is_active,
        allow_self_approval=version.allow_self_approval,
        steps=rows,
    )


def read_form(request: HttpRequest) -> PolicyForm:
    """The form exactly as typed (rows in the order posted)."""
    data = request.POST
    form = PolicyForm(
        name=data.get("name", "").strip(),
        document_type=data.get("document_type", "").strip(),
        scope_node_id=data.get("scope_node_id", "").strip(),
        condition=data.get("condition", ""),
        description=data.get("description", "").strip(),
        is_active=data.get("is_active") == "on",
        allow_self_approval=data.get("allow_self_approval") == "on",
    )
    count = min(posted_id(data.get("step_count")) or 0, services.MAX_STEPS + 5)
    for index in range(count):
        prefix = f"steps-{index}-"
        row = StepRow()
        for name in STEP_FIELDS:
            setattr(row, name, data.get(prefix + name, "").strip())
        form.steps.append(row)
    return form


def apply_row_action(form: PolicyForm, action: str) -> bool:
    """Add, remove or move a row (`add`, `remove:2`, `up:2`, `down:2`); False if not an action."""
    if action == "add":
        form.steps.append(StepRow())
        return True
    verb, _colon, index_text = action.partition(":")
    if verb not in ("remove", "up", "down") or not index_text.isdigit():
        return False
    index = int(index_text)
    if not 0 <= index < len(form.steps):
        return True
    if verb == "remove":
        del form.steps[index]
    else:
        other = index - 1 if verb == "up" else index + 1
        if 0 <= other < len(form.steps):
            form.steps[index], form.steps[other] = form.steps[other], form.steps[index]
    return True


def to_input(form: PolicyForm) -> tuple[services.PolicyInput, dict[str, list[str]]]:
    """The service input, and errors for what could not even be read (keyed like the service's)."""
    errors: dict[str, list[str]] = {}
    scope_id = None
    if form.scope_node_id:
        scope_id = posted_id(form.scope_node_id)
        if scope_id is None:
            errors.setdefault("scope_node_id", []).append(_("Choose a node from the list."))
    steps = []
    for index, row in enumerate(form.steps):
        key = f"steps.{index}"
        kind = row.kind
        params: dict[str, Any] = {}
        if kind == FINANCE:
            kind, params = ApproverKind.ROLE.value, dict(FINANCE_PARAMS)
        elif kind == ApproverKind.ROLE:
            params = {"role": row.role, "level": row.level or ApproverLevel.NODE.value}
        elif kind == ApproverKind.USERS:
            names = [name.strip() for name in row.users.replace(";", ",").split(",")]
            names = [name for name in names if name]
            found = dict(User.objects.filter(username__in=names).values_list("username", "pk"))
            unknown = [name for name in names if name not in found]
            if unknown:
                errors.setdefault(f"{key}.approver_params.user_ids", []).append(
                    _("No user “%(names)s”.") % {"names": "”, “".join(unknown)}
                )
            params = {"user_ids": [found[name] for name in names if name in found]}
        sla_hours = None
        if row.sla_hours:
            try:
                sla_hours = int(row.sla_hours)
            except ValueError:
                errors.setdefault(f"{key}.sla_hours", []).append(
                    _("Give the SLA as a whole number of hours.")
                )
        steps.append(
            services.StepInput(
                name=row.name,
                approver_kind=kind,
                approver_params=params,
                mode=row.mode,
                condition=row.condition,
                sla_hours=sla_hours,
                on_breach=row.on_breach or BreachAction.REMIND.value,
            )
        )
    data = services.PolicyInput(
        document_type=form.document_type,
        name=form.name,
        steps=steps,
        condition=form.condition,
        scope_node_id=scope_id,
        description=form.description,
        is_active=form.is_active,
        allow_self_approval=form.allow_self_approval,
    )
    return data, errors


class _DryRun(Exception):
    """Rolls back a save that only ran to collect the service's own errors."""


def save(
    form: PolicyForm, save_call: Callable[[services.PolicyInput], ApprovalPolicy]
) -> ApprovalPolicy | None:
    """Save through the service; on any error put every message on `form` and save nothing."""
    data, read_errors = to_input(form)
    service_errors: dict[str, list[str]] = {}
    policy = None
    try:
        with transaction.atomic():
            policy = save_call(data)
            if read_errors:
                raise _DryRun()
    except _DryRun:
        policy = None
    except ValidationFailed as error:
        service_errors = error.errors or {"": [str(error.message)]}
    for errors in (read_errors, service_errors):
        for key, texts in errors.items():
            for text in texts:
                form.add_error(key, text)
    return None if form.has_errors else policy


# --- pages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyRow:
    policy: ApprovalPolicy
    document_label: str
    latest: PolicyVersion
    in_force: PolicyVersion | None

    @property
    def has_draft(self) -> bool:
        return not self.latest.is_published


def _label(code: str) -> str:
    return str(get_document_type(code).label) if is_registered(code) else code


@page(APPROVALS_MANAGE)
def policy_list(request: HttpRequest) -> HttpResponse:
    """The policies the administrator may manage, with what is in force and what is pending."""
    policies = list(selectors.policies_for(request.user).prefetch_related("versions"))
    rows = []
    for policy in policies:
        versions = sorted(policy.versions.all(), key=lambda version: version.number)
        published = [version for version in versions if version.published_at is not None]
        rows.append(
            PolicyRow(
                policy=policy,
                document_label=_label(policy.document_type),
                latest=versions[-1],
                in_force=published[-1] if published else None,
            )
        )
    return render_page(
        request,
        "approvals/policy_list.html",
        {"title": _("Approval policies"), "rows": rows},
    )


def _scope_nodes(request: HttpRequest) -> list[OrgNode]:
    return list(
        OrgNode.objects.restrict(request.user, APPROVALS_MANAGE).order_by("path")  # type: ignore[attr-defined]
    )


def _may_manage_chain(request: HttpRequest) -> bool:
    root = selectors.root_node()
    return root is not None and bool(
        request.user.has_scoped_permission(APPROVALS_MANAGE, root)  # type: ignore[union-attr]
    )


def _preview_fields(document_type: DocumentType) -> list[dict[str, Any]]:
    return [
        {
            "name": spec.name,
            "label": str(spec.label),
            "type": spec.type.value,
            "required": spec.required,
            "input_type": {
                FieldType.MONEY: "text",
                FieldType.STRING: "text",
                FieldType.INT: "number",
                FieldType.BOOL: "checkbox",
            }[spec.type],
            "value": "",
        }
        for spec in document_type.fields
    ]


def _editor(
    request: HttpRequest,
    form: PolicyForm,
    *,
    policy: ApprovalPolicy | None = None,
    status: int = 200,
    preview: dict[str, Any] | None = None,
) -> HttpResponse:
    latest = selectors.latest_version(policy) if policy is not None else None
    in_force = selectors.version_in_force(policy) if policy is not None else None
    shown_type = form.document_type if is_registered(form.document_type) else ""
    context: dict[str, Any] = {
        "title": policy.name if policy is not None else _("New approval policy"),
        "policy": policy,
        "form": form,
        "latest": latest,
        "in_force": in_force,
        "document_types": document_types(),
        "shown_type": get_document_type(shown_type) if shown_type else None,
        "scope_nodes": [
            (node.pk, f"{'— ' * node.depth}{node.name} ({node.code})")
            for node in _scope_nodes(request)
        ],
        "may_manage_chain": _may_manage_chain(request),
        "roles": list(Role.objects.order_by("code")),
        "levels": ApproverLevel.choices,
        "kinds": approver_kinds(),
        "modes": StepMode.choices,
        "breach_actions": BreachAction.choices,
        "max_steps": services.MAX_STEPS,
        "preview_fields": (
            _preview_fields(get_document_type(policy.document_type)) if policy else []
        ),
        "version": latest,
        "route": None,
        "errors": [],
        **(preview or {}),
    }
    return render_page(
        request, "approvals/policy_form.html", context, partial="editor", status=status
    )


def _form_action(request: HttpRequest, form: PolicyForm, policy: ApprovalPolicy | None) -> Any:
    """A row action re-renders the form as typed; otherwise None (a save)."""
    action = request.POST.get("row_action", "")
    if action and apply_row_action(form, action):
        return _editor(request, form, policy=policy)
    return None


@page(APPROVALS_MANAGE)
def policy_new(request: HttpRequest) -> HttpResponse:
    """A new policy: version 1 is written as a draft (or published at once with "Save and
    publish")."""
    if request.method != "POST":
        codes = [document_type.code for document_type in document_types()]
        wanted = request.GET.get("document_type", "")
        form = PolicyForm(
            document_type=wanted if wanted in codes else (codes[0] if codes else ""),
            steps=[StepRow(name=_("Store manager"), role="store_manager")],
        )
        if not _may_manage_chain(request):
            nodes = _scope_nodes(request)
            form.scope_node_id = str(nodes[0].pk) if nodes else ""
        return _editor(request, form)
    form = read_form(request)
    if (response := _form_action(request, form, None)) is not None:
        return response
    publish_now = request.POST.get("publish") == "1"

    def create(data: services.PolicyInput) -> ApprovalPolicy:
        return services.create_policy(data, actor=request.user, publish_now=publish_now)

    policy = _save_or_raise(form, create)
    if policy is None:
        return _editor(request, form, status=422)
    messages.success(request, _("The policy “%(name)s” is saved.") % {"name": policy.name})
    return redirect("approvals:policy_edit", policy_id=policy.pk)


def _save_or_raise(
    form: PolicyForm, call: Callable[[services.PolicyInput], ApprovalPolicy]
) -> ApprovalPolicy | None:
    """`save`, letting permission and not-found errors through to the page decorator."""
    try:
        return save(form, call)
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        form.add_error("", str(error.message))
        return None


@page(APPROVALS_MANAGE)
def policy_edit(request: HttpRequest, policy_id: int) -> HttpResponse:
    """The editor of one policy. A changed route is saved as a new draft version."""
    policy = selectors.get_policy(request.user, policy_id)
    if request.method != "POST":
        return _editor(
            request, form_from_version(policy, selectors.latest_version(policy)), policy=policy
        )
    form = read_form(request)
    form.document_type = policy.document_type  # never changes
    if (response := _form_action(request, form, policy)) is not None:
        return response
    publish_now = request.POST.get("publish") == "1"
    before = selectors.latest_version(policy).number

    def update(data: services.PolicyInput) -> ApprovalPolicy:
        return services.update_policy(policy, data, actor=request.user, publish_now=publish_now)

    saved = _save_or_raise(form, update)
    if saved is None:
        return _editor(request, form, policy=policy, status=422)
    latest = selectors.latest_version(saved)
    if latest.number != before:
        messages.success(
            request,
            _("Saved as version %(number)s (%(state)s).")
            % {
                "number": latest.number,
                "state": _("published") if latest.is_published else _("draft"),
            },
        )
    else:
        messages.success(request, _("Saved; the route did not change."))
    return redirect("approvals:policy_edit", policy_id=saved.pk)


@page(APPROVALS_MANAGE)
@require_POST
def version_publish(request: HttpRequest, policy_id: int, number: int) -> HttpResponse:
    """Put a version in force for new requests."""
    policy = selectors.get_policy(request.user, policy_id)
    version = selectors.get_version(policy, number)
    try:
        services.publish_version(version, actor=request.user)
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, str(error.message))
    else:
        messages.success(
            request, _("Version %(number)s is published.") % {"number": version.number}
        )
    return redirect("approvals:policy_edit", policy_id=policy.pk)


@page(APPROVALS_MANAGE)
def version_history(request: HttpRequest, policy_id: int) -> HttpResponse:
    """Every version of a policy, newest first, read-only, with who created and published it."""
    policy = selectors.get_policy(request.user, policy_id)
    versions = list(
        selectors.versions_of(policy)
        .select_related("created_by", "published_by")
        .prefetch_related("steps")
        .reverse()
    )
    in_force = selectors.version_in_force(policy)
    roles = {role.code: str(role) for role in Role.objects.all()}
    levels = dict(ApproverLevel.choices)
    user_ids = {
        user_id
        for version in versions
        for step in version.steps.all()
        for user_id in (step.approver_params or {}).get("user_ids", [])
    }
    names = {user.pk: str(user) for user in User.objects.filter(pk__in=user_ids)}

    def approver(params: dict[str, Any], kind: str) -> str:
        if kind == ApproverKind.ROLE:
            return _("%(role)s at the document's %(level)s") % {
                "role": roles.get(params.get("role", ""), params.get("role", "")),
                "level": str(levels.get(params.get("level", ""), params.get("level", ""))).lower(),
            }
        if kind == ApproverKind.USERS:
            return ", ".join(names.get(uid, str(uid)) for uid in params.get("user_ids", []))
        return _("The requester's manager")

    history = [
        (
            version,
            [
                (step, approver(step.approver_params or {}, step.approver_kind))
                for step in sorted(version.steps.all(), key=lambda step: step.position)
            ],
        )
        for version in versions
    ]
    return render_page(
        request,
        "approvals/version_history.html",
        {
            "title": _("Versions of %(name)s") % {"name": policy.name},
            "policy": policy,
            "history": history,
            "in_force": in_force,
            "document_label": _label(policy.document_type),
        },
    )


def _preview_values(
    document_type: DocumentType, request: HttpRequest
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The typed sample document as the service takes it, and the inputs to show again."""
    values: dict[str, Any] = {}
    shown = _preview_fields(document_type)
    for spec, row in zip(document_type.fields, shown, strict=True):
        raw = request.POST.get(f"field-{spec.name}", "")
        if spec.type == FieldType.BOOL:
            row["value"] = raw == "on"
            values[spec.name] = raw == "on"
            continue
        raw = raw.strip()
        row["value"] = raw
        if raw == "" and spec.type != FieldType.STRING:
            continue
        if raw == "" and not spec.required:
            continue
        if spec.type == FieldType.INT:
            try:
                values[spec.name] = int(raw)
            except ValueError:
                values[spec.name] = raw  # the service says "Give a whole number."
        else:
            values[spec.name] = raw
    return values, shown


@page(APPROVALS_MANAGE)
@require_POST
def policy_preview(request: HttpRequest, policy_id: int) -> HttpResponse:
    """Test this policy: the route a sample document would take (changes nothing)."""
    policy = selectors.get_policy(request.user, policy_id)
    definition = get_document_type(policy.document_type)
    version = selectors.latest_version(policy)
    wanted = posted_id(request.POST.get("version"))
    if wanted is not None:
        version = selectors.get_version(policy, wanted)
    values, shown = _preview_values(definition, request)
    context: dict[str, Any] = {
        "policy": policy,
        "version": version,
        "preview_fields": shown,
        "field_errors": {},
        "errors": [],
        "route": None,
        "matches": None,
    }
    status = 200
    try:
        context["route"] = services.preview_route(version, policy.document_type, values)
        context["matches"] = services.version_matches(version, values)
    except ValidationFailed as error:
        status = 422
        for key, texts in error.errors.items():
            name = key.removeprefix("fields.")
            if definition.get_field(name) is not None:
                context["field_errors"][name] = texts
            else:
                context["errors"].extend(texts)
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        status = 422
        context["errors"].append(str(error.message))
    for row in shown:
        row["errors"] = context["field_errors"].get(row["name"], [])
    if request.headers.get("HX-Request") == "true":
        return render(request, "approvals/preview.html#preview", context, status=status)
    # Without scripts: the whole editor page, with the route under it.
    form = form_from_version(policy, selectors.latest_version(policy))
    return _editor(request, form, policy=policy, status=status, preview=context)


urlpatterns = [
    path("policies/", policy_list, name="policies"),
    path("policies/new/", policy_new, name="policy_new"),
    path("policies/<int:policy_id>/", policy_edit, name="policy_edit"),
    path("policies/<int:policy_id>/versions/", version_history, name="policy_versions"),
    path(
        "policies/<int:policy_id>/versions/<int:number>/publish/",
        version_publish,
        name="policy_publish",
    ),
    path("policies/<int:policy_id>/preview/", policy_preview, name="policy_preview"),
]
