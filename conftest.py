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
