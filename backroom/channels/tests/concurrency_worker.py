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
