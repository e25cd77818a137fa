"""WSGI entry point.

Once Django is set up, every module a request can reach is imported (the URLconf) and the
objects alive at that point are moved out of the garbage collector's sight (`gc.freeze`).
They live as long as the process, yet a full collection would walk all of them: a few hundred
thousand objects, about a quarter of a second, once every ten or so dashboard requests. Frozen,
a full collection walks only what requests left behind (docs/benchmarks.md, HQ dashboard).
With a pre-forking server the frozen objects also stay shared between the workers' memory
pages, since collections no longer write to them.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backroom.config.settings")
application = get_wsgi_application()


def settle() -> None:
    """Import what requests use, then freeze every object alive now."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view and API module
    gc.collect()
    gc.freeze()


settle()
