"""The demo's books: each company's books open on the Chinese small-business chart (CN-SH)
and the IFRS-style chart (HK), with paid-in capital as opening balances; its 60 days of stock
and sales posted, exchange rates entered, every month before the current one closed, and a
few expense claims at SH001 (one paid, one approved and waiting to be paid, one waiting for
the store manager). Finance opens the books after the operations' seeds ran, so `catch_up`
posts them, as it would for a chain switching Backroom's books on."""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from backroom.approvals import runtime
from backroom.config.demo import DemoContext
from backroom.finance.choices import PeriodStatus
from backroom.finance.models import Period
from backroom.finance.services.automatic import catch_up
from backroom.finance.services.books import open_books
from backroom.finance.services.claims import (
    ClaimInput,
    approval_request,
    mark_claim_paid,
    submit_claim,
)
from backroom.finance.services.fx import set_fx_rate
from backroom.finance.services.journals import LineInput, create_journal
from backroom.finance.services.periods import change_period_status, month_start, period_for
from backroom.kernel.actors import SYSTEM
from backroom.kernel.clock import now
from backroom.org.choices import NodeKind

CHARTS = {"CN": "cn_small_business"}
# The opening balances: paid-in capital in the bank (chart → bank and capital accounts).
OPENING = {"cn_small_business": ("1002", "3001"), "ifrs": ("1010", "3000")}
OPENING_CAPITAL = {"CNY": Decimal(2_000_000), "HKD": Decimal(800_000)}


def seed(ctx: DemoContext) -> None:
    entities = [node.legal_entity for node in ctx.nodes.values() if node.kind == NodeKind.ENTITY]
    if not entities:
        return
    today = now().date()
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
        catch_up(entity)
        period_for(entity, this_month - dt.timedelta(days=1))  # last month, even if quiet
        for period in Period.objects.filter(entity=entity, start__lt=this_month).order_by("start"):
            for status in (PeriodStatus.SOFT_CLOSED, PeriodStatus.CLOSED):
                change_period_status(period, status=status, actor=SYSTEM)

    if {"staff.sh001", "manager.sh001", "finance"} <= set(ctx.users) and "SH001" in ctx.nodes:
        seed_claims(ctx, today)


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
