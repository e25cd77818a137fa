"""Browser tests: Playwright (Python, sync API) driving Debian's chromium against live_server.

Never downloads a browser. Skipped when /usr/bin/chromium is missing, unless CI is set (then the
missing browser is a failure). Screenshots go to test-artifacts/ (gitignored).
"""

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.demo_database import load_sqlite_demo, unload_sqlite_demo

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
# test itself (seeding) are still synchronous and safe here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (install Debian's chromium; never download one)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Models `flush` + post_migrate recreate by themselves; never snapshotted.
_RECREATED = {"contenttypes.contenttype", "auth.permission"}
_SNAPSHOT: dict[str, Any] = {}


def _seed_once() -> Any:
    """Seed through the services the first time, then snapshot every table in memory.

    live_server makes these tests transactional: all tables are flushed after each test,
    including the rows `migrate` wrote (roles, units). Seeding the demo through the services
    takes many seconds (it grows with every app's demo); copying the first seed's rows back
    takes a fraction of that. The rows are the services' own output, restored verbatim.
    """
    from django.apps import apps

    from backroom.config.demo import seed_demo

    if "tables" not in _SNAPSHOT:
        _SNAPSHOT["result"] = seed_demo()
        _SNAPSHOT["tables"] = _capture(
            [
                model
                for model in apps.get_models()
                if model._meta.managed
                and not model._meta.proxy
                and model._meta.label_lower not in _RECREATED
            ]
        )
    else:
        _restore(_SNAPSHOT["tables"])
    return _SNAPSHOT["result"]


def _plain(value: Any) -> Any:
    # PostgreSQL hands JSON columns back decoded; send them again as JSON text. SQLite's
    # driver decodes TIME columns but has no adapter to write them back: send ISO text.
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, dt.time):
        return value.isoformat()
    return value


def _capture(models: list[Any]) -> list[tuple[Any, str, list[tuple[Any, ...]]]]:
    """Each table's raw rows, read with plain SQL (no model conversion either way)."""
    from django.db import connection

    quote = connection.ops.quote_name
    tables = []
    with connection.cursor() as cursor:
        for model in models:
            columns = [field.column for field in model._meta.concrete_fields]
            cursor.execute(
                f"SELECT {', '.join(map(quote, columns))} FROM {quote(model._meta.db_table)}"
            )
            rows = [tuple(_plain(value) for value in row) for row in cursor.fetchall()]
            insert = (
                f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(map(quote, columns))}) "
                f"VALUES ({', '.join(['%s'] * len(columns))})"
            )
            tables.append((model, insert, rows))
    return tables


def _restore(tables: list[tuple[Any, str, list[tuple[Any, ...]]]]) -> None:
    from django.core.management.color import no_style
    from django.db import connection, transaction

    # SQLite checks foreign keys per statement (switched off here, outside a transaction);
    # PostgreSQL defers them to the commit of the atomic block.
    with connection.constraint_checks_disabled(), transaction.atomic():
        with connection.cursor() as cursor:
            # The flush after the previous test put back the data migrations' rows (roles,
            # units); the snapshot holds them too, as the demo left them.
            for model, _insert, _rows in reversed(tables):
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
            for _model, insert, rows in tables:
                if rows:
                    cursor.executemany(insert, rows)
    statements = connection.ops.sequence_reset_sql(no_style(), [model for model, *_ in tables])
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


@pytest.fixture
def demo(live_server: Any) -> Iterator[Any]:
    """The demo chain (seeded through the services once) in the live server's database."""
    from django.db import connection

    if connection.vendor != "sqlite":
        yield _seed_once()
        return
    # On SQLite the whole database is copied page by page (tests/demo_database.py), and the
    # database as it was before the seed is copied back after the test, so the flush that ends
    # it has next to nothing to delete.
    yield load_sqlite_demo()
    unload_sqlite_demo()


@pytest.fixture(params=["desktop", "phone"])
def viewport(request: pytest.FixtureRequest) -> tuple[str, dict[str, int]]:
    return request.param, DESKTOP if request.param == "desktop" else PHONE


@pytest.fixture
def page_at(browser: Any, viewport: tuple[str, dict[str, int]]) -> Iterator[Any]:
    """A fresh browser context (no cookies) at the test's viewport."""
    name, size = viewport
    context = browser.new_context(
        viewport=size,
        is_mobile=name == "phone",
        has_touch=name == "phone",
        locale="en-GB",
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def on_console(message: Any) -> None:
        # HTTP error statuses (a 403 page, a 422 form) are expected; scripts and CSP are not.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    page.on("console", on_console)
    page.js_errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
