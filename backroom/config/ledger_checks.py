"""Ledger checks: each compares a projection or chain with the rows it is derived from.

`backroom check-ledgers` runs every registered check. A check is a function returning a list
of differences (human-readable strings); an empty list means consistent. Apps register theirs
in `backroom/<app>/ledger_checks.py` (imported on first run), e.g. on-hand = Σ stock moves,
debits = credits per journal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import F
from django.utils.module_loading import autodiscover_modules

LedgerCheck = Callable[[], list[str]]

_checks: dict[str, LedgerCheck] = {}
_discovered = False


def register_ledger_check(name: str, func: LedgerCheck) -> LedgerCheck:
    """Register a check under a unique name; registering the same function again is harmless."""
    if name in _checks and _checks[name] is not func:
        raise ValueError(f"ledger check {name} registered twice")
    _checks[name] = func
    return func


def ledger_check(name: str) -> Callable[[LedgerCheck], LedgerCheck]:
    """Decorator form of `register_ledger_check`."""

    def register(func: LedgerCheck) -> LedgerCheck:
        return register_ledger_check(name, func)

    return register


def registered_checks() -> dict[str, LedgerCheck]:
    """Every check, the apps' `ledger_checks` modules included, by name."""
    global _discovered
    if not _discovered:
        autodiscover_modules("ledger_checks")
        _discovered = True
    return dict(sorted(_checks.items()))


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    differences: list[str]

    @property
    def is_consistent(self) -> bool:
        return not self.differences


def run_ledger_checks() -> list[CheckOutcome]:
    """Run every registered check; a check that crashes reports the crash as its difference."""
    outcomes = []
    for name, func in registered_checks().items():
        try:
            differences = list(func())
        except Exception as error:
            differences = [f"the check failed: {error!r}"]
        outcomes.append(CheckOutcome(name, differences))
    return outcomes


# --- the checks every deployment has -----------------------------------------------------


@ledger_check("audit.chain")
def check_audit_chain() -> list[str]:
    """Every audit entry follows its predecessor and the chain head points at the newest."""
    from backroom.audit.services import verify_audit_chain

    result = verify_audit_chain()
    return [] if result.is_valid else [result.problem]


@ledger_check("events.outbox")
def check_outbox() -> list[str]:
    """No outbox event was dispatched before it occurred."""
    from backroom.events.models import OutboxEvent

    early = OutboxEvent.objects.filter(dispatched_at__lt=F("occurred_at")).order_by("id")
    return [
        f"outbox event #{row.pk} ({row.event_type}) was dispatched at {row.dispatched_at} "
        f"before it occurred at {row.occurred_at}"
        for row in early[:100]
    ]
