"""The committed OpenAPI schema (docs/openapi.json) is the one the API serves."""

import json
from pathlib import Path

from ninja.responses import NinjaJSONEncoder

from backroom.config.api import api

COMMITTED = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def _live_schema():
    return json.loads(json.dumps(api.get_openapi_schema(), cls=NinjaJSONEncoder))


def test_committed_openapi_schema_is_current():
    live = _live_schema()
    committed = json.loads(COMMITTED.read_text()) if COMMITTED.exists() else None
    assert committed == live, "docs/openapi.json is stale: run `make schema` and commit the result"


def test_every_operation_declares_its_errors():
    schema = _live_schema()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            declared = set(operation["responses"])
            assert {"401", "422"} <= declared, f"{method.upper()} {path} declares {declared}"
            if method != "get":
                # a session write without its CSRF token is a 403
                assert "403" in declared, f"{method.upper()} {path} declares {declared}"


def test_no_two_schemas_share_a_name():
    """The schema's components are keyed by class name: two request or response schemas of
    the same name would be documented (and validated by clients) as one of them."""
    import inspect
    import sys

    from ninja import Schema

    where: dict[str, set[str]] = {}
    for module in list(sys.modules.values()):
        if not getattr(module, "__name__", "").startswith("backroom."):
            continue
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, Schema)
                and obj.__module__ == module.__name__
            ):
                where.setdefault(obj.__name__, set()).add(obj.__module__)
    shared = {name: sorted(modules) for name, modules in where.items() if len(modules) > 1}
    assert not shared, f"schemas sharing a name: {shared}"
