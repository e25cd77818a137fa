"""Stock period pages: the permission matrix of the list, the history and the close form; a
close through the page refusing a later receipt; reopening without a reason refused with nothing
changed; every error of a post shown at once next to its store; the list's query count."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backroom.accounts import services as accounts_services
from backroom.accounts.models import Role
from backroom.audit.models import AuditEntry
from backroom.events.models import OutboxEvent
from backroom.inventory import services
from backroom.inventory.models import StockMove, StockPeriodClose
from backroom.inventory.periods import PeriodClosed, close_period, closed_through
from backroom.inventory.tests.conftest import D, key
from backroom.inventory.views.periods import site_today, suggested_through
from backroom.kernel.actors import SYSTEM
from backroom.org.choices import NodeKind
from backroom.testing.factories import client_for, make_node, make_user
from backroom.testing.matrix import assert_matrix

LIST = "/stock/periods/"
HX = {"HTTP_HX_REQUEST": "true"}


def _history(site) -> str:
    return f"/stock/periods/{site.pk}/"


def _close(site) -> str:
    return f"/stock/periods/{site.pk}/close/"


@pytest.fixture
def people(tree):
    return {
        "finance": make_user("finance", tree.group),  # view + manage everywhere
        "region": make_user("region_manager", tree.region),  # view + manage at A and B
        "manager_a": make_user("store_manager", tree.store_a),  # view, no manage
        "tech_a": make_user("technician", tree.store_a),  # no inventory permission
        "finance_b": make_user("finance", tree.store_b),  # view + manage at B only
    }


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _row(body: str, site) -> str:
    """The HTML of one store's row of the list."""
    found = re.search(
        rf'<div class="list-group-item py-3" id="site-{site.pk}".*?(?=<div class="list-group-item|$)',
        body,
    )
    assert found is not None, f"no row for site {site.pk}"
    return found.group(0)


