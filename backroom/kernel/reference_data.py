"""Reference data survives `flush`.

Data migrations seed what every deployment starts with (the shipped roles, the standard units).
`flush` empties every table but keeps the migration history, so those rows would be gone for
good: a flushed database could not run `backroom demo`, and a test after a transactional test
would find no roles. After a flush (a `post_migrate` signal without a migration plan) each app's
data migrations run again, in order. They must therefore be idempotent (`get_or_create`, add
what is missing), which they are.
"""

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

from django.apps import AppConfig
from django.apps.registry import Apps
from django.db import migrations


def _data_operations(app_config: AppConfig) -> list[migrations.RunPython]:
    try:
        package = importlib.import_module(f"{app_config.name}.migrations")
    except ModuleNotFoundError:
        return []
    operations: list[migrations.RunPython] = []
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        migration = getattr(module, "Migration", None)
        operations += [
            operation
            for operation in getattr(migration, "operations", [])
            if isinstance(operation, migrations.RunPython)
        ]
    return operations


def replay_after_flush(sender: AppConfig, apps: Apps | None = None, **kwargs: Any) -> None:
    if kwargs.get("plan") is not None or not sender.name.startswith("backroom."):
        return  # a real `migrate` ran the data migrations itself
    from django.apps import apps as global_apps

    for operation in _data_operations(sender):
        seed: Callable[..., object] = operation.code  # (apps, schema_editor); neither is needed
        seed(apps or global_apps, None)
