"""A worker process for test_concurrency: imports Django only after `django.setup()`.

(A spawned process unpickles its target by importing this module, before Django is set up.)
"""

import os


def accept_order(database_name, order_id, ready, results):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backroom.config.settings")
    os.environ["BACKROOM_TESTING"] = "1"  # the same settings as the test run (immediate jobs)
    import django

    django.setup()
    from django.db import connection as child_connection

    from backroom.channels import intake
    from backroom.channels.models import Order
    from backroom.inventory.exceptions import InsufficientStock
    from backroom.kernel.actors import SYSTEM

    child_connection.settings_dict["NAME"] = database_name
    child_connection.ensure_connection()
    order = Order.objects.select_related("account", "site__node").get(pk=order_id)
    ready.release()
    try:
        applied = intake.change_status(
            order, status="accepted", actor=SYSTEM, key=f"accept-{order_id}"
        )
        results.put(("ok", applied.order.status))
    except InsufficientStock as error:
        results.put((error.code, ""))
    except Exception as error:
        results.put(("error", repr(error)))
    finally:
        child_connection.close()


def submit_batch(database_name, store_id, bowls, ready, results):
    """Post one till batch of orders of `bowls` bowls each; put each order's outcome."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backroom.config.settings")
    os.environ["BACKROOM_TESTING"] = "1"
    import datetime as dt
    import uuid
    from decimal import Decimal

    import django

    django.setup()
    from django.db import connection as child_connection

    from backroom.channels.pos import TillLine, TillOrder, submit_orders
    from backroom.kernel.actors import SYSTEM

    child_connection.settings_dict["NAME"] = database_name
    child_connection.ensure_connection()
    placed_at = dt.datetime.fromisoformat("2026-12-04T12:30:00+08:00")
    tills = [
        TillOrder(
            uuid=uuid.uuid4(),
            store_id=store_id,
            placed_at=placed_at,
            lines=[TillLine(sku="NOODLES", quantity=Decimal(count), unit_price=Decimal(18))],
        )
        for count in bowls
    ]
    ready.release()
    try:
        outcome = submit_orders(tills, actor=SYSTEM)
        results.put(
            [(result.order.is_depleted, result.order.depletion_error) for result in outcome]
        )
    except Exception as error:
        results.put([("error", repr(error))])
    finally:
        child_connection.close()
