"""Concurrent appends from many transactions keep one unbroken chain (PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection, transaction

from backroom.audit.services import record_audit, verify_audit_chain
from backroom.kernel.actors import SYSTEM
from backroom.org.models import OrgNode
from backroom.testing.factories import make_tree


@pytest.mark.django_db(transaction=True)
def test_parallel_writers_keep_the_chain_valid():
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency is tested on PostgreSQL")
    make_tree()
    node = OrgNode.objects.get(code="SHA001")
    barrier = threading.Barrier(6)
    errors = []

    def writer(n):
        try:
            barrier.wait()
            for i in range(10):
                with transaction.atomic():
                    record_audit(actor=SYSTEM, action=f"test.parallel.{n}.{i}", target=node)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = verify_audit_chain()
    assert result.is_valid, result.problem
    assert result.checked == 7 + 60
