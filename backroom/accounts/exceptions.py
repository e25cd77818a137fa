from django.utils.translation import gettext_lazy as _

from backroom.kernel.exceptions import DomainError


class LoginThrottled(DomainError):
    code = "login_throttled"
    http_status = 429
    default_message = _("Too many failed sign-in attempts. Try again in a few minutes.")


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    http_status = 401
    default_message = _("Wrong username or password.")
