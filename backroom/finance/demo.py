"""The demo's books: each company's books open on the Chinese small-business chart (CN-SH)
and the IFRS-style chart (HK), with paid-in capital as opening balances; its 60 days of stock
and sales posted, exchange rates entered, every month before the current one revalued and
closed, and a few expense claims at SH001 (one paid, one approved and waiting to be paid, one
waiting for the store manager). Finance opens the books after the operations' seeds ran, so
`catch_up` posts them, as it would for a chain switching Backroom's books on.

The Chinese company also keeps an IFRS book beside its primary one (every journal mirrored),
posts drinks to their own revenue account (饮品销售收入, 5001.03), and is owed a brand licence
fee in US dollars, half of it received since at a different rate (a realised exchange
difference; the rest is on the currencies page)."""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from backroom.approvals import runtime
from backroom.catalog.models import Category
from backroom.config.demo import DemoContext
from backroom.finance.choices import AccountKind, PeriodStatus, PostingRole
from backroom.finance.models import Book, Period
from backroom.finance.services.automatic import catch_up
from backroom.finance.services.books import create_account, open_books, set_posting_account
from backroom.finance.services.claims import (
    ClaimInput,
    approval_request,
    mark_claim_paid,
    submit_claim,
)
from backroom.finance.services.fx import set_fx_rate
from backroom.finance.services.journals import LineInput, create_journal
from backroom.finance.services.mirror import set_account_map
from backroom.finance.services.periods import (
    change_period_status,
    month_start,
    period_for,
    postable_date,
)
from backroom.finance.services.revaluation import revalue_period
from backroom.finance.services.settlements import settle_balance
from backroom.kernel.actors import SYSTEM
from backroom.kernel.clock import now
from backroom.org.choices import NodeKind
from backroom.org.models import LegalEntity

CHARTS = {"CN": "cn_small_business"}
# The opening balances: paid-in capital in the bank (chart → bank and capital accounts).
OPENING = {"cn_small_business": ("1002", "3001"), "ifrs": ("1010", "3000")}
OPENING_CAPITAL = {"CNY": Decimal(2_000_000), "HKD": Decimal(800_000)}


def seed(ctx: DemoContext) -> None:
    entities = [node.legal_entity for node in ctx.nodes.values() if node.kind == NodeKind.ENTITY]
    if not entities:
        return
    today = timezone.localtime(now()).date()
    for back in range(70):
        day = today - dt.timedelta(days=back)
        drift = Decimal(ctx.random.randint(-40, 40)) / Decimal(10000)
        set_fx_rate(
            date=day, currency="HKD", quote="CNY", rate=Decimal("0.9150") + drift, actor=SYSTEM
        )
        set_fx_rate(
            date=day, currency="USD", quote="CNY", rate=Decimal("7.1200") + drift * 5, actor=SYSTEM
        )
    this_month = month_start(today)
    for entity in sorted(entities, key=lambda entity: entity.node.code):
        book = open_books(entity, chart=CHARTS.get(entity.country, "ifrs"), actor=SYSTEM)
        bank, capital = OPENING[book.chart]
        create_journal(
            book,
            actor=SYSTEM,
            date=month_start(today - dt.timedelta(days=60)),
            description="期初余额 Opening balances",
            lines=[
                LineInput(account=bank, amount=OPENING_CAPITAL[entity.base_currency]),
                LineInput(account=capital, amount=-OPENING_CAPITAL[entity.base_currency]),
            ],
            post=True,
            key=f"demo-opening:{entity.pk}",
        )
        if book.chart == "cn_small_business":
            keep_drinks_and_ifrs_books(entity, book)
        catch_up(entity)
        if book.chart == "cn_small_business":
            licence_fee_abroad(book, today)
        period_for(entity, this_month - dt.timedelta(days=1))  # last month, even if quiet
        for period in Period.objects.filter(entity=entity, start__lt=this_month).order_by("start"):
            revalue_period(period, actor=SYSTEM)
            for status in (PeriodStatus.SOFT_CLOSED, PeriodStatus.CLOSED):
                change_period_status(period, status=status, actor=SYSTEM)

    if {"staff.sh001", "manager.sh001", "finance"} <= set(ctx.users) and "SH001" in ctx.nodes:
        seed_claims(ctx, today)


