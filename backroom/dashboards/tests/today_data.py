"""Test data of the store's "today": till sales at known local hours at store A (the channels
test menu), a forecast made through the planning forecasts and `rollups.snapshot_forecasts`."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

from backroom.catalog import services as catalog
from backroom.channels import pos
from backroom.dashboards import rollups
from backroom.kernel.actors import SYSTEM
from backroom.planning.models import DemandForecast, ForecastRun

D = Decimal
CHINA = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 12, 3)  # a Thursday; store A's cut-off is 04:00
HISTORY_DAY = DAY - dt.timedelta(days=7)  # the same weekday a week before


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    """A local (Shanghai) wall-clock instant."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA)


def till_sale(menu, placed_at: dt.datetime, quantity: int = 1, price: str = "100") -> None:
    """A completed till sale of NOODLES at store A (through the POS service)."""
    total = D(quantity) * D(price)
    pos.submit_orders(
        [
            pos.TillOrder(
                uuid=uuid.uuid4(),
                store_id=menu.pos.site_id,
                placed_at=placed_at,
                display_id="T",
                currency="CNY",
                total=total,
                original_price=total,
                lines=[
                    pos.TillLine(
                        sku="NOODLES", name="Noodles", quantity=D(quantity), unit_price=D(price)
                    )
                ],
            )
        ],
        actor=SYSTEM,
    )


def history(menu) -> None:
    """A week before: 100 at 11h, 300 at 12h, 400 at 18h (the hourly profile: 1/8, 3/8, 1/2)."""
    till_sale(menu, at(11, 30, HISTORY_DAY), 1)
    till_sale(menu, at(12, 30, HISTORY_DAY), 3)
    till_sale(menu, at(18, 30, HISTORY_DAY), 4)


def forecast(menu, site, day: dt.date = DAY, portions: str = "60", price: str = "20") -> int:
    """Planning forecasts `portions` noodles at the menu price `price` for `day`; the nightly
    snapshot records it (60 × 20 = 1,200)."""
    catalog.set_menu_price(
        menu.noodles,
        catalog.MenuPriceInput(
            price=D(price), currency="CNY", effective_from=day - dt.timedelta(30)
        ),
        actor=SYSTEM,
    )
    run = ForecastRun.objects.create(
        started_at=dt.datetime.now(dt.UTC), as_of=day - dt.timedelta(days=1), horizon=7
    )
    DemandForecast.objects.create(
        run=run, site=site, menu_item=menu.noodles, date=day, quantity=D(portions), model="lgbm"
    )
    return rollups.snapshot_forecasts(day)
