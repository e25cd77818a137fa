"""The notification centre and rule pages: the permission matrix of every page and action
(denials change nothing), unread markers and mark-all-read, the detail's figures, the actions
through forms, the navigation badge, and the rule editor showing every problem at once."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from backroom.dashboards import rules as rule_engine
from backroom.dashboards.alerts import raise_alert
from backroom.dashboards.models import Alert, AlertActivity, AlertRead, AlertRule
from backroom.dashboards.tests.test_alert_actions import people, raise_at  # noqa: F401
from backroom.dashboards.tests.test_alert_api import _rules, _state
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db


def test_the_centre_matrix_unread_markers_and_filters(tree, people):  # noqa: F811
    a = raise_at(tree.store_a)
    raise_at(tree.store_b)
    url = reverse("dashboards:alerts")
    result = assert_matrix(
        "GET",
        url,
        allowed=people.manager_a,
        forbidden=people.nobody,
        other_scope=people.manager_b,
        expect_other_scope=200,
    )
    other = result.other_scope.content.decode()
    assert f'data-alert="{a.pk}"' not in other
    page = result.allowed.content.decode()
    assert f'data-alert="{a.pk}" data-unread="true"' in page
    assert 'data-testid="nav-badge">1<' in page
    client = client_for(people.manager_a)
    client.get(reverse("dashboards:alert", args=[a.pk]))
    page = client.get(url).content.decode()
    assert f'data-alert="{a.pk}" data-unread="false"' in page
    assert 'data-testid="nav-badge"' not in page
    # ?site= (other helpers link here with it), the status filter, and HTMX's partial.
    hq = client_for(people.hq)
    only_b = hq.get(url, {"site": tree.store_b.site.pk}).content.decode()
    assert only_b.count('data-testid="alert-row"') == 1 and f'data-alert="{a.pk}"' not in only_b
    assert 'data-testid="alert-row"' not in hq.get(url, {"status": "resolved"}).content.decode()
    partial = hq.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div class="card" id="alert-list">')


def test_mark_all_read_matrix(tree, people):  # noqa: F811
    raise_at(tree.store_a)
    raise_at(tree.store_b)
    result = assert_matrix(
        "POST",
        reverse("dashboards:alerts_read_all"),
        allowed=people.manager_a,
        forbidden=people.nobody,
        other_scope=None,
        expect_allowed=302,
        snapshot=lambda: AlertRead.objects.count(),
    )
    assert result.allowed["Location"].startswith(reverse("dashboards:alerts"))
    assert AlertRead.objects.filter(user=people.manager_a).count() == 1


def test_the_detail_matrix_figures_and_history(tree, people):  # noqa: F811
    rule = AlertRule.objects.get(code="food-cost-high")
    evaluation = rule_engine.Evaluation(
        node=tree.store_a,
        site=tree.store_a.site,
        period="yesterday",
        date_from=dt.date(2026, 12, 4),
        date_to=dt.date(2026, 12, 4),
        currency="CNY",
        kpis={"food_cost_pct": Decimal("0.36"), "sales": Decimal(6000), "orders": Decimal(100)},
    )
    alert, _ = raise_alert(rule_engine.signal_for(rule, evaluation), rule=rule)
    url = reverse("dashboards:alert", args=[alert.pk])
    result = assert_matrix(
        "GET",
        url,
        allowed=people.manager_a,
        forbidden=people.nobody,
        other_scope=people.manager_b,
        expect_forbidden=403,
    )
    page = result.allowed.content.decode()
    assert "36.0 %" in page and "6,000.00 CNY" in page
    assert 'data-code="food_cost_pct"' in page and "food_cost_pct &gt; 0.34" in page
    assert 'data-testid="acknowledge-form"' in page and 'data-testid="resolve-form"' in page
    assert AlertRead.objects.filter(alert=alert, user=people.manager_a).exists()
    staff = client_for(people.staff_a).get(url).content.decode()
    assert 'data-testid="acknowledge-form"' in staff and 'data-testid="resolve-form"' not in staff


@pytest.mark.parametrize(
    ("name", "payload", "forbidden_role", "expect_forbidden"),
    [
        ("dashboards:alert_acknowledge", {"note": "Looking"}, None, 403),
        ("dashboards:alert_assign", {"assignee": "manager_a", "note": ""}, "staff_a", 403),
        ("dashboards:alert_resolve", {"note": "Done"}, "staff_a", 403),
    ],
)
def test_action_matrix(tree, people, name, payload, forbidden_role, expect_forbidden):  # noqa: F811
    alert = raise_at(tree.store_a)
    if payload.get("assignee") == "manager_a":
        payload = {**payload, "assignee": people.manager_a.pk}
    forbidden = getattr(people, forbidden_role) if forbidden_role else people.nobody
    result = assert_matrix(
        "POST",
        reverse(name, args=[alert.pk]),
        payload=payload,
        allowed=people.region,
        forbidden=forbidden,
        other_scope=people.manager_b,
        expect_forbidden=expect_forbidden,
        expect_allowed=302,
        snapshot=_state(alert),
    )
    assert result.allowed["Location"] == reverse("dashboards:alert", args=[alert.pk])
    alert.refresh_from_db()
    expected = {
        "dashboards:alert_acknowledge": ("acknowledged", None),
        "dashboards:alert_assign": ("open", people.manager_a.pk),
        "dashboards:alert_resolve": ("resolved", None),
    }[name]
    assert (alert.status, alert.assignee_id) == expected


def test_resolving_a_resolved_alert_shows_the_conflict(tree, people):  # noqa: F811
    alert = raise_at(tree.store_a)
    client = client_for(people.manager_a)
    url = reverse("dashboards:alert_resolve", args=[alert.pk])
    client.post(url, {"note": "Done"})
    page = client.post(url, {"note": "Again"}, follow=True).content.decode()
    assert "This alert is already resolved." in page
    assert AlertActivity.objects.filter(action="resolved").count() == 1
    assert Alert.objects.get(pk=alert.pk).status == "resolved"


def test_rule_pages_matrix(tree, people):  # noqa: F811
    hq_b = make_user("hq_operations", tree.store_b)
    rule = AlertRule.objects.create(
        code="region-rule", name="Region rule", condition="sales < 100", node=tree.region
    )
    result = assert_matrix(
        "GET",
        reverse("dashboards:alert_rules"),
        allowed=people.hq,
        forbidden=people.manager_a,
        other_scope=hq_b,
        expect_other_scope=200,
    )
    assert "Region rule" not in result.other_scope.content.decode()
    assert result.allowed.content.decode().count('data-testid="rule-row"') == 5
    for name, method, payload, expected in [
        ("dashboards:alert_rule_edit", "GET", None, 200),
        ("dashboards:alert_rule_test", "GET", None, 200),
        ("dashboards:alert_rule_active", "POST", {"is_active": "0"}, 302),
        (
            "dashboards:alert_rule_edit",
            "POST",
            {
                "name": "Region rule 2",
                "condition": "sales < 200",
                "scope": "store",
                "node": tree.region.pk,
                "trigger": "schedule",
                "period": "yesterday",
                "schedule": "hourly",
                "run_at": "07:00",
                "severity": "warning",
                "cooldown_minutes": "60",
            },
            302,
        ),
        ("dashboards:alert_rule_delete", "POST", None, 302),
    ]:
        assert_matrix(
            method,
            reverse(name, args=[rule.pk]),
            payload=payload,
            allowed=people.hq,
            forbidden=people.manager_a,
            other_scope=hq_b,
            expect_allowed=expected,
            snapshot=_rules,
        )
        if name == "dashboards:alert_rule_active":
            rule.refresh_from_db()
            assert not rule.is_active
    assert not AlertRule.objects.filter(pk=rule.pk).exists()
    new = assert_matrix(
        "GET",
        reverse("dashboards:alert_rule_new"),
        allowed=people.hq,
        forbidden=people.manager_a,
        other_scope=None,
    )
    assert 'data-testid="variables"' in new.allowed.content.decode()


def test_the_editor_shows_every_problem_with_its_column(tree, people):  # noqa: F811
    client = client_for(people.hq)
    before = _rules()
    response = client.post(
        reverse("dashboards:alert_rule_new"),
        {
            "name": "Bad",
            "condition": "food_cost > 0.3 && sales > 'x'",
            "scope": "store",
            "trigger": "schedule",
            "period": "yesterday",
            "schedule": "daily",
            "run_at": "25:00",
            "severity": "warning",
            "cooldown_minutes": "60",
        },
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "Give a time of day such as 07:00." in page
    assert _rules() == before
    response = client.post(
        reverse("dashboards:alert_rule_new"),
        {
            "name": "Bad",
            "condition": "food_cost > 0.3 && sales > 'x'",
            "scope": "store",
            "trigger": "schedule",
            "period": "yesterday",
            "schedule": "daily",
            "run_at": "07:00",
            "severity": "warning",
            "cooldown_minutes": "60",
        },
    )
    page = response.content.decode()
    assert response.status_code == 422
    assert "Column 1: unknown field “food_cost”" in page and "Column 28:" in page
    assert _rules() == before
    ok = client.post(
        reverse("dashboards:alert_rule_new"),
        {
            "name": "Big waste",
            "condition": "waste_value > 500",
            "scope": "store",
            "trigger": "schedule",
            "period": "yesterday",
            "schedule": "daily",
            "run_at": "08:30",
            "severity": "critical",
            "cooldown_minutes": "120",
            "recipient_roles": ["store_manager", "region_manager"],
            "send_email": "on",
        },
    )
    assert ok.status_code == 302
    rule = AlertRule.objects.get(code="big-waste")
    assert (rule.run_at.hour, rule.run_at.minute, rule.send_email, rule.recipient_roles) == (
        8,
        30,
        True,
        ["store_manager", "region_manager"],
    )


def test_the_builtin_rule_cannot_be_deleted_from_its_page(tree, people):  # noqa: F811
    builtin = AlertRule.objects.get(code="sold-out-long")
    client = client_for(people.hq)
    page = client.post(
        reverse("dashboards:alert_rule_delete", args=[builtin.pk]), follow=True
    ).content.decode()
    assert "deactivate the rule instead" in page
    assert AlertRule.objects.filter(pk=builtin.pk).exists()


def test_new_rule_post_matrix(tree, people):  # noqa: F811
    hq_b = make_user("hq_operations", tree.store_b)
    form = {
        "name": "Waste value high",
        "condition": "waste_value > 500",
        "scope": "store",
        "node": tree.store_a.pk,
        "trigger": "schedule",
        "period": "yesterday",
        "schedule": "daily",
        "run_at": "07:00",
        "severity": "warning",
        "cooldown_minutes": "60",
    }
    assert_matrix(
        "POST",
        reverse("dashboards:alert_rule_new"),
        payload=form,
        allowed=people.hq,
        forbidden=people.manager_a,
        other_scope=hq_b,
        # hq_b writes rules, not at store A: the node is refused in the form (nothing saved).
        expect_other_scope=422,
        expect_allowed=302,
        snapshot=_rules,
    )
    assert AlertRule.objects.get(code="waste-value-high").node == tree.store_a
