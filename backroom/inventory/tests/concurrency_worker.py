"""A worker process for test_concurrency: imports Django only after `django.setup()`.

(A spawned process unpickles its target by importing this module, before Django is set up.)
"""

import os
from decimal import Decimal


def consume_three(database_name, item_id, location_id, key, ready, results):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backroom.config.settings")
    os.environ["BACKROOM_TESTING"] = "1"  # the same settings as the test run (immediate jobs)
    import django

    django.setup()
    from django.db import connection as child_connection

    from backroom.inventory import services as child_services
    from backroom.inventory.exceptions import InsufficientStock
    from backroom.kernel.actors import SYSTEM as child_system

    child_connection.settings_dict["NAME"] = database_name
    child_connection.ensure_connection()
    ready.release()
    try:
        result = child_services.consume(
            item=item_id, location=location_id, quantity=Decimal(3), key=key, actor=child_system
        )
        results.put(("ok", [str(move.quantity) for move in result.moves]))
    except InsufficientStock as error:
        results.put((error.code, error.details["short_by"]))
    except Exception as error:
        results.put(("error", repr(error)))
    finally:
        child_connection.close()
