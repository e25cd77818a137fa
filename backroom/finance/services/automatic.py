"""Automatic postings: operations reach the books as they happen (docs/finance.md).

A rule turns a source (a stock posting, a store's business day of sales) into legs: a role, an
item category, a store and a signed amount in the entity's base currency. Roles resolve to
accounts through the entity's posting accounts (a category's own mapping first). A journal is
posted per source and entity, once: its idempotency key names the source.

When an account mapping is missing, or the entity has no books, nothing is lost: the source
waits in `PendingPosting` (the "needs mapping" queue) and is posted when the mapping is made
(`set_posting_account` calls `retry_pending`) or by the periodic retry.

Stock rules, per move (a reversal takes the rule of the move it reverses):
- the stock side: inventory of the item's category at the move's store, ± the move's value;
- the other side, by reason: receipt and revaluation → goods received not invoiced; price
  variance → purchase price variance; consumption and sale → cost of sales; waste → waste;
  adjustment, count variance, transfer discrepancy → stock count variance;
- transfers and production have no other side: their values net out within the posting. What
  is left per entity is intercompany (a transfer between two entities, at cost: the sender
  debits a receivable, the receiver credits a payable), or stock variance within one entity.
Sales depletion is high-volume, so it is not posted per order: `post_sales_cost` posts each
store's business day as one journal per category, and later moves in a day as a top-up journal.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from backroom.catalog.models import Category, Item
from backroom.channels.rollups import channel_category_gross, channel_days
from backroom.events.services import publish
from backroom.finance.choices import FALLBACK_ROLES, JournalKind, PostingRole
from backroom.finance.events import PostingWaiting
from backroom.finance.exceptions import MappingMissing
from backroom.finance.models import (
    Account,
    Book,
    Journal,
    JournalLine,
    PendingPosting,
    PostingAccount,
)
from backroom.finance.services.books import primary_book
from backroom.finance.services.journals import LineInput, Source, money, record_journal
from backroom.finance.services.periods import postable_date
from backroom.inventory.choices import MoveReason
from backroom.inventory.reports import sold_line_revenue_by_item
from backroom.inventory.selectors import (
    first_move_at,
    posting_ids,
    posting_values,
    value_by_category,
)
from backroom.kernel.clock import now as clock_now
from backroom.kernel.dates import business_date, business_day_bounds
from backroom.kernel.exceptions import DomainError
from backroom.kernel.money import allocate
from backroom.org.models import LegalEntity, Site
from backroom.procurement.selectors import payable_invoice

ZERO = Decimal(0)

COUNTER_ROLE = {
    MoveReason.RECEIPT: PostingRole.GOODS_RECEIVED_NOT_INVOICED,
    MoveReason.REVALUATION: PostingRole.GOODS_RECEIVED_NOT_INVOICED,
    MoveReason.PRICE_VARIANCE: PostingRole.PURCHASE_PRICE_VARIANCE,
    MoveReason.CONSUMPTION: PostingRole.COST_OF_SALES,
    MoveReason.SALE: PostingRole.COST_OF_SALES,
    MoveReason.WASTE: PostingRole.WASTE,
    MoveReason.ADJUSTMENT: PostingRole.INVENTORY_VARIANCE,
    MoveReason.COUNT_VARIANCE: PostingRole.INVENTORY_VARIANCE,
    MoveReason.TRANSFER_DISCREPANCY: PostingRole.INVENTORY_VARIANCE,
}
# Posted per store and business day by `post_sales_cost`, not per stock posting.
DAILY_REASONS = {MoveReason.SALE}


@dataclass(frozen=True)
class Leg:
    role: str
    category_id: int | None
    site: Site
    amount: Decimal
    description: str = ""
    channel: str = ""


@dataclass(frozen=True)
class Posting:
    """What a rule wants posted for one entity."""

    entity: LegalEntity
    key: str
    date: dt.date
    description: str
    legs: list[Leg]
    source: Source
    net_of: str = ""  # post only the difference from the journals whose key starts so
    # A mirror into a secondary book (`mirror.py`) brings its own book, lines and kind.
    book: Book | None = None
    build: Callable[[], list[LineInput]] | None = None
    kind: str = JournalKind.AUTOMATIC
    reverses: Journal | None = None
    actor: Any = None


Rule = Callable[..., list[Posting]]
RULES: dict[str, Rule] = {}


def rule(name: str) -> Callable[[Rule], Rule]:
    def register(func: Rule) -> Rule:
        RULES[name] = func
        return func

    return register


def resolve_accounts(
    entity: LegalEntity, keys: Iterable[tuple[str, int | None]]
) -> dict[tuple[str, int | None], Account]:
    """The account of each (role, category) among the legs; `MappingMissing` lists every gap."""
    rows = PostingAccount.objects.filter(entity=entity).select_related("account")
    mapping = {(row.role, row.category_id): row.account for row in rows}
    # The category tree is read only when the entity maps a role per category.
    parents = (
        dict(Category.objects.values_list("id", "parent_id"))
        if any(category is not None for _role, category in mapping)
        else {}
    )
    found: dict[tuple[str, int | None], Account] = {}
    missing: list[str] = []
    for role, category_id in sorted(set(keys), key=lambda k: (k[0], k[1] or 0)):
        category: int | None = category_id if parents else None
        while category is not None and (role, category) not in mapping:
            category = parents.get(category)
        account = mapping.get((role, category))
        if account is None and role in FALLBACK_ROLES:
            account = mapping.get((FALLBACK_ROLES[role], None))
        if account is None:
            missing.append(str(PostingRole(role).label))
        else:
            found[(role, category_id)] = account
    if missing:
        raise MappingMissing(
            {
                "roles": [
                    _("%(entity)s has no account for: %(roles)s.")
                    % {"entity": entity.node.code, "roles": ", ".join(sorted(set(missing)))}
                ]
            }
        )
    return found


def role_account(entity: LegalEntity, role: str) -> Account:
    """The entity's default account for a role (`MappingMissing` when it has none)."""
    return resolve_accounts(entity, [(role, None)])[(role, None)]


