"""`kernel.prepared` reads what the ORM would read, with each call's own values, on SQLite and
PostgreSQL (tested here: the kernel knows no domain models)."""

import uuid

import pytest
from django.db import connection
from django.db.models import QuerySet

from backroom.accounts.models import Membership
from backroom.channels import intake
from backroom.channels.models import Order
from backroom.channels.tests.conftest import placed
from backroom.kernel import prepared as prepared_module
from backroom.kernel.actors import SYSTEM
from backroom.kernel.prepared import PreparedError, prepared
from backroom.org.models import OrgNode
from backroom.testing.factories import make_user


@prepared
def _nodes(codes: list[str], active: bool) -> QuerySet[OrgNode]:
    return OrgNode.objects.filter(code__in=codes, is_active=active).order_by("code")


@prepared
def _memberships(user_id: int) -> QuerySet[Membership]:
    return Membership.objects.filter(user_id=user_id).select_related("role", "node", "node__parent")


@prepared
def _paths(node_id: int, kinds: set[str]) -> QuerySet[OrgNode, tuple[int, str]]:
    return OrgNode.objects.filter(pk=node_id, kind__in=kinds).values_list("pk", "path")


@prepared
def _order_ids(uuids: list[uuid.UUID]) -> QuerySet[Order, int]:
    return Order.objects.filter(pos_uuid__in=uuids).values_list("pk", flat=True)


@pytest.mark.django_db
def test_each_call_binds_its_own_values(tree, django_assert_num_queries):
    a, b = tree.store_a, tree.store_b
    assert [n.pk for n in _nodes([a.code], True)] == [a.pk]  # builds the shape
    with django_assert_num_queries(1):
        assert [n.pk for n in _nodes([b.code], True)] == [b.pk]
    assert _nodes([b.code], False) == []  # a boolean is part of the shape
    assert [n.pk for n in _nodes([b.code, a.code], True)] == sorted(
        [a.pk, b.pk], key=lambda pk: OrgNode.objects.get(pk=pk).code
    )
    assert _nodes([], True) == []  # IN (): nothing, without a statement
    many = [f"NOPE-{n}" for n in range(prepared_module.LONGEST)] + [a.code]
    assert [n.pk for n in _nodes(many, True)] == [a.pk]  # longer than LONGEST: the ORM
    node = _nodes([a.code], True)[0]
    assert node == OrgNode.objects.get(pk=a.pk)
    assert node.path == a.path and node.depth == a.depth and not node._state.adding


@pytest.mark.django_db
def test_related_rows_arrive_with_their_row(tree, django_assert_num_queries):
    manager = make_user("store_manager", tree.store_a)
    other = make_user("store_manager", tree.store_b)
    assert len(_memberships(other.pk)) == 1
    with django_assert_num_queries(1):
        (membership,) = _memberships(manager.pk)
        assert membership.role.code == "store_manager"
        assert membership.node.pk == tree.store_a.pk
        assert membership.node.parent.pk == tree.store_a.parent_id
    expected = Membership.objects.select_related("role", "node").get(user=manager)
    assert (membership.pk, membership.role, membership.node) == (
        expected.pk,
        expected.role,
        expected.node,
    )


@pytest.mark.django_db
def test_values_lists_and_uuids(tree, menu):
    site = tree.store_a
    assert _paths(site.pk, {"store", "region"}) == [(site.pk, site.path)]
    assert _paths(site.pk, {"region", "group"}) == []
    first, second = uuid.uuid4(), uuid.uuid4()
    orders = {}
    for till_uuid in (first, second):
        applied = intake.apply_event(menu.pos, placed(str(till_uuid)), actor=SYSTEM)
        orders[till_uuid] = applied.order.pk
    assert _order_ids([first]) == [orders[first]]
    assert _order_ids([second]) == [orders[second]]
    assert sorted(_order_ids([second, uuid.uuid4(), first])) == sorted(orders.values())


def test_what_cannot_be_prepared_is_refused_when_first_built(db):
    @prepared
    def transformed(code: str) -> QuerySet[OrgNode]:
        return OrgNode.objects.filter(code__icontains=code)

    @prepared
    def counted(code: str) -> QuerySet[OrgNode]:
        return OrgNode.objects.filter(code=code).prefetch_related("children")

    @prepared
    def small(depth: int) -> QuerySet[OrgNode]:
        return OrgNode.objects.filter(depth=depth)

    for read in (transformed, counted):
        with pytest.raises(PreparedError):
            read("A")
    if connection.vendor == "postgresql":
        # A marker outside a small integer field's range: the lookup drops it there.
        with pytest.raises(PreparedError):
            small(1)
    else:
        assert small(5) == []
    with pytest.raises(PreparedError):
        _nodes([1.5], True)  # a float is neither text, an integer nor a UUID
    with pytest.raises(PreparedError):
        _nodes(codes=["A"], active=True)
