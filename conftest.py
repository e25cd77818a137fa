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


# Tests that seed the whole demo once per process (the browser tests' snapshot, tests/test_demo.py's
# module fixture) each run on one xdist worker (`--dist loadgroup`): split across both workers
# they would seed it twice.
DEMO_MODULES = ("tests/test_demo.py",)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif item.nodeid.startswith(DEMO_MODULES):
            item.add_marker(pytest.mark.xdist_group("demo"))
