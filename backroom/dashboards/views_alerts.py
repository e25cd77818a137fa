"""The notification centre (the alerts of the actor's stores: filter, read, acknowledge, assign,
resolve) and the alert rules (list, write with the condition checked, switch on and off, test
now). See docs/alerts.md. Views parse, call a service or selector, render."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from backroom.accounts.models import Role, User
from backroom.dashboards import rules as rule_engine
from backroom.dashboards import services
from backroom.dashboards.choices import (
    AlertSource,
    AlertStatus,
    RulePeriod,
    RuleSchedule,
    RuleScope,
    RuleTrigger,
    Severity,
)
from backroom.dashboards.kpis import KPIS
from backroom.dashboards.models import AlertRule
from backroom.dashboards.permissions import ALERT_RULES_MANAGE, ALERTS_MANAGE, ALERTS_VIEW
from backroom.dashboards.selectors_alerts import (
    AlertFilter,
    alerts_for,
    assignable_users,
    filter_alerts,
    rules_for,
    source_label,
)
from backroom.kernel.exceptions import DomainError, NotFound, ValidationFailed
from backroom.org.models import OrgNode
from backroom.org.selectors import nodes_for, stores_for
from backroom.web.errors import page, problems_text
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page

SHOWN = 100
STATUSES = ["active", "open", "acknowledged", "resolved", "all"]


def _alert(request: HttpRequest, pk: int) -> Any:
    row = alerts_for(request.user).filter(pk=pk).first()
    if row is None:
        raise NotFound()
    return row


def _filters(request: HttpRequest) -> tuple[AlertFilter, str]:
    status = request.GET.get("status", "active")
    status = status if status in STATUSES else "active"
    severity = request.GET.get("severity", "")
    source = request.GET.get("source", "")
    return (
        AlertFilter(
            status="" if status == "all" else status,
            severity=severity if severity in Severity.values else "",
            site_id=posted_id(request.GET.get("site")),
            source=source if source in AlertSource.values else "",
            assigned_to_me=request.GET.get("mine") == "1",
            is_unread=request.GET.get("unread") == "1",
        ),
        status,
    )


def figures(alert: Any) -> list[dict[str, Any]]:
    """The KPI values behind a rule's alert, labelled and formatted; a detector's details as
    they are."""
    details = alert.details or {}
    kpis = details.get("kpis")
    rows = []
    if isinstance(kpis, dict):
        condition = str(details.get("condition", ""))
        named = rule_engine.referenced_kpis(condition) if condition else []
        currency = str(details.get("currency", ""))
        for code in [*named, *[c for c in kpis if c not in named]]:
            if code not in KPIS:
                continue
            raw = kpis.get(code)
            value = None
            if raw is not None:
                try:
                    value = Decimal(str(raw))
                except InvalidOperation:
                    value = None
            rows.append(
                {
                    "code": code,
                    "label": KPIS[code].label,
                    "value": rule_engine.format_kpi(code, value, currency),
                    "in_condition": code in named,
                }
            )
        return rows
    for key, value in details.items():
        if isinstance(value, dict | list):
            continue
        rows.append(
            {
                "code": key,
                "label": key.replace("_", " ").capitalize(),
                "value": value,
                "in_condition": True,
            }
        )
    return rows


@page(ALERTS_VIEW)
def alerts(request: HttpRequest) -> HttpResponse:
    """The centre: the alerts of the actor's stores, newest first, filtered."""
    filters, status = _filters(request)
    found = filter_alerts(alerts_for(request.user), request.user, filters)
    rows = list(found[:SHOWN])
    for row in rows:
        row.source_label = source_label(row)  # type: ignore[attr-defined]
    return render_page(
        request,
        "dashboards/alerts.html",
        {
            "title": _("Alerts"),
            "alerts": rows,
            "count": found.count(),
            "shown": SHOWN,
            "filters": filters,
            "status": status,
            "statuses": [
                ("active", _("Not resolved")),
                *[(value, label) for value, label in AlertStatus.choices],
                ("all", _("All")),
            ],
            "severities": Severity.choices,
            "sources": AlertSource.choices,
            "stores": stores_for(request.user, ALERTS_VIEW),
            "query": request.GET.urlencode(),
        },
        partial="list",
    )


