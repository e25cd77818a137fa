"""The `backroom` console script: Django's management commands plus the project's own."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backroom.config.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    # `backroom check-ledgers` reads better than the module name Django needs.
    if len(argv) > 1 and "-" in argv[1] and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