def _state():
    return (
        list(
            StockPeriodClose.objects.order_by("id").values_list("id", "site_id", "closed_through")
        ),
        AuditEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


def _days_ago(site, days: int) -> dt.date:
    return site_today(site) - dt.timedelta(days=days)


# --- the permission matrix -------------------------------------------------------------------


def test_list_matrix(tree, people):
    site_a = tree.store_a.site
    close_period(site_a, through=_days_ago(site_a, 10), actor=people["finance"])
    result = assert_matrix(
        "GET",
        LIST,
        allowed=people["region"],
        forbidden=people["tech_a"],
        other_scope=people["finance_b"],
        expect_other_scope=200,  # their own store only
    )
    body = _text(result.allowed)
    assert re.findall(r'data-site="([^"]+)"', body) == ["SHA001", "SHA002"]
    row_a = _row(body, site_a)
    assert _days_ago(site_a, 10).isoformat() in row_a
    assert str(people["finance"]) in row_a  # who closed it
    assert 'data-testid="period-form"' in row_a  # the region manager may close it
    assert "never closed" in _row(body, tree.store_b.site)
    other = _text(result.other_scope)
    assert re.findall(r'data-site="([^"]+)"', other) == ["SHA002"]
    assert f"site-{site_a.pk}" not in other
    # A store manager sees the dates but gets no form.
    viewer = _text(client_for(people["manager_a"]).get(LIST))
    assert re.findall(r'data-site="([^"]+)"', viewer) == ["SHA001"]
    assert 'data-testid="period-form"' not in viewer
    assert _days_ago(site_a, 10).isoformat() in viewer


def test_history_matrix(tree, people):
    site_a = tree.store_a.site
    first = _days_ago(site_a, 40)
    second = _days_ago(site_a, 10)
    close_period(site_a, through=first, actor=people["finance"])
    close_period(site_a, through=second, actor=people["region"])
    close_period(site_a, through=first, actor=people["finance"], reason="late supplier invoice")
    result = assert_matrix(
        "GET",
        _history(site_a),
        allowed=people["manager_a"],
        forbidden=people["tech_a"],
        other_scope=people["finance_b"],
    )
    body = _text(result.allowed)
    assert re.findall(r'data-testid="change-through">([^<]+)<', body) == [
        first.isoformat(),
        second.isoformat(),
        first.isoformat(),
    ]  # newest first
    assert body.count('data-testid="period-change"') == 3
    assert body.count("reopened</span>") == 1
    assert "late supplier invoice" in body
    assert str(people["region"]) in body
    missing = client_for(people["finance"]).get("/stock/periods/999999/")
    assert missing.status_code == 404


def test_post_matrix_closes_for_the_allowed_user_only(tree, people):
    site_a = tree.store_a.site
    through = _days_ago(site_a, 10)
    result = assert_matrix(
        "POST",
        _close(site_a),
        payload={"through": through.isoformat(), "reason": ""},
        allowed=people["region"],
        forbidden=people["manager_a"],  # sees the store, may not close it
        other_scope=people["finance_b"],  # store B's finance naming store A
        expect_allowed=302,
        snapshot=_state,
    )
    assert result.allowed["Location"] == LIST
    row = StockPeriodClose.objects.get()
    assert (row.site_id, row.closed_through, row.reason, row.created_by_id) == (
        site_a.pk,
        through,
        "",
        people["region"].pk,
    )
    audit = AuditEntry.objects.get(action="inventory.period.close")
    assert (audit.actor_id, audit.before, audit.after) == (
        people["region"].pk,
        {"closed_through": None},
        {"closed_through": through.isoformat()},
    )
    event = OutboxEvent.objects.get(event_type="inventory.period.closed")
    assert event.payload == {
        "site_id": site_a.pk,
        "closed_through": through.isoformat(),
        "previous": None,
    }


def test_manage_elsewhere_does_not_close_a_store_only_seen(tree, people):
    """Manage at store B and view at store A: the service refuses A (403), nothing changes."""
    user = people["manager_a"]
    accounts_services.grant_membership(
        user, Role.objects.get(code="finance"), tree.store_b, actor=SYSTEM
    )
    before = _state()
    response = client_for(user).post(
        _close(tree.store_a.site), {"through": _days_ago(tree.store_a.site, 10).isoformat()}
    )
    assert response.status_code == 403
    assert _state() == before
    body = _text(client_for(user).get(LIST))
    assert 'data-testid="period-form"' not in _row(body, tree.store_a.site)
    assert 'data-testid="period-form"' in _row(body, tree.store_b.site)


def test_a_get_of_the_close_url_is_refused(tree, people):
    response = client_for(people["finance"]).get(_close(tree.store_a.site))
    assert response.status_code == 405


# --- the effect --------------------------------------------------------------------------------


def test_closing_on_the_page_refuses_a_receipt_dated_into_the_period(tree, stock, people):
    site_a = tree.store_a.site
    through = _days_ago(site_a, 5)
    response = client_for(people["finance"]).post(
        _close(site_a), {"through": through.isoformat(), "reason": "October counted"}, follow=True
    )
    assert response.redirect_chain == [(LIST, 302)]
    assert f"is closed through {through.isoformat()}." in _text(response)  # the message
    assert closed_through([site_a.pk]) == {site_a.pk: through}
    with pytest.raises(PeriodClosed):
        services.receive(
            item=stock.flour,
            location=stock.walk_in,
            quantity=D(1),
            unit_cost=D(10),
            key=key("rcv"),
            actor=SYSTEM,
            occurred_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=20),
        )
    assert StockMove.objects.count() == 0


def test_reopening_without_a_reason_shows_the_error_and_changes_nothing(tree, people):
    site_a = tree.store_a.site
    closed = _days_ago(site_a, 10)
    close_period(site_a, through=closed, actor=people["finance"])
    client = client_for(people["finance"])
    before = _state()
    earlier = _days_ago(site_a, 40).isoformat()
    response = client.post(_close(site_a), {"through": earlier, "reason": "  "})
    assert response.status_code == 422
    assert _state() == before
    row = _text(response)
    mine = _row(row, site_a)
    assert 'data-testid="reason-errors"' in mine and "Say why the period is reopened." in mine
    assert f'value="{earlier}"' in mine  # what was typed stays
    assert 'data-testid="reason-errors"' not in _row(row, tree.store_b.site)
    # Reopening entirely without a reason: the same.
    cleared = client.post(_close(site_a), {"through": "", "reason": "", "reopen": "1"})
    assert cleared.status_code == 422
    assert "Say why the period is reopened." in _row(_text(cleared), site_a)
    assert _state() == before
    # With a reason it reopens entirely.
    reopened = client.post(_close(site_a), {"reopen": "1", "reason": "credit note for October"})
    assert reopened.status_code == 302
    assert closed_through([site_a.pk]) == {}
    assert StockPeriodClose.objects.order_by("-id").values_list("reason", flat=True)[0] == (
        "credit note for October"
    )
    assert "open (reopened)" in _row(_text(client.get(LIST)), site_a)


