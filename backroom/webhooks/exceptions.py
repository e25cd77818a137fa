from django.utils.translation import gettext_lazy as _

from backroom.kernel.exceptions import Conflict


class EndpointInactive(Conflict):
    code = "endpoint_inactive"
    default_message = _("The endpoint is inactive; activate it first.")
