from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinanceConfig(AppConfig):
    name = "backroom.finance"
    label = "finance"
    verbose_name = _("Finance")

    def ready(self) -> None:
        from backroom.finance import events, handlers, permissions  # noqa: F401  (registration)
