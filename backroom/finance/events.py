"""Finance events."""

from dataclasses import dataclass
from enum import StrEnum

from backroom.events.catalogue import event


class FinanceEvent(StrEnum):
    JOURNAL_POSTED = "finance.journal.posted"
    PERIOD_CHANGED = "finance.period.changed"
    POSTING_WAITING = "finance.posting.waiting"


@event(FinanceEvent.JOURNAL_POSTED)
@dataclass(frozen=True)
class JournalPosted:
    journal_id: int
    number: str
    book: str
    date: str
    kind: str
    source_type: str
    source_id: str
    reverses: int | None


@event(FinanceEvent.PERIOD_CHANGED)
@dataclass(frozen=True)
class PeriodChanged:
    period_id: int
    entity: str
    period: str
    status: str
    previous: str


@event(FinanceEvent.POSTING_WAITING)
@dataclass(frozen=True)
class PostingWaiting:
    """An automatic posting waits for an account mapping or a rate (finance must act)."""

    pending_id: int
    entity: str
    rule: str
    problem_code: str


@event("finance.claim.changed")
@dataclass(frozen=True)
class ClaimChanged:
    """An expense claim was submitted, approved, rejected, withdrawn or paid (`status`)."""

    claim_id: int
    number: str
    site_id: int
    status: str
    amount: str
    currency: str
