"""The stock ledger's one service API: every other app moves stock through these functions."""

from backroom.inventory.services.common import PostingResult, Source
from backroom.inventory.services.corrections import correct_receipt_cost, reverse_move
from backroom.inventory.services.locations import (
    create_location,
    transit_location,
    update_location,
)
from backroom.inventory.services.posting import (
    ADJUST,
    ISSUE,
    RECEIVE,
    MoveInput,
    adjust,
    collector_paused,
    consume,
    post_moves,
    receive,
)
from backroom.inventory.services.production import ComponentInput, produce
from backroom.inventory.services.reservations import end_reservation, reserve
from backroom.inventory.services.transfers import in_transit, receive_transfer, transfer

__all__ = [
    "ADJUST",
    "ISSUE",
    "RECEIVE",
    "ComponentInput",
    "MoveInput",
    "PostingResult",
    "Source",
    "adjust",
    "collector_paused",
    "consume",
    "correct_receipt_cost",
    "create_location",
    "end_reservation",
    "in_transit",
    "post_moves",
    "produce",
    "receive",
    "receive_transfer",
    "reserve",
    "reverse_move",
    "transfer",
    "transit_location",
    "update_location",
]
from backroom.inventory.services.counts import (
    CountEntry,
    LineCount,
    TemplateLineInput,
    archive_count_template,
    cancel_count,
    create_count,
    create_count_from_template,
    create_count_template,
    post_count,
    record_counts,
    start_count,
    submit_count,
    update_count_template,
)

__all__ += [
    "CountEntry",
    "LineCount",
    "TemplateLineInput",
    "archive_count_template",
    "cancel_count",
    "create_count",
    "create_count_from_template",
    "create_count_template",
    "post_count",
    "record_counts",
    "start_count",
    "submit_count",
    "update_count_template",
]

from backroom.inventory.services.transfer_orders import (  # noqa: E402
    DispatchLine,
    ReceiptLine,
    TransferLineInput,
    cancel_transfer_order,
    create_transfer_order,
    dispatch_transfer_order,
    receive_transfer_order,
)
from backroom.inventory.services.waste import (  # noqa: E402
    WasteLineInput,
    approve_waste,
    cancel_waste,
    create_waste,
    reject_waste,
    submit_waste,
)

__all__ += [
    "DispatchLine",
    "ReceiptLine",
    "TransferLineInput",
    "WasteLineInput",
    "approve_waste",
    "cancel_transfer_order",
    "cancel_waste",
    "create_transfer_order",
    "create_waste",
    "dispatch_transfer_order",
    "receive_transfer_order",
    "reject_waste",
    "submit_waste",
]
