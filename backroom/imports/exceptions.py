"""Import errors with stable codes (the problems of a file are data: see problems.py)."""

from django.utils.translation import gettext_lazy as _

from backroom.kernel.exceptions import Conflict, NotFound, ValidationFailed


class UnknownImporter(NotFound):
    code = "unknown_importer"
    default_message = _("There is no such importer.")


class ImportNotReady(Conflict):
    code = "import_not_ready"
    default_message = _("The import cannot do this now.")


class MappingInvalid(ValidationFailed):
    code = "invalid_mapping"
    default_message = _("Some columns are not mapped right.")
