"""PostgreSQL keeps its connections and prepares statements unless told not to (decision 0011)."""

import json
import os
import subprocess
import sys

import pytest

PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "d = s.DATABASES['default']; "
    "print(json.dumps({'max_age': d['CONN_MAX_AGE'], 'checks': d['CONN_HEALTH_CHECKS'], "
    "'binding': d.get('OPTIONS', {}).get('server_side_binding'), "
    "'threshold': d.get('OPTIONS', {}).get('prepare_threshold')}))"
)


def database_settings(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_URL"))}
    clean.update(env, DJANGO_SETTINGS_MODULE="backroom.config.settings", DEBUG="1")
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=clean, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


POSTGRES = "postgres://postgres@127.0.0.1:5432/backroom"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": POSTGRES}, (600, True, True, 5)),
        ({"DATABASE_URL": POSTGRES, "DB_PREPARED": "0"}, (600, True, None, None)),
        ({"DATABASE_URL": POSTGRES, "DB_CONN_MAX_AGE": "0"}, (0, True, True, 5)),
        ({"DATABASE_URL": "sqlite:////tmp/backroom-settings-probe.sqlite3"}, (0, True, None, None)),
    ],
)
def test_database_defaults(env: dict[str, str], expected: tuple[object, ...]) -> None:
    values = database_settings(**env)
    assert (values["max_age"], values["checks"], values["binding"], values["threshold"]) == expected
