"""The kernel's `__any` lookup on org rows: one array parameter on PostgreSQL, `IN (...)`
elsewhere; the same rows either way."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backroom.org.models import OrgNode

pytestmark = pytest.mark.django_db


def test_any_finds_the_same_rows_as_in(tree):
    ids = [tree.store_a.pk, tree.store_hk.pk, 10**9]
    assert set(OrgNode.objects.filter(pk__any=ids)) == set(OrgNode.objects.filter(pk__in=ids))
    assert set(OrgNode.objects.filter(parent__any=[tree.region.pk])) == {
        tree.store_a,
        tree.store_b,
    }
    assert not OrgNode.objects.filter(pk__any=[]).exists()
    with CaptureQueriesContext(connection) as queries:
        list(OrgNode.objects.filter(pk__any=ids))
    sql = queries.captured_queries[0]["sql"]
    if connection.vendor == "postgresql":
        assert "= ANY(" in sql
    else:
        assert " IN (" in sql


def test_a_long_list_is_hashed_on_postgresql(tree):
    from backroom.kernel.lookups import HASHED_FROM

    ids = [tree.store_a.pk, *range(10**9, 10**9 + HASHED_FROM)]
    with CaptureQueriesContext(connection) as queries:
        found = list(OrgNode.objects.filter(pk__any=ids))
    assert found == [tree.store_a]
    if connection.vendor == "postgresql":
        assert "IN (SELECT unnest(" in queries.captured_queries[0]["sql"]
