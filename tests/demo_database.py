"""The demo chain in an SQLite test database, seeded through the services once per process.

tests/test_demo.py (the demo's contract) and the browser tests both need the whole demo, which
takes the services a minute or two to seed. On SQLite the first seed is kept as a private
in-memory copy of the whole database (the backup API copies pages, not rows) and copied back over
the test database whenever a test wants it again (well under a second), and the database as it
was before the seed is copied back when the test is done with it. Both run in one xdist group
(see GROUPS in the root conftest.py), so a run seeds the demo once, not once per kind of test.
"""

from __future__ import annotations

from typing import Any

_SNAPSHOT: dict[str, Any] = {}


def _sqlite_copy(source: Any) -> Any:
    import sqlite3

    copy = sqlite3.connect(":memory:", check_same_thread=False)
    source.backup(copy)
    return copy


def load_sqlite_demo() -> Any:
    """Put the demo in the test database (outside any transaction) and return `seed_demo`'s
    result: the services' own output the first time, a page-by-page copy of it after that."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from backroom.config.demo import seed_demo

    assert connection.vendor == "sqlite"
    assert not connection.in_atomic_block, "the demo is copied in outside a transaction"
    connection.ensure_connection()
    live = connection.connection
    if "demo" not in _SNAPSHOT:
        _SNAPSHOT["empty"] = _sqlite_copy(live)
        _SNAPSHOT["result"] = seed_demo()
        _SNAPSHOT["demo"] = _sqlite_copy(live)
    else:
        _SNAPSHOT["demo"].backup(live)
    ContentType.objects.clear_cache()
    return _SNAPSHOT["result"]


def unload_sqlite_demo() -> None:
    """Copy back the database as it was before the demo's first seed."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    _SNAPSHOT["empty"].backup(connection.connection)
    ContentType.objects.clear_cache()
