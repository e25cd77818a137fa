"""The WSGI module sets a web process up: what requests use is imported, then frozen."""

import gc
import importlib
import sys


def test_the_wsgi_module_imports_the_views_and_freezes_what_is_alive():
    sys.modules.pop("backroom.config.wsgi", None)
    gc.unfreeze()
    try:
        module = importlib.import_module("backroom.config.wsgi")
        frozen = gc.get_freeze_count()
        assert callable(module.application)
        assert "backroom.dashboards.views" in sys.modules
        assert "backroom.config.api" in sys.modules
        # Everything alive at start (Django, the apps' modules, the URLconf) is out of the
        # collector's sight: a full collection walks what requests leave behind.
        assert frozen > 100_000
        assert len(gc.get_objects()) < frozen / 4
    finally:
        gc.unfreeze()
