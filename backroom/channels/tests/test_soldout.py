"""Sold out (估清): sellable counts, automatic sold out / back in stock after stock moves,
manual holds, and the outbound calls reaching the fake Meituan and Ele.me (signatures
verified by the fakes), with failures, retries and supersession.

Sales go through chcore's till service (`pos.submit_orders`, a completed POS order depletes at
once); receipts through `inventory.receive`. After-commit work (the store recount, the sends)
runs inside `django_capture_on_commit_callbacks(execute=True)`, Huey being immediate in tests.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from backroom.audit.models import AuditEntry
from backroom.catalog import services as catalog
from backroom.catalog.models import Item
from backroom.channels import outbound, pos, services, soldout
from backroom.channels.choices import ChannelKind
from backroom.channels.models import (
    ChannelAccount,
    OutboundAction,
    OutboundCall,
    SoldOutState,
)
from backroom.channels.testing.fakes import BIG_SHOP_ID, FakeEleme, FakeMeituan
from backroom.channels.tests.conftest import OPENING, D, Menu
from backroom.events.models import OutboxEvent
from backroom.inventory import services as inventory
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import Conflict, ValidationFailed
from backroom.testing.factories import make_user

pytestmark = pytest.mark.django_db

MT_CODE = "NOODLE-BEEF"
EL_SPEC = (1_300_000_000_001, 200_000_000_000_000_011)
SELL_STATUS = "food/sku/sellStatus"
CLEAR = "eleme.product.item.batchClearStock"
FILL = "eleme.product.item.batchFillStock"


@dataclass
class Platforms:
    meituan: FakeMeituan
    eleme: FakeEleme
    mt_account: ChannelAccount
    el_account: ChannelAccount


@contextmanager
def fake_platforms(tree, menu: Menu) -> Iterator[Platforms]:
    """Store A on the fake Meituan (app_poi_code SH001) and the fake Ele.me, NOODLES mapped on
    both (Ele.me by itemId:specId, plus its extendCode, which carries no spec)."""
    with FakeMeituan() as fake_meituan, FakeEleme() as fake_eleme:
        site = tree.store_a.site
        mt = services.create_account(
            site=site,
            kind=ChannelKind.MEITUAN,
            name="Meituan (fake)",
            store_ref="SH001",
            secrets={
                "app_id": fake_meituan.app_id,
                "secret": fake_meituan.secret,
                "api_base": fake_meituan.api_base,
            },
            actor=SYSTEM,
        )
        el = services.create_account(
            site=site,
            kind=ChannelKind.ELEME,
            name="Ele.me (fake)",
            store_ref=str(BIG_SHOP_ID),
            secrets={
                "app_id": fake_eleme.app_id,
                "app_key": fake_eleme.app_key,
                "secret": fake_eleme.secret,
                "token": fake_eleme.token,
                "api_base": fake_eleme.api_url,
            },
            actor=SYSTEM,
        )
        services.save_mapping(account=mt, external_code=MT_CODE, item=menu.noodles, actor=SYSTEM)
        services.save_mapping(
            account=el, external_code=f"{EL_SPEC[0]}:{EL_SPEC[1]}", item=menu.noodles, actor=SYSTEM
        )
        services.save_mapping(
            account=el, external_code="NOODLES-EXT", item=menu.noodles, actor=SYSTEM
        )
        yield Platforms(fake_meituan, fake_eleme, mt, el)


@pytest.fixture
def platforms(tree, menu: Menu) -> Iterator[Platforms]:
    with fake_platforms(tree, menu) as connected:
        yield connected


def sell(site_id: int, quantity: str, sku: str = "NOODLES", *, orders: int = 1) -> None:
    """Completed till sales (chcore's POS service), which deplete at once."""
    pos.submit_orders(
        [
            pos.TillOrder(
                uuid=uuid.uuid4(),
                store_id=site_id,
                placed_at=timezone.now(),
                lines=[pos.TillLine(sku=sku, quantity=D(quantity), unit_price=D("18"))],
            )
            for _ in range(orders)
        ],
        actor=SYSTEM,
    )


def receive(menu: Menu, **quantities: str) -> None:
    """One delivery (one transaction) of several ingredients at store A's walk-in."""
    with transaction.atomic():
        for sku, quantity in quantities.items():
            inventory.receive(
                item=getattr(menu, sku),
                location=menu.walk_in,
                quantity=D(quantity),
                unit_cost=D(1),
                key=f"delivery-{uuid.uuid4()}",
                actor=SYSTEM,
            )


def state(site, item) -> SoldOutState:
    return SoldOutState.objects.get(site=site, item=item)


def calls(action: str | None = None) -> list[OutboundCall]:
    rows = OutboundCall.objects.select_related("account").order_by("pk")
    return list(rows.filter(action=action) if action else rows)


# --- sellable counts -------------------------------------------------------------------------


def test_sellable_counts_golden_through_a_sub_recipe(tree, menu):
    """NOODLES = 250 g DOUGH (800 g FLOUR + 10 g SALT per kg) + 100 g BEEF: one bowl needs
    FLOUR 0.2 kg, SALT 0.0025 kg, BEEF 0.1 kg. Stock FLOUR 10, SALT 1, BEEF 5."""
    site = tree.store_a.site
    counts = soldout.sellable_counts(site)
    assert counts[menu.noodles.pk] == 50  # min(10/0.2, 1/0.0025, 5/0.1) = min(50, 400, 50)
    assert counts[menu.tea.pk] is None  # no recipe: not limited
    assert menu.dough.pk not in counts and menu.beef.pk not in counts  # not sold
    # Available-to-promise, not on hand: reservations count.
    inventory.reserve(item=menu.beef, site=site, quantity=D("4.65"), key="r1", actor=SYSTEM)
    assert soldout.sellable_counts(site)[menu.noodles.pk] == 3  # 0.35 / 0.1
    # The sub-recipe's ingredient limits too: 0.5 kg of flour left makes 2 bowls (2.5 → 2).
    inventory.reserve(item=menu.flour, site=site, quantity=D("9.5"), key="r2", actor=SYSTEM)
    assert soldout.sellable_counts(site)[menu.noodles.pk] == 2
    # Store B has none of it: nothing can be made, never below zero.
    assert soldout.sellable_counts(tree.store_b.site)[menu.noodles.pk] == 0


def test_one_availability_read_for_the_whole_menu(tree, menu, django_assert_max_num_queries):
    site = tree.store_a.site
    soldout.sellable_counts(site)  # the per-portion needs are cached now
    with django_assert_max_num_queries(5):  # catalogue stamp (3) + availability (2)
        counts = soldout.sellable_counts(site)
    assert counts[menu.noodles.pk] == 50


def test_counts_floor_and_never_go_below_zero():
    needs = {1: {10: D("0.3"), 11: D("2")}, 2: {10: D("1")}, 3: {}}
    counts = soldout.counts_from(needs, {10: D("0.9"), 11: D("100")})
    assert counts == {1: 3, 2: 0, 3: None}
    assert soldout.counts_from({1: {10: D("0.3")}}, {10: D("-1")}) == {1: 0}


# --- the last portion, both platforms, back in stock -----------------------------------------


def test_last_portion_sold_reaches_both_platforms_and_a_receipt_brings_it_back(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    site = tree.store_a.site
    with django_capture_on_commit_callbacks(execute=True):
        sell(site.pk, "49")
    assert (state(site, menu.noodles).sellable, state(site, menu.noodles).is_sold_out) == (1, False)
    assert state(site, menu.tea).sellable is None
    assert platforms.meituan.calls == [] and platforms.eleme.calls == []

    with django_capture_on_commit_callbacks(execute=True):
        sell(site.pk, "1")  # the last portion
    noodles = state(site, menu.noodles)
    assert (noodles.sellable, noodles.is_sold_out, noodles.is_manual) == (0, True, False)
    # Both fakes got one signed call and now list the item as sold out.
    [mt_call] = platforms.meituan.calls
    assert (mt_call.action, mt_call.is_verified, mt_call.params["sell_status"]) == (
        SELL_STATUS,
        True,
        "1",
    )
    assert json.loads(mt_call.params["food_data"]) == [{"app_food_code": MT_CODE}]
    assert platforms.meituan.sold_out == {"SH001": {MT_CODE}}
    [el_call] = platforms.eleme.calls
    assert (el_call.action, el_call.is_verified) == (CLEAR, True)
    assert platforms.eleme.sold_out == {EL_SPEC}
    recorded = calls()
    assert [(c.account_id, c.action, c.status, c.attempts) for c in recorded] == [
        (platforms.mt_account.pk, "sold_out", "sent", 1),
        (platforms.el_account.pk, "sold_out", "sent", 1),
    ]
    assert recorded[0].request == {"app_poi_code": "SH001", "codes": [MT_CODE], "sold_out": True}
    assert recorded[1].request == {"specs": [[str(EL_SPEC[0]), str(EL_SPEC[1])]], "sold_out": True}
    assert recorded[0].response == {"status": 200, "body": {"data": "ok"}}
    assert recorded[0].platform_action == SELL_STATUS and recorded[0].sent_at is not None
    assert "secret" not in json.dumps([c.request for c in recorded])
    audit = AuditEntry.objects.get(action="channels.item.sold_out")
    assert audit.after["is_sold_out"] is True and audit.before["is_sold_out"] is False
    event = OutboxEvent.objects.get(event_type="channels.item.sold_out")
    assert event.payload["item_id"] == menu.noodles.pk and event.payload["sellable"] == 0
    assert event.payload["outbound_calls"] == [c.pk for c in recorded]

    # A delivery of flour and beef (one transaction: one recount) brings it back.
    with django_capture_on_commit_callbacks(execute=True):
        receive(menu, flour="5", beef="2")
    noodles = state(site, menu.noodles)
    # min(5 / 0.2, 0.875 / 0.0025, 2 / 0.1) = min(25, 350, 20)
    assert (noodles.sellable, noodles.is_sold_out) == (20, False)
    assert [c.params["sell_status"] for c in platforms.meituan.calls] == ["1", "0"]
    assert [c.action for c in platforms.eleme.calls] == [CLEAR, FILL]
    assert all(c.is_verified for c in platforms.meituan.calls + platforms.eleme.calls)
    assert platforms.meituan.sold_out == {"SH001": set()} and platforms.eleme.sold_out == set()
    assert [c.status for c in calls(OutboundAction.BACK_IN_STOCK)] == ["sent", "sent"]
    back = OutboxEvent.objects.get(event_type="channels.item.back_in_stock")
    assert back.payload["sellable"] == 20
    assert AuditEntry.objects.filter(action="channels.item.back_in_stock").count() == 1


def test_a_batch_of_sales_recounts_the_store_once(
    tree, menu, platforms, monkeypatch, django_capture_on_commit_callbacks
):
    recounts: list[int] = []
    real = soldout.recompute_store

    def counting(site, **kwargs):
        recounts.append(site if isinstance(site, int) else site.pk)
        return real(site, **kwargs)

    monkeypatch.setattr(soldout, "recompute_store", counting)
    with django_capture_on_commit_callbacks(execute=True):
        sell(tree.store_a.site.pk, "2", orders=25)  # 25 orders, 25 ledger documents, 50 bowls
    assert recounts == [tree.store_a.site.pk]
    assert state(tree.store_a.site, menu.noodles).is_sold_out
    assert len(platforms.meituan.calls) == 1 and len(platforms.eleme.calls) == 1


def test_a_rolled_back_sale_recounts_nothing(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            sell(tree.store_a.site.pk, "50")
            raise RuntimeError
    assert callbacks == [] and not SoldOutState.objects.exists()
    assert platforms.meituan.calls == [] and OutboundCall.objects.count() == 0


# --- failures and retries --------------------------------------------------------------------


def test_a_failed_call_is_retried_with_backoff_and_then_succeeds(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    platforms.meituan.fail_next(1)
    with django_capture_on_commit_callbacks(execute=True):
        sell(tree.store_a.site.pk, "50")
    mt_call = OutboundCall.objects.get(account=platforms.mt_account)
    assert (mt_call.status, mt_call.attempts) == ("failed", 1)
    assert "700" in mt_call.last_error and mt_call.response["status"] == 500
    assert mt_call.next_attempt_at is not None
    assert platforms.meituan.sold_out == {} and platforms.eleme.sold_out == {EL_SPEC}
    # Not due yet: nothing is sent.
    assert outbound.send_due() == 0
    # After the backoff the periodic sweep sends it.
    with django_capture_on_commit_callbacks(execute=True):
        attempts = outbound.send_due(now=mt_call.next_attempt_at + dt.timedelta(seconds=1))
    assert attempts == 1
    mt_call.refresh_from_db()
    assert (mt_call.status, mt_call.attempts, mt_call.last_error) == ("sent", 2, "")
    assert mt_call.next_attempt_at is None
    assert platforms.meituan.sold_out == {"SH001": {MT_CODE}}
    assert [c.failed for c in platforms.meituan.calls] == [True, False]
    assert outbound.send_due(now=timezone.now() + dt.timedelta(days=1)) == 0  # sent once


def test_retryable_failures_are_given_up_after_the_last_attempt(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    platforms.meituan.fail_next(100)
    with django_capture_on_commit_callbacks(execute=True):
        sell(tree.store_a.site.pk, "50")
    call = OutboundCall.objects.get(account=platforms.mt_account)
    later = timezone.now()
    for _ in range(outbound.MAX_ATTEMPTS + 2):
        later += dt.timedelta(hours=5)
        outbound.send_due(now=later)
    call.refresh_from_db()
    assert (call.status, call.attempts, call.next_attempt_at) == (
        "given_up",
        outbound.MAX_ATTEMPTS,
        None,
    )
    assert len(platforms.meituan.calls) == outbound.MAX_ATTEMPTS


def test_a_refused_call_is_failed_with_the_reason_and_not_retried(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    account = platforms.mt_account
    account.secrets = {**account.secrets, "secret": "not-the-secret"}
    account.save()  # a mistyped secret (test setup: no service edits credentials yet)
    with django_capture_on_commit_callbacks(execute=True):
        sell(tree.store_a.site.pk, "50")
    call = OutboundCall.objects.get(account=account)
    assert (call.status, call.attempts, call.next_attempt_at) == ("failed", 1, None)
    assert "703" in call.last_error
    assert outbound.send_due(now=timezone.now() + dt.timedelta(days=2)) == 0
    assert [c.is_verified for c in platforms.meituan.calls] == [False]


def test_an_ele_me_mapping_without_spec_ids_is_recorded_as_failed(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    from backroom.channels.models import MenuMapping

    MenuMapping.objects.filter(account=platforms.el_account, external_code__contains=":").delete()
    with django_capture_on_commit_callbacks(execute=True):
        sell(tree.store_a.site.pk, "50")
    call = OutboundCall.objects.get(account=platforms.el_account)
    assert (call.status, call.attempts, call.next_attempt_at) == ("failed", 0, None)
    assert "itemId:specId" in call.last_error and "NOODLES-EXT" in call.last_error
    assert platforms.eleme.calls == []


def test_back_in_stock_supersedes_an_unsent_sold_out(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    platforms.meituan.fail_next(1)
    with django_capture_on_commit_callbacks(execute=True):
        sell(tree.store_a.site.pk, "50")
    with django_capture_on_commit_callbacks(execute=True):
        receive(menu, flour="1", beef="1")
    mt = [(c.action, c.status) for c in calls() if c.account_id == platforms.mt_account.pk]
    assert mt == [("sold_out", "superseded"), ("back_in_stock", "sent")]
    assert outbound.send_due(now=timezone.now() + dt.timedelta(days=1)) == 0
    assert [c.params["sell_status"] for c in platforms.meituan.calls] == ["1", "0"]


def test_a_person_retries_a_given_up_call(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    platforms.meituan.fail_next(1)
    with django_capture_on_commit_callbacks(execute=True):
        sell(tree.store_a.site.pk, "50")
    call = OutboundCall.objects.get(account=platforms.mt_account)
    manager = make_user("store_manager", tree.store_a)
    with django_capture_on_commit_callbacks(execute=True):
        outbound.retry_call(call, actor=manager)
    call.refresh_from_db()
    assert (call.status, call.attempts) == ("sent", 1)
    assert AuditEntry.objects.filter(action="channels.outbound.retry").count() == 1
    with pytest.raises(Conflict):
        outbound.retry_call(call, actor=manager)


# --- manual holds ----------------------------------------------------------------------------


def test_a_manual_hold_is_not_cleared_by_stock_and_clearing_it_brings_the_item_back(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    site = tree.store_a.site
    manager = make_user("store_manager", tree.store_a)
    with django_capture_on_commit_callbacks(execute=True):
        result = soldout.mark_sold_out(
            site=site, item=menu.noodles, reason="Noodle machine broken", actor=manager
        )
    held = state(site, menu.noodles)
    assert (held.is_sold_out, held.is_manual, held.reason, held.sellable) == (
        True,
        True,
        "Noodle machine broken",
        50,
    )
    assert held.changed_by == manager and len(result.calls) == 2
    assert platforms.meituan.sold_out == {"SH001": {MT_CODE}} and platforms.eleme.sold_out == {
        EL_SPEC
    }
    event = OutboxEvent.objects.get(event_type="channels.item.sold_out")
    assert event.payload["is_manual"] is True and event.payload["reason"] == "Noodle machine broken"
    assert AuditEntry.objects.get(action="channels.item.sold_out").reason == "Noodle machine broken"

    # Stock moves: the count follows, the hold stays, nobody is told anything.
    with django_capture_on_commit_callbacks(execute=True):
        receive(menu, beef="1")
        sell(site.pk, "3")
    held = state(site, menu.noodles)
    assert (held.is_sold_out, held.is_manual, held.sellable) == (True, True, 47)
    assert len(platforms.meituan.calls) == 1 and len(platforms.eleme.calls) == 1
    assert not OutboxEvent.objects.filter(event_type="channels.item.back_in_stock").exists()

    with django_capture_on_commit_callbacks(execute=True):
        cleared = soldout.clear_sold_out(
            site=site, item=menu.noodles, actor=manager, reason="Fixed"
        )
    assert (cleared.state.is_sold_out, cleared.state.is_manual, cleared.state.sellable) == (
        False,
        False,
        47,
    )
    assert [c.params["sell_status"] for c in platforms.meituan.calls] == ["1", "0"]
    assert platforms.eleme.sold_out == set()
    assert OutboxEvent.objects.filter(event_type="channels.item.back_in_stock").count() == 1


def test_holding_an_item_already_sold_out_calls_nobody_and_clearing_leaves_it_sold_out(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    site = tree.store_a.site
    manager = make_user("store_manager", tree.store_a)
    with django_capture_on_commit_callbacks(execute=True):
        sell(site.pk, "50")
    assert len(platforms.meituan.calls) == 1
    with django_capture_on_commit_callbacks(execute=True):
        result = soldout.mark_sold_out(site=site, item=menu.noodles, reason="86", actor=manager)
    assert result.calls == [] and len(platforms.meituan.calls) == 1
    assert (
        result.state.is_manual
        and AuditEntry.objects.filter(action="channels.item.hold").count() == 1
    )
    with django_capture_on_commit_callbacks(execute=True):
        cleared = soldout.clear_sold_out(site=site, item=menu.noodles, actor=manager)
    assert (cleared.state.is_sold_out, cleared.state.is_manual, cleared.calls) == (True, False, [])
    assert len(platforms.meituan.calls) == 1
    with pytest.raises(soldout.NotHeld):
        soldout.clear_sold_out(site=site, item=menu.noodles, actor=manager)
    # Stock returns: automatic again.
    with django_capture_on_commit_callbacks(execute=True):
        receive(menu, flour="1", beef="1")
    assert not state(site, menu.noodles).is_sold_out
    assert [c.params["sell_status"] for c in platforms.meituan.calls] == ["1", "0"]


def test_holding_needs_a_reason_and_a_menu_item(tree, menu):
    manager = make_user("store_manager", tree.store_a)
    with pytest.raises(ValidationFailed) as problem:
        soldout.mark_sold_out(site=tree.store_a.site, item=menu.flour, reason=" ", actor=manager)
    assert set(problem.value.errors) == {"reason", "item_id"}
    assert (
        not SoldOutState.objects.exists()
        and not AuditEntry.objects.filter(action__startswith="channels.item").exists()
    )


def test_mapping_an_item_already_sold_out_tells_that_platform(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    site = tree.store_a.site
    with django_capture_on_commit_callbacks(execute=True):
        sell(site.pk, "50")
    with django_capture_on_commit_callbacks(execute=True):
        services.save_mapping(
            account=platforms.mt_account,
            external_code="NOODLE-BEEF-L",
            item=menu.noodles,
            actor=SYSTEM,
        )
    assert platforms.meituan.sold_out == {"SH001": {MT_CODE, "NOODLE-BEEF-L"}}
    assert len(platforms.eleme.calls) == 1  # only the account that gained the code


def test_the_periodic_refresh_catches_up_a_lost_recount(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    from backroom.channels import soldout_jobs

    sell(tree.store_a.site.pk, "50")  # its after-commit recount never runs here
    assert not SoldOutState.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        soldout_jobs.refresh_sold_out.call_local()
    assert state(tree.store_a.site, menu.noodles).is_sold_out
    assert platforms.meituan.sold_out == {"SH001": {MT_CODE}}
    assert state(tree.store_b.site, menu.noodles).is_sold_out  # store B has accounts, no stock
    assert Decimal(0) == Decimal(state(tree.store_b.site, menu.noodles).sellable)


def test_a_dry_run_records_the_call_as_sent_without_reaching_the_platform(
    tree, menu, platforms, settings, django_capture_on_commit_callbacks
):
    """CHANNELS_OUTBOUND_DRY_RUN (the demo, a laptop): built, signed and recorded, not sent."""
    settings.CHANNELS_OUTBOUND_DRY_RUN = True
    with django_capture_on_commit_callbacks(execute=True):
        sell(tree.store_a.site.pk, "50")
    sent = calls("sold_out")
    assert sent and all(call.status == "sent" for call in sent)
    assert all(call.response["body"]["dry_run"] is True for call in sent)
    assert platforms.meituan.calls == [] and platforms.eleme.calls == []


def test_a_dry_run_account_is_never_sent_to(
    tree, menu, platforms, django_capture_on_commit_callbacks
):
    """A demo or rehearsal account (`secrets["dry_run"]`) whatever the setting says."""
    account = platforms.mt_account
    account.secrets = {**account.secrets, "dry_run": "1"}
    account.save(update_fields=["secrets"])
    with django_capture_on_commit_callbacks(execute=True):
        sell(tree.store_a.site.pk, "50")
    mine = [call for call in calls("sold_out") if call.account_id == account.pk]
    assert mine and all(call.response["body"]["dry_run"] is True for call in mine)
    assert platforms.meituan.calls == [] and platforms.eleme.calls != []


def test_stock_that_may_go_negative_never_limits(tree, menu):
    """A sauce bought as needed (its class allows negative stock) and none on hand: the soup
    that uses it is not limited; the noodles (flour, beef: forbid) still are."""
    catalog.create_item_class(
        catalog.ItemClassInput(code="prep", name="Prep", negative_stock_policy="allow"),
        actor=SYSTEM,
    )
    for sku, kind, item_class in (("SAUCE", "ingredient", "prep"), ("SOUP", "menu", "food")):
        catalog.create_item(
            catalog.ItemInput(
                sku=sku, name=sku.title(), kind=kind, base_unit="each", item_class=item_class
            ),
            actor=SYSTEM,
        )
    catalog.publish_recipe(
        Item.objects.get(sku="SOUP"),
        catalog.RecipeInput(
            effective_from=OPENING,
            lines=[catalog.RecipeLineInput(component_sku="SAUCE", quantity=D(1), unit_code="each")],
        ),
        actor=SYSTEM,
    )
    counts = soldout.sellable_counts(tree.store_a.site)
    assert counts[Item.objects.get(sku="SOUP").pk] is None
    assert counts[menu.noodles.pk] == 50
