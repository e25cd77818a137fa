"""The demo's books: each company's books open on the Chinese small-business chart (CN-SH)
and the IFRS-style chart (HK), its 60 days of stock and sales posted, exchange rates entered,
and every month before the current one closed. Finance opens the books after the operations'
seeds ran, so `catch_up` posts them, as it would for a chain switching Backroom's books on."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from backroom.config.demo import DemoContext
from backroom.finance.choices import PeriodStatus
from backroom.finance.models import Period
from backroom.finance.services.automatic import catch_up
from backroom.finance.services.books import open_books
from backroom.finance.services.fx import set_fx_rate
from backroom.finance.services.periods import change_period_status, month_start
from backroom.kernel.actors import SYSTEM
from backroom.kernel.clock import now
from backroom.org.choices import NodeKind

CHARTS = {"CN": "cn_small_business"}


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
        open_books(entity, chart=CHARTS.get(entity.country, "ifrs"), actor=SYSTEM)
        catch_up(entity)
        for period in Period.objects.filter(entity=entity, start__lt=this_month).order_by("start"):
            for status in (PeriodStatus.SOFT_CLOSED, PeriodStatus.CLOSED):
                change_period_status(period, status=status, actor=SYSTEM)
