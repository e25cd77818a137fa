"""`kernel.bulk.update_rows` writes what `bulk_update` would, on SQLite and PostgreSQL (tested here:
the kernel knows no domain models)."""

import datetime as dt

import pytest

from backroom.catalog import services as catalog
from backroom.catalog.tests.conftest import make_item
from backroom.channels.models import SoldOutState
from backroom.kernel import bulk
from backroom.kernel.actors import SYSTEM
from backroom.testing.factories import make_user


@pytest.mark.django_db
def test_update_rows_writes_what_bulk_update_would(tree, django_assert_num_queries):
    catalog.create_item_class(catalog.ItemClassInput(code="food", name="Food"), actor=SYSTEM)
    items = [make_item(f"BULK-{n}") for n in range(3)]
    site = tree.store_a.site
    states = [SoldOutState.objects.create(site=site, item=item, sellable=5) for item in items]
    other = SoldOutState.objects.create(site=tree.store_b.site, item=items[0], sellable=7)
    when = dt.datetime(2026, 12, 6, 3, 15, 30, 123456, tzinfo=dt.UTC)
    user = make_user("store_manager", tree.store_a)
    changes = [(0, when, user), (None, when + dt.timedelta(hours=1), None), (12, when, user)]
    for state, (sellable, computed_at, changed_by) in zip(states, changes, strict=True):
        state.sellable, state.computed_at, state.changed_by = sellable, computed_at, changed_by
        state.reason = "not written"  # a field not named is left alone
    with django_assert_num_queries(1):
        bulk.update_rows(states, ["sellable", "computed_at", "changed_by"])
    got = {
        row.pk: (row.sellable, row.computed_at, row.changed_by_id, row.reason)
        for row in SoldOutState.objects.all()
    }
    for state, (sellable, computed_at, changed_by) in zip(states, changes, strict=True):
        assert got[state.pk] == (sellable, computed_at, getattr(changed_by, "pk", None), "")
    assert got[other.pk][0] == 7  # another row is untouched
    with django_assert_num_queries(0):
        bulk.update_rows([], ["sellable"])
