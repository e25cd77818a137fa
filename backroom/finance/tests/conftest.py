"""Finance test data: the tree fixture's two entities with their books open."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from backroom.finance.models import Book
from backroom.finance.services.books import open_books
from backroom.finance.services.journals import LineInput
from backroom.inventory.tests.conftest import stock  # noqa: F401  (the stock fixture)
from backroom.kernel.actors import SYSTEM
from backroom.procurement.tests.conftest import world  # noqa: F401  (the procurement fixture)

DAY = dt.date(2026, 11, 10)


@dataclass
class Books:
    cn: Book  # CN-CO, CNY, Chinese small-business chart
    hk: Book  # HK-CO, HKD, IFRS-style chart


@pytest.fixture
def books(tree) -> Books:
    return Books(
        cn=open_books(tree.entity.legal_entity, chart="cn_small_business", actor=SYSTEM),
        hk=open_books(tree.entity_hk.legal_entity, chart="ifrs", actor=SYSTEM),
    )


def D(value: str | int) -> Decimal:
    return Decimal(str(value))


def line(account: str, amount: str, **extra) -> LineInput:
    return LineInput(account=account, amount=D(amount), **extra)


def beverage_account(book: Book):
    """A revenue account of the Chinese chart for drinks, beside 5001.02 (not in the template)."""
    from backroom.finance.services.books import create_account

    return create_account(
        book,
        actor=SYSTEM,
        code="5001.03",
        name="Beverage sales",
        name_zh="饮品销售收入",
        kind="revenue",
        parent=book.accounts.get(code="5001"),
    )
