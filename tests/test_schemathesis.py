"""Schemathesis against the live API: no operation answers 500, every response fits the schema.

Runs in-process through the WSGI app as an HQ administrator with a bearer token, so every
operation is reachable. Bounded to a few examples per operation to stay fast.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backroom.accounts import services
from backroom.accounts.models import Role
from backroom.config.wsgi import application
from backroom.testing.factories import make_tree, make_user

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)
# The coverage phase enumerates every boundary of every parameter (hundreds of cases per
# operation); fuzzing with a fixed budget finds the same classes of bugs in a fraction of the time.
schema.config.phases.coverage.enabled = False

# Not negative_data_rejection: it counts "no session cookie" as invalid input although the
# bearer token (the other declared scheme) is present; invalid input is still generated and
# must get a documented 4xx, never a 500.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def keep_test_connection():
    """The WSGI handler closes the connection after each request; the test's transaction needs
    it open (Django's test client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def no_webhook_network(monkeypatch):
    """Generated endpoints point anywhere: deliveries must never leave the process."""
    from backroom.webhooks import services as webhook_services

    def answer_ok(url, body, headers, *, timeout):
        return webhook_services.HttpOutcome(200, 0, "", "")

    monkeypatch.setattr(webhook_services, "post", answer_ok)


@pytest.fixture
def hq_token(db, keep_test_connection, no_webhook_network):
    tree = make_tree()
    admin = make_user("hq_admin", tree.group)
    issued = services.create_api_token(
        actor=admin, name="schemathesis", role=Role.objects.get(code="hq_admin"), node=tree.group
    )
    return issued.raw


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,  # no .hypothesis/ directory in the work tree
)
def test_api_conforms_to_its_schema(case, hq_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {hq_token}"}, checks=CHECKS)