@page(ALERTS_VIEW)
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    """Mark every alert the filters show read."""
    filters, _status = _filters(request)
    count = services.mark_all_read(
        filter_alerts(alerts_for(request.user), request.user, filters), actor=request.user
    )
    messages.success(request, _("%(count)s alerts marked read.") % {"count": count})
    return redirect(f"{reverse('dashboards:alerts')}?{request.GET.urlencode()}")


@page(ALERTS_VIEW)
def alert(request: HttpRequest, pk: int) -> HttpResponse:
    """One alert: what raised it, the figures behind it, its history and what to do."""
    row = _alert(request, pk)
    services.mark_read(row, actor=request.user)
    may_manage = request.user.has_scoped_permission(ALERTS_MANAGE, row.node)  # type: ignore[union-attr]
    may_edit_rule = row.rule is not None and rules_for(request.user).filter(pk=row.rule_id).exists()
    return render_page(
        request,
        "dashboards/alert.html",
        {
            "title": row.title,
            "alert": row,
            "source_label": source_label(row),
            "figures": figures(row),
            "activity": list(row.activity.select_related("actor")),
            "may_manage": may_manage and row.status != AlertStatus.RESOLVED,
            "may_acknowledge": row.status == AlertStatus.OPEN,
            "assignees": assignable_users(row) if may_manage else [],
            "may_edit_rule": may_edit_rule,
        },
    )


def _act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    row = _alert(request, pk)
    note = request.POST.get("note", "")
    try:
        if action == "acknowledge":
            services.acknowledge_alert(row, actor=request.user, note=note)
            messages.success(request, _("Alert acknowledged."))
        elif action == "resolve":
            services.resolve_alert(row, actor=request.user, note=note)
            messages.success(request, _("Alert resolved."))
        else:
            assignee_id = posted_id(request.POST.get("assignee"))
            assignee = User.objects.filter(pk=assignee_id).first() if assignee_id else None
            if assignee is None:
                raise ValidationFailed({"assignee_id": [_("Choose who takes it.")]})
            services.assign_alert(row, assignee, actor=request.user, note=note)
            messages.success(request, _("Alert assigned to %(user)s.") % {"user": assignee})
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, problems_text(error))
    return redirect("dashboards:alert", pk=row.pk)


@page(ALERTS_VIEW)
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "acknowledge")


@page(ALERTS_MANAGE)
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "assign")


@page(ALERTS_MANAGE)
@require_POST
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "resolve")


# --- rules -------------------------------------------------------------------------------------


def _rule(request: HttpRequest, pk: int) -> AlertRule:
    rule = rules_for(request.user).filter(pk=pk).first()
    if rule is None:
        raise NotFound()
    return rule


@page(ALERT_RULES_MANAGE)
def rule_list(request: HttpRequest) -> HttpResponse:
    return render_page(
        request,
        "dashboards/rules.html",
        {"title": _("Alert rules"), "rules": list(rules_for(request.user).order_by("name"))},
    )


def _parse_rule(request: HttpRequest) -> tuple[services.RuleInput, dict[str, list[str]]]:
    post = request.POST
    problems: dict[str, list[str]] = {}
    node: OrgNode | None = None
    node_id = posted_id(post.get("node"))
    if node_id:
        node = nodes_for(request.user, ALERT_RULES_MANAGE).filter(pk=node_id).first()
        if node is None:
            problems["node"] = [_("Choose a node you write rules for.")]
    try:
        run_at = dt.time.fromisoformat(post.get("run_at") or "07:00")
    except ValueError:
        run_at = dt.time(7, 0)
        problems["run_at"] = [_("Give a time of day such as 07:00.")]
    try:
        cooldown = int(post.get("cooldown_minutes") or 0)
    except ValueError:
        cooldown = -1
    data = services.RuleInput(
        code=post.get("code", "").strip(),
        name=post.get("name", "").strip(),
        description=post.get("description", "").strip(),
        condition=post.get("condition", ""),
        scope=post.get("scope", RuleScope.STORE),
        node=node,
        trigger=post.get("trigger", RuleTrigger.SCHEDULE),
        period=post.get("period", RulePeriod.YESTERDAY),
        event_type=post.get("event_type", ""),
        schedule=post.get("schedule", RuleSchedule.DAILY),
        run_at=run_at,
        severity=post.get("severity", Severity.WARNING),
        recipient_roles=post.getlist("recipient_roles"),
        send_email=post.get("send_email") == "on",
        cooldown_minutes=cooldown,
    )
    return data, problems


