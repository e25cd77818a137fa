"""`backroom demo [--seed N]`: seed the demo chain into an empty database, print the logins."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backroom.config.demo import DEMO_PASSWORD, DemoLogin, seed_demo


def logins_table(logins: list[DemoLogin]) -> str:
    """The logins as an aligned plain-text table."""
    rows = [("username", "password", "role", "where")]
    rows += [(login.username, DEMO_PASSWORD, login.role, login.where) for login in logins]
    widths = [max(_width(row[column]) for row in rows) for column in range(4)]
    lines = []
    for index, row in enumerate(rows):
        cells = [value + " " * (widths[i] - _width(value)) for i, value in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _width(text: str) -> int:
    """Columns a string takes in a terminal: CJK characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


class Command(BaseCommand):
    help = "Seed the demo chain (stores, users, data) into an empty database and print the logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed", type=int, default=42, help="Random seed; the same seed gives the same data."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed_demo(seed=options["seed"])
        if result.created:
            self.stdout.write(self.style.SUCCESS("Seeded the demo chain."))
        else:
            self.stdout.write("The database already holds an organisation; left it as it is.")
        if result.logins:
            self.stdout.write("\nDemo logins:\n")
            self.stdout.write(logins_table(result.logins))
        else:
            self.stdout.write("No demo users in this database.")
