"""Supplier contacts: added and changed through the services, checked alike, audited with the
values before and after, procurement.manage at the supplier's node."""

from __future__ import annotations

import json

import pytest

from backroom.audit.models import AuditEntry
from backroom.kernel.actors import SYSTEM
from backroom.kernel.exceptions import NotFound, PermissionDenied, ValidationFailed
from backroom.procurement import services
from backroom.procurement.models import SupplierContact
from backroom.procurement.tests.test_api import API
from backroom.testing.factories import client_for, make_user

pytestmark = pytest.mark.django_db


def contact_rows() -> list[tuple[str, str, str, str, bool]]:
    return list(
        SupplierContact.objects.order_by("pk").values_list(
            "name", "role", "phone", "email", "is_primary"
        )
    )


def update_entries() -> int:
    return AuditEntry.objects.filter(action="procurement.supplier.contact.update").count()


@pytest.fixture
def wang(world) -> SupplierContact:
    services.add_contact(world.supplier, services.ContactInput(name="Ms Li"), actor=SYSTEM)
    return services.add_contact(
        world.supplier,
        services.ContactInput(
            name="Mr Wang", phone="13800138000", email="wang@fresh.example", is_primary=True
        ),
        actor=SYSTEM,
    )


def test_update_changes_the_fields_given_and_audits_before_and_after(tree, wang):
    buyer = make_user("buyer", tree.group)
    contact = services.update_contact(
        wang,
        actor=buyer,
        reason="New mobile",
        phone=" +86 138-0013-9000 ",
        email="wang@fresh-foods.example",
        role="Sales",
    )
    assert contact == wang
    assert contact_rows() == [
        ("Ms Li", "", "", "", False),
        ("Mr Wang", "Sales", "+86 138-0013-9000", "wang@fresh-foods.example", True),
    ]
    entry = AuditEntry.objects.get(action="procurement.supplier.contact.update")
    assert (entry.actor, entry.reason, entry.org_node, entry.target_id) == (
        buyer,
        "New mobile",
        tree.entity,
        str(wang.pk),
    )
    assert {key: entry.before[key] for key in ("role", "phone", "email")} == {
        "role": "",
        "phone": "13800138000",
        "email": "wang@fresh.example",
    }
    assert {key: entry.after[key] for key in ("name", "role", "phone", "email")} == {
        "name": "Mr Wang",
        "role": "Sales",
        "phone": "+86 138-0013-9000",
        "email": "wang@fresh-foods.example",
    }


def test_an_update_that_changes_nothing_writes_nothing(wang):
    services.update_contact(wang, actor=SYSTEM, phone="13800138000", name="Mr Wang")
    assert update_entries() == 0


def test_every_problem_is_reported_at_once_and_nothing_changes(wang):
    before = contact_rows()
    with pytest.raises(ValidationFailed) as caught:
        services.update_contact(
            wang,
            actor=SYSTEM,
            name=" ",
            phone="call the office",
            email="wang@",
            role="x" * 101,
        )
    assert sorted(caught.value.errors) == ["email", "name", "phone", "role"]
    with pytest.raises(ValidationFailed) as caught:
        services.update_contact(wang, actor=SYSTEM, name="ms li")  # Ms Li's name
    assert list(caught.value.errors) == ["name"]
    with pytest.raises(ValidationFailed) as caught:
        services.update_contact(wang, actor=SYSTEM, supplier_id=1)
    assert list(caught.value.errors) == ["supplier_id"]
    assert contact_rows() == before
    assert update_entries() == 0


def test_adding_a_contact_is_checked_alike(world):
    with pytest.raises(ValidationFailed) as caught:
        services.add_contact(
            world.supplier,
            services.ContactInput(name="", phone="abc", email="not-an-email"),
            actor=SYSTEM,
        )
    assert sorted(caught.value.errors) == ["email", "name", "phone"]
    assert contact_rows() == []
    services.add_contact(world.supplier, services.ContactInput(name="Ms Li"), actor=SYSTEM)
    with pytest.raises(ValidationFailed) as caught:
        services.add_contact(world.supplier, services.ContactInput(name="MS LI "), actor=SYSTEM)
    assert list(caught.value.errors) == ["name"]
    assert contact_rows() == [("Ms Li", "", "", "", False)]


def test_only_a_manager_of_the_suppliers_node_may_change_a_contact(tree, wang):
    before = contact_rows()
    for actor, refusal in (
        (make_user(), NotFound),  # no role: the supplier is out of sight
        (make_user("finance", tree.group), PermissionDenied),  # sees it, may not manage it
        (make_user("buyer", tree.entity_hk), NotFound),  # another entity's buyer
    ):
        with pytest.raises(refusal):
            services.update_contact(wang, actor=actor, phone="1")
    assert contact_rows() == before
    assert update_entries() == 0
    services.update_contact(wang, actor=make_user("buyer", tree.entity), phone="1")
    assert SupplierContact.objects.get(pk=wang.pk).phone == "1"


def test_api_reports_every_problem_and_hides_another_suppliers_contact(tree, world, wang):
    buyer = client_for(make_user("buyer", tree.group))
    url = f"{API}/suppliers/{world.supplier.pk}/contacts/{wang.pk}"
    before = contact_rows()
    response = buyer.patch(
        url,
        json.dumps({"name": "ms li", "phone": "call me", "email": "wang@"}),
        content_type="application/json",
    )
    assert (response.status_code, response.json()["code"]) == (422, "invalid")
    assert sorted(response.json()["details"]["fields"]) == ["email", "name", "phone"]
    other = services.create_supplier(
        services.SupplierInput(code="SEA", name="Sea", node_id=tree.entity.pk, currency="CNY"),
        actor=SYSTEM,
    )
    response = buyer.patch(
        f"{API}/suppliers/{other.pk}/contacts/{wang.pk}",
        json.dumps({"phone": "1"}),
        content_type="application/json",
    )
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert contact_rows() == before
    assert update_entries() == 0


@pytest.mark.parametrize(
    "phone", ["13800138000", "+86 21 5555 0101", "(021) 5555-1234 转 8", "021-5555 Ext. 12"]
)
def test_phones_as_people_write_them_are_accepted(wang, phone):
    assert services.update_contact(wang, actor=SYSTEM, phone=phone).phone == phone
