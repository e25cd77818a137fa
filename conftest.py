"""Fixtures shared by every app's tests."""

import pytest
from django.core.cache import cache

from backroom.testing.factories import Tree, make_tree


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tree(db) -> Tree:
    return make_tree()


# Tests that need the whole demo (the browser tests, tests/test_demo.py) run as one group on one
# xdist worker, which seeds it once and copies it back for each of them on SQLite
# (tests/demo_database.py); split across both workers they would seed it twice.
# pytest-xdist's own `loadgroup` cannot do it under pytest 9 (it renames items through an
# attribute pytest no longer reads), so `--dist loadgroup` gets this scheduler: each group is one
# unit of work, every other test a unit of its own (as `--dist load`). Units are handed out
# largest first, so the group starts at once while the other worker takes the rest.
GROUPS = {"tests/browser/": "demo", "tests/test_demo.py": "demo"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own (which knows only its built-in modes)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class DemoGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            for prefix, group in GROUPS.items():
                if nodeid.startswith(prefix):
                    return group
            return nodeid

    return DemoGroups(config, log)
