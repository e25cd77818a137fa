"""Seeding the demo into an empty database, and what it refuses (each test seeds its own)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from backroom.accounts.models import User
from backroom.audit.models import AuditEntry
from backroom.config.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo
from backroom.events.models import OutboxEvent
from backroom.org.models import OrgNode, Site


def test_an_existing_organisation_is_left_alone(tree):
    nodes = OrgNode.objects.count()
    result = seed_demo()
    assert result.created is False
    assert result.logins == []
    assert OrgNode.objects.count() == nodes
    assert not User.objects.exists()


def _opening_dates(seed):
    with transaction.atomic():
        seed_demo(seed=seed, only=["org"])
        dates = dict(Site.objects.values_list("node__code", "opening_date"))
        transaction.set_rollback(True)
    return dates


def test_same_seed_gives_the_same_data(db):
    first = _opening_dates(42)
    assert not OrgNode.objects.exists()
    assert _opening_dates(42) == first
    assert _opening_dates(43) != first


def test_a_failing_app_seed_rolls_back_everything(db, monkeypatch):
    def broken(ctx):
        raise RuntimeError("seed failed")

    monkeypatch.setattr("backroom.accounts.demo.seed", broken)
    with pytest.raises(RuntimeError):
        seed_demo()
    assert not OrgNode.objects.exists()
    assert not AuditEntry.objects.exists()
    assert not OutboxEvent.objects.exists()


def test_demo_command_seeds_then_prints_logins_either_way(db, monkeypatch):
    # The command's own behaviour; the whole chain's seed is tests/test_demo.py's (one seed).
    monkeypatch.setattr(
        "backroom.config.demo.demo_modules", lambda: ["backroom.org.demo", "backroom.accounts.demo"]
    )
    out = StringIO()
    call_command("demo", "--seed", "42", stdout=out)
    first = out.getvalue()
    assert "Seeded the demo chain." in first
    lines = first.splitlines()
    header = next(line for line in lines if line.startswith("username"))
    assert header.split() == ["username", "password", "role", "where"]
    assert any(
        line.split()[:2] == ["manager.sh001", DEMO_PASSWORD] and "People's Square" in line
        for line in lines
    )
    assert sum(DEMO_PASSWORD in line for line in lines) == len(DEMO_USERS)

    out = StringIO()
    call_command("demo", stdout=out)
    second = out.getvalue()
    assert "left it as it is" in second
    assert sum(DEMO_PASSWORD in line for line in second.splitlines()) == len(DEMO_USERS)
    assert User.objects.count() == len(DEMO_USERS)


def test_demo_command_on_a_foreign_organisation_prints_no_logins(tree):
    out = StringIO()
    call_command("demo", stdout=out)
    assert "No demo users in this database." in out.getvalue()
    assert DEMO_PASSWORD not in out.getvalue()
