"""Outside debug the settings are secure by default; without a SECRET_KEY they refuse to start."""

import json
import os
import subprocess
import sys

PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'debug': s.DEBUG, 'session_secure': s.SESSION_COOKIE_SECURE, "
    "'csrf_secure': s.CSRF_COOKIE_SECURE, 'hsts': s.SECURE_HSTS_SECONDS, 'hosts': s.ALLOWED_HOSTS, "
    "'hasher': s.PASSWORD_HASHERS[0], 'csp': 'ContentSecurityPolicyMiddleware' in ' '.join(s.MIDDLEWARE)}))"
)


def run_probe(**env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "BACKROOM_TESTING", "ALLOWED_HOSTS"}
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="backroom.config.settings")
    return subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=clean, timeout=60
    )


def test_production_defaults_are_secure():
    result = run_probe(SECRET_KEY="x" * 50, ALLOWED_HOSTS="backroom.example.com")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values == {
        "debug": False,
        "session_secure": True,
        "csrf_secure": True,
        "hsts": 31536000,
        "hosts": ["backroom.example.com"],
        "hasher": "django.contrib.auth.hashers.Argon2PasswordHasher",
        "csp": True,
    }


def test_missing_secret_key_refuses_to_start():
    result = run_probe()
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_debug_relaxes_cookies_for_a_laptop():
    result = run_probe(DEBUG="1")
    assert json.loads(result.stdout)["session_secure"] is False
