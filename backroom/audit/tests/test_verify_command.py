"""`backroom audit verify` finds edited, deleted and out-of-chain entries and exits 1."""

import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from backroom.__main__ import main
from backroom.audit.models import AuditEntry


def _raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _verify():
    out, err = StringIO(), StringIO()
    try:
        call_command("audit", "verify", stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


def _entry_ids():
    return list(AuditEntry.objects.order_by("id").values_list("id", flat=True))


def test_intact_chain_reports_how_many_entries_were_checked(tree):
    code, out, err = _verify()
    assert code == 0
    assert out.strip() == "Audit chain intact: 7 entries checked."
    assert err == ""


def test_empty_chain_is_intact(db):
    code, out, _err = _verify()
    assert (code, out.strip()) == (0, "Audit chain intact: 0 entries checked.")


def test_edited_entry_is_reported_by_id(tree):
    ids = _entry_ids()
    table = AuditEntry._meta.db_table
    _raw(f"UPDATE {table} SET reason = %s WHERE id = %s", ["tampered", ids[3]])
    code, out, err = _verify()
    assert code == 1
    assert out == ""
    assert f"First bad entry: #{ids[3]}" in err
    assert f"entry #{ids[3]} was edited after it was written" in err
    assert "after 3 good entries" in err


def test_deleted_entry_is_reported_at_the_entry_after_the_gap(tree):
    ids = _entry_ids()
    _raw(f"DELETE FROM {AuditEntry._meta.db_table} WHERE id = %s", [ids[2]])
    code, _out, err = _verify()
    assert code == 1
    assert f"First bad entry: #{ids[3]}" in err
    assert "does not follow the entry before it" in err


def test_deleted_newest_entry_is_reported_against_the_chain_head(tree):
    ids = _entry_ids()
    _raw(f"DELETE FROM {AuditEntry._meta.db_table} WHERE id = %s", [ids[-1]])
    code, _out, err = _verify()
    assert code == 1
    assert f"First bad entry: #{ids[-1]}" in err
    assert "missing" in err


def test_entry_inserted_with_a_wrong_previous_hash_is_reported(tree):
    newest = AuditEntry.objects.order_by("-id").first()
    forged = AuditEntry.objects.create(
        occurred_at=timezone.now(),
        actor_label="mallory",
        action="org.node.create",
        target_type="org.orgnode",
        target_id="999",
        target_label="forged",
        previous_hash="f" * 64,
        hash="e" * 64,
    )
    assert forged.pk > newest.pk
    code, _out, err = _verify()
    assert code == 1
    assert f"First bad entry: #{forged.pk}" in err
    assert "inserted out of chain" in err


def test_console_script_exits_1_with_the_entry_id_on_stderr(tree, monkeypatch, capsys):
    ids = _entry_ids()
    _raw(f"UPDATE {AuditEntry._meta.db_table} SET action = %s WHERE id = %s", ["x", ids[0]])
    monkeypatch.setattr(sys, "argv", ["backroom", "audit", "--skip-checks", "verify"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert f"#{ids[0]}" in captured.err
    assert captured.out == ""
