import itertools

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backroom.audit.models import AuditChainHead, AuditEntry
from backroom.audit.services import GENESIS_HASH, record_audit, verify_audit_chain
from backroom.kernel.actors import SYSTEM
from backroom.kernel.context import reset_request_id, set_request_id
from backroom.org.models import OrgNode
from backroom.testing.factories import make_user


def _raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_entries_chain_and_verify(tree):
    entries = list(AuditEntry.objects.order_by("id"))
    assert len(entries) == 7  # one per node of the tree
    assert entries[0].previous_hash == GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after.previous_hash == before.hash
    head = AuditChainHead.objects.get()
    assert (head.last_entry_id, head.last_hash) == (entries[-1].pk, entries[-1].hash)
    result = verify_audit_chain()
    assert result.is_valid
    assert result.checked == 7


def test_entry_records_actor_request_id_and_node(tree):
    user = make_user("hq_admin", tree.group)
    token = set_request_id("req-12345678")
    try:
        entry = record_audit(
            actor=user,
            action="test.touch",
            target=tree.store_a,
            before={"a": 1},
            after={"a": 2},
            reason="why",
            org_node=tree.store_a,
        )
    finally:
        reset_request_id(token)
    entry.refresh_from_db()
    assert entry.actor_id == user.pk
    assert entry.actor_label == user.username
    assert entry.request_id == "req-12345678"
    assert entry.org_node_id == tree.store_a.pk
    assert entry.target_type == "org.orgnode"
    assert (entry.before, entry.after, entry.reason) == ({"a": 1}, {"a": 2}, "why")


def test_application_cannot_update_or_delete_entries(tree):
    entry = AuditEntry.objects.order_by("id").first()
    entry.reason = "tampered"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditEntry.objects.all().update(reason="x")
    with pytest.raises(TypeError):
        AuditEntry.objects.all().delete()


def test_verify_names_an_edited_row(tree):
    victim = AuditEntry.objects.order_by("id")[3]
    _raw("UPDATE audit_auditentry SET reason = %s WHERE id = %s", ["edited", victim.pk])
    result = verify_audit_chain()
    assert not result.is_valid
    assert result.first_bad_id == victim.pk
    assert "edited" in result.problem


def test_verify_names_the_row_after_a_deleted_one(tree):
    ids = list(AuditEntry.objects.order_by("id").values_list("id", flat=True))
    _raw("DELETE FROM audit_auditentry WHERE id = %s", [ids[2]])
    result = verify_audit_chain()
    assert result.first_bad_id == ids[3]


def test_verify_notices_the_newest_rows_deleted(tree):
    last = AuditEntry.objects.order_by("-id").first()
    _raw("DELETE FROM audit_auditentry WHERE id = %s", [last.pk])
    result = verify_audit_chain()
    assert not result.is_valid
    assert "missing" in result.problem


def test_verify_names_a_row_inserted_out_of_chain(tree):
    first = AuditEntry.objects.order_by("id").first()
    record_audit(actor=SYSTEM, action="test.real", target=tree.group)
    real = AuditEntry.objects.order_by("-id").first()
    # A forged row claiming to follow the first entry, given a correct hash of its own content.
    forged = AuditEntry(
        occurred_at=real.occurred_at,
        actor_label="mallory",
        action="test.forged",
        target_type="org.orgnode",
        target_id="1",
        target_label="x",
        previous_hash=first.hash,
        hash="f" * 64,
    )
    from backroom.audit.services import entry_hash

    forged.hash = entry_hash(forged)
    forged.save()
    AuditChainHead.objects.filter(singleton=1).update(
        last_entry_id=forged.pk, last_hash=forged.hash
    )
    result = verify_audit_chain()
    assert result.first_bad_id == forged.pk


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    index=st.integers(min_value=0, max_value=6),
    column=st.sampled_from(["action", "target_label", "actor_label", "target_id"]),
)
def test_any_single_edit_is_found(tree, index, column):
    victim = AuditEntry.objects.order_by("id")[index]
    original = getattr(victim, column)
    _raw(f"UPDATE audit_auditentry SET {column} = %s WHERE id = %s", [original + "!", victim.pk])
    try:
        assert verify_audit_chain().first_bad_id == victim.pk
    finally:
        _raw(f"UPDATE audit_auditentry SET {column} = %s WHERE id = %s", [original, victim.pk])
    assert verify_audit_chain().is_valid


def test_node_rows_exist_for_scope(tree):
    assert OrgNode.objects.count() == 7
