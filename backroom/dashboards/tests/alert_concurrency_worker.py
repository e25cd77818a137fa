"""A worker process for test_alert_concurrency: imports Django only after `django.setup()`.

(A spawned process unpickles its target by importing this module, before Django is set up.)
"""

import os


def resolve(database_name, alert_id, user_id, ready, results):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backroom.config.settings")
    os.environ["BACKROOM_TESTING"] = "1"  # the same settings as the test run (immediate jobs)
    import django

    django.setup()
    from django.db import connection as child_connection

    from backroom.accounts.models import User
    from backroom.dashboards import services
    from backroom.dashboards.models import Alert
    from backroom.kernel.exceptions import DomainError

    child_connection.settings_dict["NAME"] = database_name
    child_connection.ensure_connection()
    user = User.objects.get(pk=user_id)
    alert = Alert.objects.select_related("node").get(pk=alert_id)
    ready.release()
    try:
        services.resolve_alert(alert, actor=user, note=f"by {user.username}")
        results.put(("ok", user_id))
    except DomainError as error:
        results.put((error.code, user_id))
    except Exception as error:
        results.put(("error", repr(error)))
    finally:
        child_connection.close()
