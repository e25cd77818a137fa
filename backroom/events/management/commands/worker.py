"""`backroom worker`: the Huey consumer that dispatches the outbox and runs scheduled jobs.

Huey's own `run_huey` command, with the consumer options from `settings.HUEY["consumer"]`
(command-line flags override them), after importing every app's `jobs.py` so that all tasks
and periodic schedules are registered in this process.
"""

import logging
import os
from typing import Any

from django.conf import settings
from django.utils.module_loading import autodiscover_modules
from huey.contrib.djhuey.management.commands.run_huey import Command as RunHueyCommand


class Command(RunHueyCommand):
    help = "Run the job worker: outbox dispatch, webhooks and scheduled jobs."

    def handle(self, *args: Any, **options: Any) -> None:
        from huey.contrib.djhuey import HUEY

        if HUEY.immediate:
            self.stderr.write(
                "Jobs run in immediate mode (HUEY_IMMEDIATE): there is nothing for a worker to do."
            )
            return
        autodiscover_modules("jobs")
        if settings.WORKER_NICENESS:
            # Requests wait for an answer, the worker's jobs do not: on a machine shared with
            # the web processes, the scheduler serves them first (decision 0016).
            os.nice(settings.WORKER_NICENESS)
        # The consumer gives the "huey" logger its own handler and level (-v/-q); without this
        # every line would also reach the root handler from settings.LOGGING and print twice.
        logging.getLogger("huey").propagate = False
        self.stdout.write(
            f"Worker consuming the {type(HUEY).__name__} queue {HUEY.name!r}"
            f" (niceness {os.nice(0)})."
        )
        self.stdout.flush()
        super().handle(*args, **options)