def _lines(posting: Posting) -> list[LineInput]:
    accounts = resolve_accounts(
        posting.entity, ((leg.role, leg.category_id) for leg in posting.legs)
    )
    totals: dict[tuple[int, int, str], Decimal] = defaultdict(Decimal)
    order: dict[tuple[int, int, str], tuple[Account, Site, str]] = {}
    for leg in posting.legs:
        account = accounts[(leg.role, leg.category_id)]
        key = (account.pk, leg.site.pk, leg.channel)
        totals[key] += leg.amount
        order.setdefault(key, (account, leg.site, leg.description))
    if posting.net_of:
        earlier = (
            JournalLine.objects.filter(journal__idempotency_key__startswith=posting.net_of)
            .values("account", "site", "channel")
            .annotate(total=Sum("base_amount"))
            .order_by()
        )
        sites = {leg.site.pk: leg.site for leg in posting.legs}
        for row in earlier:
            key = (row["account"], row["site"], row["channel"])
            totals[key] -= row["total"]
            if key not in order:
                account = Account.objects.get(pk=row["account"])
                site = sites.get(row["site"]) or Site.objects.select_related("node").get(
                    pk=row["site"]
                )
                order[key] = (account, site, "")
    lines = []
    for key, amount in totals.items():
        if amount:
            account, site, description = order[key]
            lines.append(
                LineInput(
                    account=account,
                    amount=amount,
                    site=site,
                    channel=key[2],
                    description=description,
                )
            )
    return sorted(lines, key=lambda line: (line.amount < 0, line.account.code, line.site.node.code))  # type: ignore[union-attr]


