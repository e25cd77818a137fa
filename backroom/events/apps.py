from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "backroom.events"
    label = "events"
    verbose_name = _("Events")

    def ready(self) -> None:
        # Each app's handlers.py subscribes its reactions; import them once here.
        from importlib import import_module
        from importlib.util import find_spec

        from django.apps import apps

        for config in apps.get_app_configs():
            module = f"{config.name}.handlers"
            if config.name.startswith("backroom.") and find_spec(module) is not None:
                import_module(module)
