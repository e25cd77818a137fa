"""`backroom check-ledgers`: every registered ledger check, exit 1 on any difference."""

import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from backroom.__main__ import main
from backroom.audit.models import AuditEntry
from backroom.config import ledger_checks
from backroom.config.ledger_checks import register_ledger_check, registered_checks
from backroom.events.models import OutboxEvent


def _check_ledgers():
    out, err = StringIO(), StringIO()
    try:
        call_command("check_ledgers", stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def extra_check(monkeypatch):
    """Register checks for one test only."""
    monkeypatch.setattr(ledger_checks, "_checks", dict(ledger_checks._checks))
    return register_ledger_check


def test_the_built_in_checks_are_registered():
    assert {"audit.chain", "events.outbox"} <= set(registered_checks())


def test_consistent_ledgers_pass(tree):
    count = len(registered_checks())
    code, out, err = _check_ledgers()
    assert (code, out.strip(), err) == (0, f"{count} checks, all consistent", "")


def test_broken_audit_chain_fails(tree):
    entry_id = AuditEntry.objects.order_by("id").values_list("id", flat=True)[2]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEntry._meta.db_table} SET target_label = %s WHERE id = %s",
            ["tampered", entry_id],
        )
    code, out, err = _check_ledgers()
    assert code == 1
    assert out == ""
    assert f"audit.chain: entry #{entry_id} was edited after it was written" in err


def test_event_dispatched_before_it_occurred_fails(tree):
    row = OutboxEvent.objects.order_by("id").first()
    OutboxEvent.objects.filter(pk=row.pk).update(
        dispatched_at=row.occurred_at - timezone.timedelta(seconds=5)
    )
    code, _out, err = _check_ledgers()
    assert code == 1
    assert f"events.outbox: outbox event #{row.pk} ({row.event_type}) was dispatched" in err
    assert "audit.chain" not in err.splitlines()[0]


def test_registered_app_checks_run_and_crashes_count_as_differences(db, extra_check):
    extra_check("test.fine", lambda: [])
    extra_check("test.stock", lambda: ["item 7 at SH001: on hand 3 but moves add up to 2"])

    def crashing():
        raise ValueError("boom")

    extra_check("test.crash", crashing)
    code, _out, err = _check_ledgers()
    assert code == 1
    assert "test.stock: item 7 at SH001: on hand 3 but moves add up to 2" in err
    assert "test.crash: the check failed: ValueError('boom')" in err
    assert "test.fine" not in err.split("checks,")[0]
    assert "2 with differences: test.crash, test.stock" in err


def test_registering_a_different_check_under_a_taken_name_is_refused(extra_check):
    extra_check("test.once", lambda: [])
    with pytest.raises(ValueError):
        extra_check("test.once", lambda: ["other"])


def test_console_script_maps_the_dashed_name_and_exits_1(tree, monkeypatch, capsys, extra_check):
    extra_check("test.broken", lambda: ["a difference"])
    monkeypatch.setattr(sys, "argv", ["backroom", "check-ledgers", "--skip-checks"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    assert "test.broken: a difference" in capsys.readouterr().err
