"""The business clock: `now()` is the current instant, unless a caller sets it for a while.

Services that stamp a document's steps with "now" (a count started, submitted, posted) read it
here, so the demo can record weeks of history in the past and a test can move time on without
patching modules. Setting it is scoped to a `with clock.at(...)` block and to the current thread
or task (a context variable), so a request served meanwhile still sees the real time.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone

_instant: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar(
    "business_clock", default=None
)


def now() -> dt.datetime:
    """The current instant (aware), or the one set by the enclosing `at` block."""
    return _instant.get() or timezone.now()


@contextmanager
def at(instant: dt.datetime) -> Iterator[None]:
    """Within the block, `now()` is `instant` (which must be aware)."""
    if timezone.is_naive(instant):
        raise ValueError("The clock needs an aware datetime.")
    token = _instant.set(instant)
    try:
        yield
    finally:
        _instant.reset(token)