def test_every_error_of_a_post_is_shown_at_once(tree, people):
    site_a = tree.store_a.site
    before = _state()
    response = client_for(people["finance"]).post(
        _close(site_a), {"through": "31/10/2026", "reason": "x" * 501}
    )
    assert response.status_code == 422
    assert _state() == before
    mine = _row(_text(response), site_a)
    assert "The date is not a date (YYYY-MM-DD)." in mine
    assert "A reason has at most 500 characters." in mine
    # The service's errors too: today cannot be closed.
    today = site_today(site_a).isoformat()
    refused = client_for(people["finance"]).post(_close(site_a), {"through": today})
    assert refused.status_code == 422
    assert "Only days that have ended can be closed." in _row(_text(refused), site_a)
    empty = client_for(people["finance"]).post(_close(site_a), {"through": ""})
    assert empty.status_code == 422
    assert "Choose the last day to close." in _row(_text(empty), site_a)
    assert _state() == before


# --- the form's default, the filter, the query count --------------------------------------------


def test_the_suggested_date_is_the_end_of_last_month_when_later_than_the_closing():
    assert suggested_through(dt.date(2026, 11, 3), None) == dt.date(2026, 10, 31)
    assert suggested_through(dt.date(2026, 3, 1), dt.date(2026, 1, 31)) == dt.date(2026, 2, 28)
    assert suggested_through(dt.date(2026, 11, 3), dt.date(2026, 10, 31)) is None
    assert suggested_through(dt.date(2026, 11, 3), dt.date(2026, 11, 1)) is None


def test_the_form_suggests_last_month_end_until_it_is_closed(tree, people):
    site_a = tree.store_a.site
    today = site_today(site_a)
    month_end = today.replace(day=1) - dt.timedelta(days=1)
    client = client_for(people["finance"])
    row = _row(_text(client.get(LIST)), site_a)
    assert f'name="through" value="{month_end.isoformat()}"' in row
    assert f'max="{(today - dt.timedelta(days=1)).isoformat()}"' in row
    close_period(site_a, through=today - dt.timedelta(days=1), actor=people["finance"])
    assert 'name="through" value=""' in _row(_text(client.get(LIST)), site_a)


def test_the_list_narrows_to_a_region(tree, people):
    client = client_for(people["finance"])
    everything = _text(client.get(LIST))
    assert re.findall(r'data-site="([^"]+)"', everything) == ["SHA001", "SHA002", "HKG001"]
    assert 'id="period-node"' in everything
    narrowed = client.get(f"{LIST}?node={tree.region.pk}", **HX)
    body = _text(narrowed)
    assert re.findall(r'data-site="([^"]+)"', body) == ["SHA001", "SHA002"]
    assert "<html" not in body  # the HTMX fragment
    # A node the user may not see is ignored, not an error.
    outside = _text(client_for(people["region"]).get(f"{LIST}?node={tree.entity_hk.pk}"))
    assert re.findall(r'data-site="([^"]+)"', outside) == ["SHA001", "SHA002"]


def test_list_query_count_does_not_grow_with_stores(tree, people, django_assert_max_num_queries):
    client = client_for(people["finance"])
    client.get(LIST)  # warm the session and caches

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(LIST).status_code == 200
        return len(queries)

    few = count()
    for number in range(6):
        node = make_node(NodeKind.STORE, tree.region, f"SHA1{number:02d}", city="Shanghai")
        close_period(node.site, through=_days_ago(node.site, 3 + number), actor=SYSTEM)
    close_period(tree.store_a.site, through=_days_ago(tree.store_a.site, 3), actor=SYSTEM)
    assert count() == few
    # 9: the page's own queries plus the navigation's badges (approvals, invoice review).
    with django_assert_max_num_queries(10):  # the navigation's badges included
        response = client.get(LIST)
    assert response.content.decode().count('data-testid="period-form"') == 9
