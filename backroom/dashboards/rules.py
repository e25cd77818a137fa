"""Alert rules: CEL conditions over KPI values, evaluated per scope node (docs/alerts.md).

Conditions are checked and evaluated by the approvals app's CEL checker
(`backroom.approvals.conditions`) against `RULE_FIELDS`, the variables a rule may use:

- every KPI code of `kpis.KPIS` (`sales`, `food_cost_pct`, `waste_pct`, `sales_vs_forecast`,
  `soldout_minutes`, …) as a double: money in the currency of the figures (the store's base
  currency for a store, the reporting currency above stores), percentages as fractions
  (0.34 = 34 %), counts and minutes as numbers;
- `store` (the store's code; empty above stores), `region` (the code of the region the node is
  in; empty for the chain), `node` (the code of the node evaluated), `scope` ("store",
  "region", "chain"), `period` ("today", "yesterday", …), `event` (the event type that triggered
  the evaluation; empty on a schedule) as strings, and `days` (days in the period) as an int.

A KPI without a value (no sales, so no food cost %) does not make a condition fail or crash: a
condition naming a KPI that has no value for a node does not fire there (the dry run says
which KPI was missing).

A rule is evaluated on a schedule (`is_due`: every 15 minutes, hourly, or daily at a time) by
the worker, or when its `event_type` arrives for a store under it (`evaluate_for_event`). Each
node of its scope whose condition holds raises an alert through `alerts.raise_alert`, which
groups repeats and keeps the cool-down; `dry_run` shows what would happen, writing nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import celpy
import celpy.celtypes as celtypes
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backroom.approvals.conditions import ConditionProblem, check_condition, evaluate_activation
from backroom.approvals.exceptions import ConditionFailed
from backroom.approvals.registry import DocumentType, FieldSpec, FieldType
from backroom.dashboards import facts
from backroom.dashboards.alerts import Signal, origin_of, raise_alert
from backroom.dashboards.choices import (
    AlertStatus,
    RulePeriod,
    RuleSchedule,
    RuleScope,
    RuleTrigger,
)
from backroom.dashboards.kpis import KPIS, Measures, evaluate
from backroom.dashboards.models import Alert, AlertRule
from backroom.org.choices import NodeKind
from backroom.org.models import OrgNode, Site
from backroom.org.selectors import open_business_day_of

STRING_VARIABLES: dict[str, Any] = {
    "store": gettext_lazy("The store's code (empty above stores)"),
    "region": gettext_lazy("The code of the region the node is in (empty for the chain)"),
    "node": gettext_lazy("The code of the node evaluated"),
    "scope": gettext_lazy("What the node is: store, region or chain"),
    "period": gettext_lazy("The period the KPIs cover: today, yesterday, last_7_days, …"),
    "event": gettext_lazy("The event that triggered the evaluation (empty on a schedule)"),
}

RULE_FIELDS = DocumentType(
    code="alert rules",
    label=gettext_lazy("Alert rule"),
    fields=(
        *(
            FieldSpec(code, FieldType.MONEY, kpi.label, required=False)
            for code, kpi in KPIS.items()
        ),
        *(FieldSpec(name, FieldType.STRING, label) for name, label in STRING_VARIABLES.items()),
        FieldSpec("days", FieldType.INT, gettext_lazy("Days in the period")),
    ),
    node_field="store",
    conditions_label=gettext_lazy("alert rule conditions"),
)

_parser = celpy.Environment()


def variables() -> list[dict[str, str]]:
    """The variables a condition may use, for the editor and the API."""
    rows = [
        {
            "name": code,
            "type": "double",
            "unit": kpi.unit,
            "label": str(kpi.label),
            "description": str(kpi.description),
        }
        for code, kpi in KPIS.items()
    ]
    rows += [
        {"name": name, "type": "string", "unit": "", "label": str(label), "description": ""}
        for name, label in STRING_VARIABLES.items()
    ]
    rows.append(
        {
            "name": "days",
            "type": "int",
            "unit": "days",
            "label": _("Days in the period"),
            "description": "",
        }
    )
    return rows


def check_rule_condition(text: str) -> list[ConditionProblem]:
    """Every problem of a rule's condition (each with its column); empty when valid. Unlike an
    approval step, a rule needs a condition."""
    if not text.strip():
        return [ConditionProblem(_("Write the condition that raises the alert."))]
    return check_condition(text, RULE_FIELDS)


def referenced_kpis(text: str) -> list[str]:
    """The KPI codes a (valid) condition names, in order of first use."""
    tree = _parser.compile(text)
    names: list[str] = []
    for subtree in tree.iter_subtrees_topdown():
        if subtree.data == "ident":
            name = str(subtree.children[0].value)
            if name in KPIS and name not in names:
                names.append(name)
    return names


# --- periods and scope -------------------------------------------------------------------------


def period_dates(period: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The business days a period covers, given the business date of "today"."""
    yesterday = today - dt.timedelta(days=1)
    if period == RulePeriod.TODAY:
        return today, today
    if period == RulePeriod.YESTERDAY:
        return yesterday, yesterday
    if period == RulePeriod.LAST_7_DAYS:
        return yesterday - dt.timedelta(days=6), yesterday
    if period == RulePeriod.LAST_28_DAYS:
        return yesterday - dt.timedelta(days=27), yesterday
    raise ValueError(f"unknown period {period!r}")


