"""Two approvers decide the same any-one step at once (PostgreSQL row locks): exactly one counts.

Each approver runs in its own process with its own connection. The test holds the request's row
lock until both processes are about to decide, so both really wait on the same lock.
"""

import multiprocessing
import time

import pytest
from django.db import connection, transaction

from backroom.approvals import runtime
from backroom.approvals.models import ApprovalHistory, ApprovalRequest
from backroom.approvals.tests.runtime_concurrency_worker import approve_task
from backroom.audit.models import AuditEntry
from backroom.testing.factories import make_user

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row-lock concurrency is tested on PostgreSQL"
)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_exactly_one_decision_counts(requisition_policy, tree, people):
    staff = make_user("store_staff", tree.store_a)
    second = make_user("store_manager", tree.store_a)
    request = runtime.submit(
        runtime.Submission(
            "procurement.requisition", "REQ-RACE", {"amount": "6000", "store": "SHA001"}
        ),
        requester=staff,
        actor=staff,
    )
    tasks = list(request.tasks.order_by("pk"))
    assert len(tasks) == 2  # any one of two store managers
    context = multiprocessing.get_context("spawn")
    ready = context.Semaphore(0)
    results = context.Queue()
    name = connection.settings_dict["NAME"]
    workers = [
        context.Process(target=approve_task, args=(name, task.pk, task.assignee_id, ready, results))
        for task in tasks
    ]
    with transaction.atomic():
        ApprovalRequest.objects.select_for_update().get(pk=request.pk)
        for worker in workers:
            worker.start()
        for _ in workers:
            assert ready.acquire(timeout=60)
        time.sleep(0.5)  # both are now waiting on the lock
    outcomes = sorted(results.get(timeout=60)[0] for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert outcomes == ["already_decided", "ok"]
    assert sorted(
        request.tasks.filter(step_name="Store manager").values_list("status", flat=True)
    ) == [
        "approved",
        "cancelled",
    ]
    assert list(request.tasks.filter(status="pending").values_list("assignee_id", flat=True)) == [
        people.region_manager.pk
    ]
    assert ApprovalHistory.objects.filter(request=request, action="approved").count() == 1
    assert AuditEntry.objects.filter(action="approvals.task.approve").count() == 1
    assert second.pk in {task.assignee_id for task in tasks}
