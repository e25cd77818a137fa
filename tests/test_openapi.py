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