def _today(sites: Sequence[Site], now: dt.datetime) -> dt.date:
    """The business date of "today" for these stores: the earliest of theirs (between midnight
    and a store's cutoff hour its day is still the one before); the chain's calendar date
    without stores."""
    return open_business_day_of([(site.time_zone, site.cutoff_hour) for site in sites], now)


def _base_nodes(rule: AlertRule) -> list[OrgNode]:
    if rule.node is not None:
        return [rule.node]
    return list(OrgNode.objects.filter(parent__isnull=True, is_active=True).order_by("path"))


def scope_nodes(rule: AlertRule, *, within: OrgNode | None = None) -> list[OrgNode]:
    """The nodes a rule is evaluated for: the chain (its node), each region or each store under
    its node; with `within`, only those covering or under that node (an event's store)."""
    nodes: list[OrgNode] = []
    for base in _base_nodes(rule):
        if rule.scope == RuleScope.CHAIN:
            nodes.append(base)
            continue
        kind = NodeKind.REGION if rule.scope == RuleScope.REGION else NodeKind.STORE
        rows = OrgNode.objects.filter(path__startswith=base.path, kind=kind, is_active=True)
        nodes.extend(rows.order_by("path"))
    if within is not None:
        nodes = [n for n in nodes if within.path.startswith(n.path)]
    return nodes


def _stores_under(node: OrgNode) -> list[Site]:
    return list(
        Site.objects.filter(
            node__path__startswith=node.path, node__kind=NodeKind.STORE, node__is_active=True
        )
        .select_related("node", "legal_entity")
        .order_by("node__path")
    )


def _region_codes(nodes: list[OrgNode]) -> dict[int, str]:
    """The code of the nearest region at or above each node."""
    ancestor_ids = {pk for node in nodes for pk in node.ancestor_ids()}
    regions = dict(
        OrgNode.objects.filter(pk__in=ancestor_ids, kind=NodeKind.REGION).values_list("pk", "code")
    )
    result = {}
    for node in nodes:
        found = [regions[pk] for pk in node.ancestor_ids() if pk in regions]
        result[node.pk] = found[-1] if found else ""
    return result


# --- evaluation --------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """A rule's condition at one node for one period: the KPI values and whether it holds."""

    node: OrgNode
    site: Site | None
    period: str
    date_from: dt.date
    date_to: dt.date
    currency: str
    kpis: dict[str, Decimal | None]
    variables: dict[str, Any] = field(default_factory=dict)
    fired: bool = False
    missing: list[str] = field(default_factory=list)
    error: str = ""

    def details(self) -> dict[str, Any]:
        """The figures behind the alert (JSON): the period, currency and KPI values."""
        return {
            "period": self.period,
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "currency": self.currency,
            "kpis": {code: _plain(value) for code, value in self.kpis.items()},
            "variables": {k: v for k, v in self.variables.items()},
        }


def _plain(value: Decimal | None) -> str | None:
    """A KPI value as JSON text, the same on every database ("6000", "0.36")."""
    if value is None:
        return None
    return format(value.normalize(), "f")


def _activation(kpis: dict[str, Decimal | None], strings: dict[str, Any]) -> dict[str, Any]:
    activation: dict[str, Any] = {
        code: celtypes.DoubleType(float(value)) for code, value in kpis.items() if value is not None
    }
    for name, value in strings.items():
        activation[name] = (
            celtypes.IntType(value) if isinstance(value, int) else celtypes.StringType(value)
        )
    return activation


def _decide(rule: AlertRule, evaluation: Evaluation) -> None:
    evaluation.missing = [
        code for code in referenced_kpis(rule.condition) if evaluation.kpis.get(code) is None
    ]
    if evaluation.missing:
        return
    try:
        evaluation.fired = evaluate_activation(
            rule.condition, RULE_FIELDS, _activation(evaluation.kpis, evaluation.variables)
        )
    except ConditionFailed as error:
        evaluation.error = error.message


