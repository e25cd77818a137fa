"""Sales channel errors with stable codes."""

from django.utils.translation import gettext_lazy as _

from backroom.kernel.exceptions import Conflict, DomainError


class OrderNotReceived(Conflict):
    """An event for an order we have not received yet (it arrived out of order): retried later."""

    code = "order_not_received"
    default_message = _("This order has not been received yet.")


class InvalidTransition(Conflict):
    """The order cannot move to this status from where it is (asked by a person or a till)."""

    code = "invalid_transition"
    default_message = _("The order cannot move to this status.")


class NoChannelAccount(DomainError):
    """The store has no active channel account of this kind."""

    code = "no_channel_account"
    http_status = 422
    default_message = _("The store has no active account for this channel.")


class UnparseablePayload(DomainError):
    """A stored push could not be read; it stays in the inbox as failed, with this reason."""

    code = "unparseable_payload"
    http_status = 422
    default_message = _("The message could not be read.")