def keep_drinks_and_ifrs_books(entity: LegalEntity, book: Book) -> None:
    """Drinks' revenue on its own account, and an IFRS book mirroring the primary one."""
    header = book.accounts.get(code="5001")
    drinks = create_account(
        book,
        actor=SYSTEM,
        code="5001.03",
        name="Beverage sales",
        name_zh="饮品销售收入",
        kind=AccountKind.REVENUE,
        parent=header,
    )
    category = Category.objects.filter(code="drinks").first()
    if category is not None:
        set_posting_account(
            entity, role=PostingRole.SALES_REVENUE, account=drinks, category=category, actor=SYSTEM
        )
    ifrs = open_books(entity, chart="ifrs", actor=SYSTEM)
    set_account_map(ifrs, source=drinks, target=ifrs.accounts.get(code="4010"), actor=SYSTEM)


def licence_fee_abroad(book: Book, today: dt.date) -> None:
    """A 12,000 USD brand licence fee due from a Singapore partner, booked at the rate of its
    day; half of it received ten days ago at that day's rate into the USD bank account."""
    booked, received = today - dt.timedelta(days=40), today - dt.timedelta(days=10)
    create_journal(
        book,
        actor=SYSTEM,
        date=postable_date(book.entity, booked, SYSTEM),
        description="海外品牌授权费 Brand licence fee, Lion City Noodles Pte. Ltd.",
        lines=[
            LineInput(account="1122.02", amount=Decimal(12_000), currency="USD"),
            LineInput(account="5301", amount=Decimal(-12_000), currency="USD"),
        ],
        post=True,
        key=f"demo-licence-fee:{book.pk}",
    )
    settle_balance(
        book,
        account=book.accounts.get(code="1122.02"),
        currency="USD",
        amount=Decimal(6_000),
        date=received,
        reference="TT 2026-118",
        actor=SYSTEM,
    )


# (what for, category, amount, days ago, how far it goes)
CLAIMS = [
    ("打车去供应商 Taxi to the supplier", "travel", "46.00", 9, "paid"),
    ("打印纸和墨盒 Printer paper and ink", "office", "128.50", 4, "approved"),
    ("冷库门封条维修 Walk-in door seal repair", "repairs", "380.00", 1, "waiting"),
]


def receipt_image(seed: int) -> bytes:
    """A small grey "receipt" PNG (lines of print), made here so the demo needs no files."""
    width, height = 120, 180
    rows = []
    for y in range(height):
        printed = 20 <= y < 170 and (y // 6) % 2 == 0 and (y * 7 + seed) % 5
        row = bytes(70 if printed and 12 < x < 40 + (y * seed) % 60 else 245 for x in range(width))
        rows.append(b"\x00" + row)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def seed_claims(ctx: DemoContext, today: dt.date) -> None:
    store = ctx.nodes["SH001"].site
    staff, manager = ctx.users["staff.sh001"], ctx.users["manager.sh001"]
    for index, (what, category, amount, days, outcome) in enumerate(CLAIMS, start=1):
        claim = submit_claim(
            store,
            ClaimInput(
                category=category,
                description=what,
                spent_on=today - dt.timedelta(days=days),
                amount=amount,
            ),
            receipt=SimpleUploadedFile(f"receipt-{index}.png", receipt_image(index), "image/png"),
            actor=staff,
        )
        if outcome == "waiting":
            continue
        request = approval_request(claim)
        if request is not None and request.is_open:
            for task in request.tasks.filter(status="pending"):
                runtime.approve(task, actor=task.assignee or manager)
        claim.refresh_from_db()
        if outcome == "paid":
            mark_claim_paid(claim, actor=ctx.users["finance"])