def evaluate_rule(
    rule: AlertRule,
    *,
    now: dt.datetime | None = None,
    within: OrgNode | None = None,
    event_type: str = "",
) -> list[Evaluation]:
    """Evaluate a rule for each node of its scope (measures of its period, read in as few
    grouped queries as the currencies and business dates allow). Writes nothing."""
    now = now or timezone.now()
    nodes = scope_nodes(rule, within=within)
    regions = _region_codes(nodes)
    reporting = facts.reporting_currency()
    # (currency, date_from, date_to) → [(node, site, sites measured)]
    groups: dict[tuple[str, dt.date, dt.date], list[tuple[OrgNode, Site | None, list[Site]]]] = (
        defaultdict(list)
    )
    sites_by_node = {
        site.node_id: site
        for site in Site.objects.filter(node__in=nodes).select_related("node", "legal_entity")
    }
    for node in nodes:
        site = sites_by_node.get(node.pk) if node.kind == NodeKind.STORE else None
        sites = [site] if site is not None else _stores_under(node)
        currency = site.legal_entity.base_currency if site is not None else reporting
        start, end = period_dates(rule.period, _today(sites, now))
        groups[(currency, start, end)].append((node, site, sites))
    evaluations: list[Evaluation] = []
    for (currency, start, end), members in groups.items():
        store_level = all(site is not None for _node, site, _sites in members)
        per_site: dict[Any, Measures] = {}
        if store_level:
            per_site = facts.measures(
                [site for _n, site, _s in members if site is not None],
                start,
                end,
                by="site",
                currency=currency,
                now=now,
            )
        for node, site, sites in members:
            if store_level and site is not None:
                measures = per_site.get(site.pk) or Measures(days=(end - start).days + 1)
            else:
                measures = facts.measures(sites, start, end, currency=currency, now=now)[None]
            evaluation = Evaluation(
                node=node,
                site=site,
                period=rule.period,
                date_from=start,
                date_to=end,
                currency=currency,
                kpis=evaluate(measures),
                variables={
                    "store": node.code if site is not None else "",
                    "region": regions.get(node.pk, ""),
                    "node": node.code,
                    "scope": str(rule.scope),
                    "period": rule.period,
                    "event": event_type,
                    "days": (end - start).days + 1,
                },
            )
            _decide(rule, evaluation)
            evaluations.append(evaluation)
    evaluations.sort(key=lambda e: e.node.path)
    return evaluations


def format_kpi(code: str, value: Decimal | None, currency: str) -> str:
    if value is None:
        return _("no value")
    unit = KPIS[code].unit
    if unit == "percent":
        return f"{value * 100:.1f} %"
    if unit == "money":
        return f"{value:,.2f} {currency}"
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"


def summary(rule: AlertRule, evaluation: Evaluation) -> str:
    """The figures the condition names, as one line ("food_cost_pct 36.0 %, sales 6,200.00 CNY")."""
    return ", ".join(
        f"{KPIS[code].label}: {format_kpi(code, evaluation.kpis.get(code), evaluation.currency)}"
        for code in referenced_kpis(rule.condition)
    )


def signal_for(rule: AlertRule, evaluation: Evaluation) -> Signal:
    return Signal(
        title=rule.name,
        severity=rule.severity,
        node=evaluation.node,
        site=evaluation.site,
        message=f"{evaluation.node.name}: {summary(rule, evaluation)}"
        f" ({evaluation.date_from:%Y-%m-%d}–{evaluation.date_to:%Y-%m-%d})",
        details={**evaluation.details(), "condition": rule.condition},
    )


@dataclass
class Outcome:
    """What evaluating a rule did (or, in a dry run, would do) at one node."""

    evaluation: Evaluation
    # "" (condition false), "new", "grouped" (repeat of an open alert), "quiet" (cool-down)
    action: str = ""
    alert: Alert | None = None


def run_rule(
    rule: AlertRule,
    *,
    now: dt.datetime | None = None,
    within: OrgNode | None = None,
    event_type: str = "",
) -> list[Outcome]:
    """Evaluate a rule and raise an alert at each node where its condition holds."""
    now = now or timezone.now()
    outcomes = []
    for evaluation in evaluate_rule(rule, now=now, within=within, event_type=event_type):
        outcome = Outcome(evaluation)
        if evaluation.fired:
            alert, is_new = raise_alert(signal_for(rule, evaluation), rule=rule, now=now)
            outcome.alert = alert
            outcome.action = "quiet" if alert is None else ("new" if is_new else "grouped")
        outcomes.append(outcome)
    return outcomes


