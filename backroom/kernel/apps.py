from django.apps import AppConfig
from django.db.models.signals import post_migrate


class KernelConfig(AppConfig):
    name = "backroom.kernel"
    label = "kernel"
    verbose_name = "Kernel"

    def ready(self) -> None:
        from backroom.kernel import lookups  # noqa: F401  (registers `__any`)
        from backroom.kernel.reference_data import replay_after_flush

        post_migrate.connect(replay_after_flush, dispatch_uid="backroom.replay_after_flush")
