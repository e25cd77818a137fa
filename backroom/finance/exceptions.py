"""Finance errors: each a stable code (docs/finance.md lists them); nothing is changed."""

from django.utils.translation import gettext_lazy as _

from backroom.kernel.exceptions import Conflict, ValidationFailed


class Unbalanced(ValidationFailed):
    """Debits and credits differ in a transaction currency or in base currency."""

    code = "unbalanced"
    default_message = _("The journal does not balance; nothing was posted.")


class PeriodClosed(ValidationFailed):
    """The date falls in a closed period (or a soft-closed one, for someone not in finance)."""

    code = "period_closed"
    default_message = _("The period is closed; nothing was posted.")


class FxRateMissing(ValidationFailed):
    """No exchange rate for a currency on the date (nor in the days before it)."""

    code = "fx_rate_missing"
    default_message = _("An exchange rate is missing; nothing was posted.")


class MappingMissing(ValidationFailed):
    """An automatic posting needs an account for a role and the entity has none."""

    code = "mapping_missing"
    default_message = _("An account mapping is missing.")


class JournalPosted(Conflict):
    """A posted journal cannot be edited or deleted: reverse it and post a new one."""

    code = "journal_posted"
    default_message = _("The journal is posted and cannot change; reverse it instead.")


class AlreadyReversed(Conflict):
    code = "already_reversed"
    default_message = _("The journal has been reversed already.")


class NoBooks(ValidationFailed):
    """The legal entity has no books open yet."""

    code = "no_books"
    default_message = _("The legal entity has no books; open them first.")