def _rule_form(
    request: HttpRequest, rule: AlertRule | None, values: Any, errors: dict[str, list[str]]
) -> HttpResponse:
    return render_page(
        request,
        "dashboards/rule_form.html",
        {
            "title": rule.name if rule else _("New alert rule"),
            "rule": rule,
            "values": values,
            "errors": errors,
            "scopes": RuleScope.choices,
            "triggers": RuleTrigger.choices,
            "periods": RulePeriod.choices,
            "schedules": RuleSchedule.choices,
            "severities": Severity.choices,
            "roles": Role.objects.order_by("name"),
            "nodes": nodes_for(request.user, ALERT_RULES_MANAGE).exclude(
                kind__in=["warehouse", "kitchen"]
            ),
            "event_types": rule_engine.rule_event_types(),
            "variables": rule_engine.variables(),
        },
        status=422 if errors else 200,
    )


def _save(request: HttpRequest, rule: AlertRule | None) -> HttpResponse:
    data, problems = _parse_rule(request)
    if problems:
        return _rule_form(request, rule, data, problems)
    try:
        saved = (
            services.update_rule(rule, data, actor=request.user)
            if rule
            else services.create_rule(data, actor=request.user)
        )
    except ValidationFailed as error:
        return _rule_form(request, rule, data, error.errors)
    messages.success(request, _("Rule “%(rule)s” saved.") % {"rule": saved.name})
    return redirect("dashboards:alert_rules")


@page(ALERT_RULES_MANAGE)
def rule_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save(request, None)
    return _rule_form(request, None, services.RuleInput(name="", condition=""), {})


@page(ALERT_RULES_MANAGE)
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _rule(request, pk)
    if request.method == "POST":
        return _save(request, rule)
    return _rule_form(request, rule, rule, {})


@page(ALERT_RULES_MANAGE)
@require_POST
def rule_active(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _rule(request, pk)
    services.set_rule_active(rule, request.POST.get("is_active") == "1", actor=request.user)
    messages.success(
        request,
        _("Rule switched on.") if request.POST.get("is_active") == "1" else _("Rule switched off."),
    )
    return redirect("dashboards:alert_rules")


@page(ALERT_RULES_MANAGE)
@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _rule(request, pk)
    try:
        services.delete_rule(rule, actor=request.user)
    except DomainError as error:
        if error.http_status in (403, 404):
            raise
        messages.error(request, problems_text(error))
        return redirect("dashboards:alert_rule_edit", pk=rule.pk)
    messages.success(request, _("Rule deleted."))
    return redirect("dashboards:alert_rules")


@page(ALERT_RULES_MANAGE)
def rule_test(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Test this rule now": every node of its scope with its figures and what would happen."""
    rule = _rule(request, pk)
    outcomes = services.dry_run_rule(rule, actor=request.user)
    return render_page(
        request,
        "dashboards/rule_test.html",
        {
            "title": _("Test: %(rule)s") % {"rule": rule.name},
            "rule": rule,
            "outcomes": [
                {"outcome": outcome, "summary": rule_engine.summary(rule, outcome.evaluation)}
                for outcome in outcomes
            ],
            "firing": sum(1 for o in outcomes if o.evaluation.fired),
        },
    )


urlpatterns = [
    path("alerts/", alerts, name="alerts"),
    path("alerts/read/", read_all, name="alerts_read_all"),
    path("alerts/<int:pk>/", alert, name="alert"),
    path("alerts/<int:pk>/acknowledge/", acknowledge, name="alert_acknowledge"),
    path("alerts/<int:pk>/assign/", assign, name="alert_assign"),
    path("alerts/<int:pk>/resolve/", resolve, name="alert_resolve"),
    path("alerts/rules/", rule_list, name="alert_rules"),
    path("alerts/rules/new/", rule_new, name="alert_rule_new"),
    path("alerts/rules/<int:pk>/", rule_edit, name="alert_rule_edit"),
    path("alerts/rules/<int:pk>/active/", rule_active, name="alert_rule_active"),
    path("alerts/rules/<int:pk>/delete/", rule_delete, name="alert_rule_delete"),
    path("alerts/rules/<int:pk>/test/", rule_test, name="alert_rule_test"),
]
