from django.utils.translation import gettext_lazy as _

from backroom.kernel.exceptions import ValidationFailed


class InvalidTreePlacement(ValidationFailed):
    code = "invalid_tree_placement"
    default_message = _("This kind of node cannot be placed there.")
