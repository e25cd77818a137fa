"""A per-batch lookup cache for bulk catalog writes (the demo seed, imports).

Inside `with catalog_batch():` lookups that cannot change during the batch (the root node,
global units by code) are read once. Outside a batch nothing is cached, so requests and
tests always read the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_cache: ContextVar[dict[str, Any] | None] = ContextVar("catalog_batch", default=None)


@contextmanager
def catalog_batch(*, reuse: bool = False) -> Iterator[None]:
    """Cache stable lookups for the duration of a bulk write (or a bulk read such as the
    morning's suggested orders); `reuse` joins a batch already open instead of starting one."""
    if reuse and _cache.get() is not None:
        yield
        return
    token = _cache.set({})
    try:
        yield
    finally:
        _cache.reset(token)


def cached[T](key: str, compute: Callable[[], T]) -> T:
    """`compute()`, remembered under `key` while a batch is open."""
    cache = _cache.get()
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]  # type: ignore[no-any-return]


def forget(key: str) -> None:
    cache = _cache.get()
    if cache is not None:
        cache.pop(key, None)
