"""Worker tasks: send a delivery right after fan-out or replay, and sweep due ones every minute."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from backroom.kernel.actors import SYSTEM
from backroom.webhooks import services
from backroom.webhooks.models import WebhookDelivery


@db_task()
def send_delivery_task(delivery_id: int, ignore_circuit: bool = False) -> bool:
    """One attempt now (if still due); True when an attempt was made."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None:
        return False
    attempt = services.send_delivery(delivery, actor=SYSTEM, ignore_circuit=ignore_circuit)
    return attempt is not None


@db_periodic_task(crontab(minute="*"))
def send_due_deliveries_task() -> int:
    """Retries whose backoff has passed, deferred deliveries after a cooling period, and sends
    whose task was lost. Overlapping runs are safe: every delivery is claimed before sending."""
    return services.send_due_deliveries(actor=SYSTEM)
