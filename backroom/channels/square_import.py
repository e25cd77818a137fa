"""Square item-sales CSV import: each ticket becomes a completed order through the intake, each
ticket's Refund rows a refund; nothing is counted twice.

De-duplication, in two layers:
- the file: its sha256 is unique per account (`ImportBatch`); the same file again answers
  "already imported" and changes nothing;
- the lines: every row has a composite key (`platforms.square`: ticket, time, item, modifiers,
  amounts, occurrence). Each ticket's rows are stored verbatim in the inbox (header + rows,
  `text/csv`): the keys already imported for a ticket are those of its stored rows. An
  overlapping export therefore imports only its new tickets and new refund rows. A ticket
  imported before that now shows a line it did not have is not changed: the row is reported.

Every refused row is reported with its spreadsheet row number (the header is row 1): the
adapter's problems (a ticket with a bad row is held back whole and imported complete once the
file is fixed), rows of another Square location, and the lines above. A refund whose sale has
not been imported yet is kept in the inbox (failed, `order_not_received`) and applied by the
inbox retry once its sale is imported.

New sales are applied set-wise (`intake.receive_orders`: one ledger call for the depletion of
all of them); refunds go through `intake.process_message`, as a push would in the worker.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from backroom.accounts.authorization import require_permission
from backroom.audit.services import record_audit
from backroom.channels import intake, parsers
from backroom.channels.choices import TILL_PLACED, ChannelKind, InboxStatus
from backroom.channels.models import ChannelAccount, ImportBatch, InboxMessage, Order
from backroom.channels.permissions import CHANNELS_OPERATE, CHANNELS_VIEW
from backroom.channels.platforms import square
from backroom.channels.platforms.base import EventKind, PlatformEvent
from backroom.channels.platforms.errors import MalformedCsv
from backroom.kernel.exceptions import ValidationFailed
from backroom.org.selectors import get_site

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ERRORS_KEPT = 2000
CSV_CONTENT_TYPE = "text/csv; header=present"
PLACED = "placed"


@dataclass(frozen=True)
class ImportResult:
    batch: ImportBatch
    already_imported: bool


@dataclass(frozen=True)
class RawFile:
    """The file's header and each data row's text exactly as in the file, by row number."""

    header: str
    rows: dict[int, str]

    def snippet(self, row_numbers: Iterable[int]) -> str:
        """The header and these rows, in file order: a small export of its own."""
        return self.header + "".join(self.rows[number] for number in sorted(set(row_numbers)))


def raw_rows(data: bytes) -> RawFile:
    """Split the file into records (a quoted cell may span lines) without changing a byte."""
    content = data.decode("utf-8-sig")
    physical = list(io.StringIO(content, newline=""))
    reader = csv.reader(physical)
    previous = 0
    texts: list[str] = []
    for _cells in reader:
        text = "".join(physical[previous : reader.line_num])
        texts.append(text if text.endswith(("\n", "\r")) else text + "\r\n")
        previous = reader.line_num
    if not texts:
        return RawFile("", {})
    return RawFile(texts[0], {index + 2: text for index, text in enumerate(texts[1:])})


def imports_for(
    actor: Any, *, store_id: int | None = None, account_id: int | None = None
) -> QuerySet[ImportBatch]:
    """Imports at the stores the actor may see channel orders of, newest first."""
    rows = ImportBatch.objects.restrict(actor, CHANNELS_VIEW).select_related("account")
    if store_id is not None:
        rows = rows.filter(account__site=get_site(actor, store_id))
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    return rows.order_by("-created_at", "-pk")


def _line_keys(event: PlatformEvent) -> list[str]:
    return [key for key in event.extra.get("line_keys", "").split(",") if key]


def _location_matches(account: ChannelAccount, location: str) -> bool:
    wanted = {account.store_ref.strip().casefold(), account.name.strip().casefold()}
    return not location.strip() or location.strip().casefold() in wanted


class _Report:
    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def add(self, row: int, column: str, message: str) -> None:
        self.errors.append({"row": row, "column": column, "message": message})


def import_item_sales(
    *, account: ChannelAccount, data: bytes, file_name: str, actor: Any
) -> ImportResult:
    """Import one item-sales export into a Square account (`channels.operate` at its store).

    `ValidationFailed` for a file that is not a Square export at all (nothing is recorded);
    otherwise the batch, with `already_imported` when this very file was imported before."""
    require_permission(actor, CHANNELS_OPERATE, account.site.node)
    if account.kind != ChannelKind.SQUARE:
        raise ValidationFailed({"account_id": [_("Choose a Square account.")]})
    if not account.is_active:
        raise ValidationFailed({"account_id": [_("This account is not active.")]})
    if not data:
        raise ValidationFailed({"file": [_("The file is empty.")]})
    if len(data) > MAX_FILE_BYTES:
        raise ValidationFailed(
            {"file": [_("The file is larger than %(size)s MB.") % {"size": MAX_FILE_BYTES >> 20}]}
        )
    sha = square.file_sha256(data)
    existing = ImportBatch.objects.filter(account=account, file_sha256=sha).first()
    if existing is not None:
        return ImportResult(existing, already_imported=True)
    try:
        parsed = parsers.square_events(account, data)
    except MalformedCsv as error:
        raise ValidationFailed(
            {f"file.{field}": problems for field, problems in error.errors.items()},
            message=_("This is not a Square item-sales export: %(problem)s") % {"problem": error},
        ) from error
    raw = raw_rows(data)
    with transaction.atomic():
        # One import per account at a time: the second waits and sees the first's orders.
        ChannelAccount.objects.select_for_update().filter(pk=account.pk).first()
        existing = ImportBatch.objects.filter(account=account, file_sha256=sha).first()
        if existing is not None:
            return ImportResult(existing, already_imported=True)
        batch = _apply(account, parsed, raw, file_name=file_name, size=len(data), actor=actor)
    return ImportResult(batch, already_imported=False)


def _apply(
    account: ChannelAccount,
    parsed: square.SquareImport,
    raw: RawFile,
    *,
    file_name: str,
    size: int,
    actor: Any,
) -> ImportBatch:
    report = _Report()
    for error in parsed.errors:
        report.add(error.row, error.column, error.message)

    lines_by_key = {line.line_key: line for line in parsed.lines}
    rows_of: dict[tuple[str, str], list[int]] = defaultdict(list)
    foreign: set[str] = set()
    for line in parsed.lines:
        rows_of[(line.transaction_id, line.event_type)].append(line.row)
        if not _location_matches(account, line.location):
            foreign.add(line.transaction_id)
    for line in parsed.lines:
        if line.transaction_id in foreign:
            report.add(
                line.row,
                "Location",
                _("Location %(location)s is not this account's (%(store)s): not imported.")
                % {"location": line.location, "store": account.store_ref},
            )
    events = [event for event in parsed.events if event.external_order_id not in foreign]
    tickets = {event.external_order_id for event in events}

    known, placed = _imported(account, tickets)
    new_orders: list[intake.NewOrder] = []
    refunds: list[tuple[PlatformEvent, list[str]]] = []
    imported = duplicate = 0
    for event in events:
        ticket = event.external_order_id
        keys = _line_keys(event)
        if event.kind == EventKind.ORDER_PLACED:
            if ticket in placed:
                duplicate += sum(1 for key in keys if key in known[ticket])
                for key in keys:
                    if key not in known[ticket]:
                        report.add(
                            lines_by_key[key].row,
                            "Transaction ID",
                            _(
                                "Ticket %(ticket)s was imported before without this line: "
                                "it was not added."
                            )
                            % {"ticket": ticket},
                        )
                continue
            imported += len(keys)
            payload = raw.snippet(rows_of[(ticket, square.PAYMENT)])
            new_orders.append(
                intake.NewOrder(
                    event=event,
                    payload=payload,
                    raw_type=square.PAYMENT,
                    content_type=CSV_CONTENT_TYPE,
                )
            )
        else:
            fresh = [key for key in keys if key not in known[ticket]]
            duplicate += len(keys) - len(fresh)
            if fresh:
                refunds.append((event, fresh))

    created = _receive_sales(account, new_orders, actor=actor)
    refunded = waiting = 0
    for event, fresh in refunds:
        ticket = event.external_order_id
        payment_rows = rows_of.get((ticket, square.PAYMENT), [])
        snippet = raw.snippet([*payment_rows, *(lines_by_key[key].row for key in fresh)])
        refund = next(
            item
            for item in parsers.square_events(account, snippet.encode()).events
            if item.kind != EventKind.ORDER_PLACED
        )
        message, is_new = intake.receive_message(
            account,
            payload=snippet,
            external_order_id=ticket,
            event_key=refund.event_key,
            raw_type=square.REFUND,
            content_type=CSV_CONTENT_TYPE,
            process=False,
        )
        if not is_new:
            duplicate += len(fresh)
            continue
        imported += len(fresh)
        message = intake.process_message(message.pk)
        if message.status == InboxStatus.PROCESSED:
            refunded += 1
        else:
            waiting += 1
            first_row = min(lines_by_key[key].row for key in fresh)
            report.add(
                first_row,
                "Transaction ID",
                _("Refund kept, not applied yet (%(reason)s); it is retried automatically.")
                % {"reason": message.reason[:200]},
            )

    report.errors.sort(key=lambda error: (error["row"], error["column"]))
    rows = {line.row for line in parsed.lines} | {error.row for error in parsed.errors}
    batch = ImportBatch.objects.create(
        account=account,
        file_name=file_name[:255],
        file_sha256=parsed.file_sha256,
        file_size=size,
        rows=len(rows),
        lines_imported=imported,
        lines_duplicate=duplicate,
        orders_created=created,
        refunds=refunded,
        failed_messages=waiting,
        tickets_held_back=len(parsed.skipped_transactions),
        error_count=len(report.errors),
        errors=report.errors[:MAX_ERRORS_KEPT],
        imported_by=actor if getattr(actor, "pk", None) is not None else None,
    )
    record_audit(
        actor=actor,
        action="channels.square_import",
        target=batch,
        after={
            "account_id": account.pk,
            "file_name": batch.file_name,
            "file_sha256": batch.file_sha256,
            "rows": batch.rows,
            "lines_imported": imported,
            "lines_duplicate": duplicate,
            "orders_created": created,
            "refunds": refunded,
            "error_count": batch.error_count,
        },
        org_node=account.site.node,
    )
    return batch


def _imported(account: ChannelAccount, tickets: set[str]) -> tuple[dict[str, set[str]], set[str]]:
    """The line keys already imported per ticket (from its stored rows), and the tickets whose
    sale is in (an order, or a stored sale)."""
    known: dict[str, set[str]] = defaultdict(set)
    placed: set[str] = set()
    ordered = sorted(tickets)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        placed.update(
            Order.objects.filter(intake.by_external_ids(account, chunk)).values_list(
                "external_id", flat=True
            )
        )
        stored = (
            InboxMessage.objects.filter(account=account, external_order_id__in=chunk)
            .exclude(event_key=TILL_PLACED)  # a till's messages: not here, nor in the index
            .values_list("external_order_id", "event_key", "payload", "content_type")
        )
        for ticket, event_key, payload, content_type in stored:
            if event_key == PLACED:
                placed.add(ticket)
            if not content_type.startswith("text/csv"):
                continue
            try:
                lines = parsers.square_events(account, payload.encode()).lines
            except MalformedCsv:
                continue
            known[ticket].update(line.line_key for line in lines)
    return known, placed


def _receive_sales(
    account: ChannelAccount, new_orders: list[intake.NewOrder], *, actor: Any
) -> int:
    """Store and apply the new sales: together, or one by one when another request stored one
    of them meanwhile. The number of orders created."""
    if not new_orders:
        return 0
    orders = intake.receive_orders(account, new_orders, actor=actor)
    if orders is not None:
        return len(orders)
    created = 0
    for entry in new_orders:
        message, is_new = intake.receive_message(
            account,
            payload=entry.payload,
            external_order_id=entry.event.external_order_id,
            event_key=entry.event.event_key,
            raw_type=entry.raw_type,
            content_type=entry.content_type,
            process=False,
        )
        if is_new and intake.process_message(message.pk).status == InboxStatus.PROCESSED:
            created += 1
    return created