def dry_run(rule: AlertRule, *, now: dt.datetime | None = None) -> list[Outcome]:
    """ "Test this rule now": what evaluating it would raise, writing nothing."""
    now = now or timezone.now()
    outcomes = []
    for evaluation in evaluate_rule(rule, now=now):
        outcome = Outcome(evaluation)
        if evaluation.fired and rule.pk is not None:
            key = {"origin": origin_of(rule=rule), "node": evaluation.node, "fingerprint": ""}
            open_alert = Alert.objects.filter(**key).exclude(status=AlertStatus.RESOLVED).first()
            latest = (
                Alert.objects.filter(**key, status=AlertStatus.RESOLVED)
                .order_by("-last_raised_at")
                .first()
            )
            if open_alert is not None:
                outcome.action, outcome.alert = "grouped", open_alert
            elif latest is not None and now - latest.last_raised_at < dt.timedelta(
                minutes=rule.cooldown_minutes
            ):
                outcome.action, outcome.alert = "quiet", latest
            else:
                outcome.action = "new"
        elif evaluation.fired:
            outcome.action = "new"
        outcomes.append(outcome)
    return outcomes


# --- schedule and trigger ----------------------------------------------------------------------

INTERVALS = {
    RuleSchedule.EVERY_15_MINUTES: dt.timedelta(minutes=15),
    RuleSchedule.HOURLY: dt.timedelta(hours=1),
}
# The worker wakes every 15 minutes; a rule evaluated a little less than its interval ago
# (the previous run took a moment) is due again.
SLACK = dt.timedelta(minutes=1)


def is_due(rule: AlertRule, now: dt.datetime) -> bool:
    """Whether a scheduled rule should be evaluated at `now`: its interval has passed since it
    was last evaluated, or (daily) its time of day has come and it has not run since."""
    if not rule.is_active or rule.trigger != RuleTrigger.SCHEDULE:
        return False
    last = rule.last_evaluated_at
    if rule.schedule in INTERVALS:
        return last is None or now - last >= INTERVALS[RuleSchedule(rule.schedule)] - SLACK
    zone = timezone.get_default_timezone()
    local = timezone.localtime(now, zone)
    today_at = dt.datetime.combine(local.date(), rule.run_at, tzinfo=zone)
    if local < today_at:
        return False
    return last is None or last < today_at


def evaluate_due_rules(now: dt.datetime | None = None) -> int:
    """The worker's sweep: evaluate every due scheduled rule once (a rule is claimed by moving
    its `last_evaluated_at`, so two workers never both evaluate it). How many were evaluated."""
    now = now or timezone.now()
    count = 0
    for rule in AlertRule.objects.filter(
        is_active=True, trigger=RuleTrigger.SCHEDULE
    ).select_related("node"):
        if not is_due(rule, now):
            continue
        claimed = (
            AlertRule.objects.filter(pk=rule.pk, last_evaluated_at=rule.last_evaluated_at)
            if rule.last_evaluated_at
            else AlertRule.objects.filter(pk=rule.pk, last_evaluated_at__isnull=True)
        )
        if not claimed.update(last_evaluated_at=now):
            continue
        with transaction.atomic():
            run_rule(rule, now=now)
        count += 1
    return count


TRIGGERS_CACHE_KEY = "dashboards:rule-trigger-event-types"


def triggered_event_types() -> frozenset[str]:
    """The event types some active rule is triggered by: the worker looks no further for any
    other event (most events trigger nothing). Cached for a minute; rule writes forget it."""
    found = cache.get(TRIGGERS_CACHE_KEY)
    if found is None:
        found = frozenset(
            AlertRule.objects.filter(is_active=True, trigger=RuleTrigger.EVENT).values_list(
                "event_type", flat=True
            )
        )
        cache.set(TRIGGERS_CACHE_KEY, found, 60)
    return frozenset(found)


def forget_triggers() -> None:
    """A rule was written: the next event reads the triggers again (now, and after the commit
    in case another worker cached them meanwhile)."""
    cache.delete(TRIGGERS_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(TRIGGERS_CACHE_KEY))


def evaluate_for_event(
    event_type: str, org_node: OrgNode | None, *, now: dt.datetime | None = None
) -> int:
    """Evaluate the active rules triggered by `event_type` for the event's store (its node and
    the regions and chain above it, as each rule's scope says). How many rules ran."""
    if org_node is None:
        return 0
    rules = AlertRule.objects.filter(
        Q(node__isnull=True) | Q(node_id__in=org_node.ancestor_ids()),
        is_active=True,
        trigger=RuleTrigger.EVENT,
        event_type=event_type,
    ).select_related("node")
    count = 0
    for rule in rules:
        with transaction.atomic():
            run_rule(rule, now=now, within=org_node, event_type=event_type)
        count += 1
    return count


def rule_event_types() -> list[str]:
    """The event types a rule may be triggered by (the catalogue, without the alerts' own)."""
    from backroom.events.catalogue import event_types

    return [name for name in event_types() if not name.startswith("dashboards.alert.")]