def post(posting: Posting, *, rule_name: str, arguments: dict[str, Any]) -> Journal | None:
    """Post one automatic journal, or park it in the queue with the reason it waits."""
    nothing = not posting.net_of and not any(leg.amount for leg in posting.legs)
    if posting.build is None and nothing:
        return None
    existing = Journal.objects.filter(idempotency_key=posting.key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            book = posting.book or primary_book(posting.entity)
            lines = posting.build() if posting.build is not None else _lines(posting)
            if len(lines) < 2:
                return None
            journal = record_journal(
                book,
                date=postable_date(posting.entity, posting.date, posting.actor),
                description=posting.description,
                lines=lines,
                actor=posting.actor,
                kind=posting.kind,
                source=posting.source,
                key=posting.key,
                post=True,
                reverses=posting.reverses,
            )
            PendingPosting.objects.filter(key=posting.key).update(journal=journal)
            return journal
    except DomainError as problem:
        _park(posting, rule_name, arguments, problem)
        return None


def _park(
    posting: Posting, rule_name: str, arguments: dict[str, Any], problem: DomainError
) -> None:
    details = (
        "; ".join(
            message for messages in getattr(problem, "errors", {}).values() for message in messages
        )
        or problem.message
    )
    with transaction.atomic():
        pending, created = PendingPosting.objects.get_or_create(
            key=posting.key,
            defaults={
                "entity": posting.entity,
                "rule": rule_name,
                "arguments": arguments,
                "source_type": posting.source.type,
                "source_id": posting.source.id,
                "source_number": posting.source.number,
                "problem_code": problem.code,
                "problem": details,
            },
        )
        if not created:
            PendingPosting.objects.filter(pk=pending.pk).update(
                problem_code=problem.code, problem=details, attempts=pending.attempts + 1
            )
        else:
            publish(
                PostingWaiting(
                    pending_id=pending.pk,
                    entity=posting.entity.node.code,
                    rule=rule_name,
                    problem_code=problem.code,
                ),
                org_node=posting.entity.node,
            )


def run_rule(rule_name: str, **arguments: Any) -> list[Journal]:
    journals = []
    for posting in RULES[rule_name](**arguments):
        journal = post(posting, rule_name=rule_name, arguments=arguments)
        if journal is not None:
            journals.append(journal)
    return journals


def retry_pending(entity: LegalEntity | None = None) -> int:
    """Run again every waiting posting (of one entity); returns how many were posted."""
    waiting = PendingPosting.objects.filter(journal__isnull=True)
    if entity is not None:
        waiting = waiting.filter(entity=entity)
    posted = 0
    for pending in list(waiting.order_by("id")):
        run_rule(pending.rule, **pending.arguments)
        posted += PendingPosting.objects.filter(pk=pending.pk, journal__isnull=False).count()
    return posted


# --- stock -------------------------------------------------------------------------------


@rule("stock")
def stock_rule(posting_id: int) -> list[Posting]:
    """One journal per entity a stock posting touched (sales depletion excepted)."""
    moves = [move for move in posting_values(posting_id) if move.reason not in DAILY_REASONS]
    if not moves:
        return []
    by_entity: dict[int, list[Leg]] = defaultdict(list)
    entities: dict[int, LegalEntity] = {}
    sites: dict[int, Site] = {}
    for move in moves:
        entity = move.site.legal_entity
        entities[entity.pk] = entity
        sites.setdefault(entity.pk, move.site)
        legs = by_entity[entity.pk]
        legs.append(Leg(PostingRole.INVENTORY, move.category_id, move.site, move.value))
        counter = COUNTER_ROLE.get(MoveReason(move.reason))
        if counter is not None:
            legs.append(Leg(counter, move.category_id, move.site, -move.value))
    first = moves[0]
    postings = []
    for entity_id, legs in by_entity.items():
        residue = -sum((leg.amount for leg in legs), ZERO)
        if residue:
            role = (
                PostingRole.INVENTORY_VARIANCE
                if len(entities) == 1
                else PostingRole.INTERCOMPANY_RECEIVABLE
                if residue > 0
                else PostingRole.INTERCOMPANY_PAYABLE
            )
            legs.append(Leg(role, None, sites[entity_id], residue))
        site = sites[entity_id]
        postings.append(
            Posting(
                entity=entities[entity_id],
                key=f"stock:{posting_id}:{entity_id}",
                date=business_date(
                    first.occurred_at, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
                ),
                description=_("%(reason)s %(number)s at %(site)s")
                % {
                    "reason": MoveReason(first.reason).label,
                    "number": first.source_number or f"#{posting_id}",
                    "site": site.node.code,
                },
                legs=legs,
                source=Source(first.source_type, first.source_id, first.source_number),
            )
        )
    return postings


# --- sales cost per store and business day ----------------------------------------------


@rule("sales_cost")
def sales_cost_rule(site_id: int, day: str) -> list[Posting]:
    """A store's cost of sales for a business day; posted again later, only the difference."""
    site = Site.objects.select_related("node", "legal_entity__node").get(pk=site_id)
    date = dt.date.fromisoformat(day)
    start, end = business_day_bounds(date, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    legs: list[Leg] = []
    for category_id, value in value_by_category(site, start, end, DAILY_REASONS).items():
        legs.append(Leg(PostingRole.INVENTORY, category_id, site, value))
        legs.append(Leg(PostingRole.COST_OF_SALES, category_id, site, -value))
    prefix = f"sales-cost:{site_id}:{day}:"
    return [
        Posting(
            entity=site.legal_entity,
            key=f"{prefix}{Journal.objects.filter(idempotency_key__startswith=prefix).count() + 1}",
            date=date,
            description=_("Cost of sales at %(site)s on %(day)s")
            % {"site": site.node.code, "day": day},
            legs=legs,
            source=Source("org.site.day", f"{site_id}:{day}", f"{site.node.code} {day}"),
            net_of=prefix,
        )
    ]


# --- sales per store and business day -------------------------------------------------------

PLATFORM_KINDS = {"meituan", "eleme", "own_app"}


def _split_tax(amount: Decimal, rate: Decimal) -> tuple[Decimal, Decimal]:
    """(net of VAT, VAT) of a price that includes VAT at `rate`."""
    net = money(amount / (1 + rate)) if rate else amount
    return net, amount - net


def _by_category(
    amount: Decimal, weights: dict[int | None, Decimal]
) -> list[tuple[int | None, Decimal]]:
    """`amount` split over item categories by their weights (all uncategorised without any)."""
    keys = sorted((key for key, weight in weights.items() if weight > 0), key=lambda k: k or 0)
    if not keys:
        return [(None, amount)]
    return list(zip(keys, allocate(amount, [weights[key] for key in keys]), strict=True))


def _till_by_category(site: Site, date: dt.date) -> dict[int | None, Decimal]:
    """Revenue of the sold menu lines behind the day's sale depletions, per item category."""
    start, end = business_day_bounds(date, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    by_item = sold_line_revenue_by_item([site], {site.pk: (start, end)})
    categories = dict(
        Item.objects.filter(pk__in=[item for _site, item in by_item]).values_list(
            "id", "category_id"
        )
    )
    revenue: dict[int | None, Decimal] = defaultdict(Decimal)
    for (_site, item), amount in by_item.items():
        revenue[categories.get(item)] += amount
    return revenue


@rule("sales")
def sales_rule(site_id: int, day: str) -> list[Posting]:
    """A store's sales of a business day, per channel: revenue net of VAT by menu-item category
    (a category's own revenue account when one is mapped) and the packaging fees charged, the
    merchant's discounts, output VAT, the platform's commission, and what is due (cash from
    the till, a receivable from a platform: net sales + packaging − commission, as the
    platform settles; the delivery fee is the platform's, for its riders). Sales recorded without a channel order (sold menu lines behind sale
    depletions) count as till sales. History imported from before the store went live is
    not posted (`channel_days`' live share). Posted again later, only the difference."""
    site = Site.objects.select_related("node", "legal_entity__node").get(pk=site_id)
    date = dt.date.fromisoformat(day)
    book = primary_book(site.legal_entity)
    rate = book.sales_tax_rate
    legs: list[Leg] = []
    rows, live = channel_days(site, date)
    weights: dict[str, dict[int | None, Decimal]] = defaultdict(dict)
    if rows and live:
        for (kind, category_id), gross in channel_category_gross(site, date).items():
            weights[kind][category_id] = gross
    for row in rows if live else []:
        if row.currency != book.currency:
            continue
        net, commission = money(row.net * live), money(row.commission * live)
        packaging = money(row.packaging_fee * live)
        gross, vat_gross = _split_tax(money(row.gross * live), rate)
        discount, vat_discount = _split_tax(net - money(row.gross * live), rate)
        packed, vat_packing = _split_tax(packaging, rate)
        channel = row.kind
        legs += [
            Leg(PostingRole.SALES_REVENUE, category_id, site, -part, channel=channel)
            for category_id, part in _by_category(gross, weights[channel])
        ]
        legs += [
            Leg(PostingRole.PACKAGING_FEES, None, site, -packed, channel=channel),
            Leg(PostingRole.SALES_DISCOUNTS, None, site, -discount, channel=channel),
            Leg(
                PostingRole.OUTPUT_TAX,
                None,
                site,
                -(vat_gross + vat_discount + vat_packing),
                channel=channel,
            ),
            Leg(PostingRole.PLATFORM_FEES, None, site, commission, channel=channel),
            Leg(
                PostingRole.PLATFORM_RECEIVABLE if channel in PLATFORM_KINDS else PostingRole.CASH,
                None,
                site,
                net + packaging - commission,
                channel=channel,
            ),
        ]
    till_weights = _till_by_category(site, date)
    till = money(sum(till_weights.values(), ZERO))
    if till:
        revenue, vat = _split_tax(till, rate)
        legs += [
            Leg(PostingRole.SALES_REVENUE, category_id, site, -part)
            for category_id, part in _by_category(revenue, till_weights)
        ]
        legs += [
            Leg(PostingRole.OUTPUT_TAX, None, site, -vat),
            Leg(PostingRole.CASH, None, site, till),
        ]
    prefix = f"sales:{site_id}:{day}:"
    return [
        Posting(
            entity=site.legal_entity,
            key=f"{prefix}{Journal.objects.filter(idempotency_key__startswith=prefix).count() + 1}",
            date=date,
            description=_("Sales at %(site)s on %(day)s") % {"site": site.node.code, "day": day},
            legs=legs,
            source=Source("org.site.day", f"{site_id}:{day}", f"{site.node.code} {day}"),
            net_of=prefix,
        )
    ]


def post_sales(site: Site, day: dt.date) -> list[Journal]:
    return run_rule("sales", site_id=site.pk, day=day.isoformat())


# --- supplier invoices ---------------------------------------------------------------------


@rule("invoice")
def invoice_rule(invoice_id: int) -> list[Posting]:
    """A payable supplier invoice: it clears what receiving booked to goods received not
    invoiced (PO price × received quantity), the difference from the invoiced net amount is
    purchase price variance, the tax is input VAT, and the total is owed to the supplier."""
    payable = payable_invoice(invoice_id)
    if payable is None:
        return []
    invoice, site = payable.invoice, payable.store
    legs = [
        Leg(PostingRole.GOODS_RECEIVED_NOT_INVOICED, None, site, payable.received_value),
        Leg(
            PostingRole.PURCHASE_PRICE_VARIANCE,
            None,
            site,
            invoice.net_amount - payable.received_value,
        ),
        Leg(PostingRole.INPUT_TAX, None, site, invoice.tax_amount),
        Leg(
            PostingRole.ACCOUNTS_PAYABLE,
            None,
            site,
            -invoice.total_amount,
            description=invoice.supplier.code,
        ),
    ]
    return [
        Posting(
            entity=site.legal_entity,
            key=f"invoice:{invoice.pk}",
            date=invoice.invoice_date,
            description=_("Invoice %(number)s from %(supplier)s")
            % {"number": invoice.invoice_number, "supplier": invoice.supplier.name},
            legs=legs,
            source=Source("procurement.invoice", str(invoice.pk), invoice.invoice_number),
        )
    ]


def post_invoice(invoice_id: int) -> list[Journal]:
    return run_rule("invoice", invoice_id=invoice_id)


def post_stock_posting(posting_id: int) -> list[Journal]:
    return run_rule("stock", posting_id=posting_id)


def post_sales_cost(site: Site, day: dt.date) -> list[Journal]:
    return run_rule("sales_cost", site_id=site.pk, day=day.isoformat())


def post_recent_sales(*, days: int, now: dt.datetime | None = None) -> int:
    """Post (or top up) the sales and cost of sales of every store's last `days` business days,
    the current day excepted; returns the number of journals posted."""
    now = now or clock_now()
    posted = 0
    for site in Site.objects.filter(legal_entity__books__is_primary=True).select_related(
        "node", "legal_entity__node"
    ):
        today = business_date(now, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
        for back in range(days, 0, -1):
            day = today - dt.timedelta(days=back)
            posted += len(post_sales(site, day)) + len(post_sales_cost(site, day))
    return posted


def catch_up(entity: LegalEntity, *, now: dt.datetime | None = None) -> int:
    """Post what the stock ledger and the sales hold for an entity that opened its books
    after operations began: every stock posting, then each store's sales and cost of sales
    per business day up to yesterday. Idempotent (each journal's key names its source)."""
    now = now or clock_now()
    sites = list(
        Site.objects.filter(legal_entity=entity).select_related("node", "legal_entity__node")
    )
    posted = 0
    for posting_id in posting_ids([site.pk for site in sites], excluding=DAILY_REASONS):
        posted += len(post_stock_posting(posting_id))
    for site in sites:
        first = first_move_at(site)
        if first is None:
            continue
        day = business_date(first, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
        today = business_date(now, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
        while day < today:
            posted += len(post_sales(site, day)) + len(post_sales_cost(site, day))
            day += dt.timedelta(days=1)
    return posted
