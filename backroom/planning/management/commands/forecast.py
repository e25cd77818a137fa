"""`backroom forecast run|backtest`: the demand forecaster on any daily history in a CSV file.

    backroom forecast run --history sales.csv --horizon 28 --out forecast.csv
    backroom forecast backtest --history sales.csv --horizon 28 --windows 2

Input columns: series_id, date (YYYY-MM-DD), value, plus optional numeric known-in-advance
features (promo, holiday, open, ...) whose rows may run past the last value into the horizon,
with value left empty. See docs/forecast.md.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from backroom.planning.forecasting import ForecastInputInvalid, Settings
from backroom.planning.forecasting.columns import FORECAST, ID, TIME
from backroom.planning.forecasting.engine import backtest, prepare, run

INVALID_INPUT = 2


def _read(path: str) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    except FileNotFoundError:
        raise CommandError(_("%(path)s: no such file") % {"path": path}) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CommandError(
            _("%(path)s is not a readable CSV file: %(error)s") % {"path": path, "error": error},
            returncode=INVALID_INPUT,
        ) from None


def _write_atomically(frame: Any, path: str) -> None:
    """Write the CSV next to its destination and rename it there: a failed run leaves nothing."""
    target = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent or ".", suffix=".partial")
    os.close(descriptor)
    try:
        frame.to_csv(temporary, index=False, date_format="%Y-%m-%d", float_format="%.4f")
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


class Command(BaseCommand):
    help = "Forecast daily demand from a CSV history (series_id,date,value[,features])."

    def add_arguments(self, parser: CommandParser) -> None:
        subcommands = parser.add_subparsers(dest="subcommand", required=True)
        for name, text in (
            ("run", "Forecast the next N days of every series; write series_id,date,forecast."),
            ("backtest", "Score the forecaster on the last N-day windows against seasonal naive."),
        ):
            sub = subcommands.add_parser(name, help=text)
            sub.add_argument("--history", required=True, help="input CSV file")
            sub.add_argument("--horizon", required=True, type=int, help="days to forecast")
            sub.add_argument(
                "--missing-days",
                choices=["zero", "closed"],
                default="zero",
                help="a date without a row is a zero-sales open day (default) or a closed day",
            )
            sub.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
            sub.add_argument(
                "--selection-windows",
                type=int,
                default=Settings.backtest_windows,
                help="backtest windows used to pick each series' model",
            )
            if name == "run":
                sub.add_argument("--out", required=True, help="output CSV file")
                sub.add_argument(
                    "--details",
                    help="also write each series' segment, model and error scale to this CSV",
                )
            else:
                sub.add_argument("--windows", type=int, default=1, help="held-out windows")
                sub.add_argument("--out", help="write the per-series metrics to this CSV")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["threads"] < 1 or options["selection_windows"] < 1:
            raise CommandError(_("--threads and --selection-windows must be at least 1"))
        settings = Settings(
            num_threads=options["threads"], backtest_windows=options["selection_windows"]
        )
        history = _read(options["history"])
        try:
            if options["subcommand"] == "run":
                self.run_forecast(history, settings, options)
            else:
                self.run_backtest(history, settings, options)
        except ForecastInputInvalid as error:
            self.stderr.write(
                _("%(path)s: the history has problems:") % {"path": options["history"]}
            )
            for field, messages in error.errors.items():
                for message in messages:
                    self.stderr.write(f"  {field}: {message}")
            raise CommandError(_("nothing was written"), returncode=INVALID_INPUT) from None

    def run_forecast(self, history: Any, settings: Settings, options: dict[str, Any]) -> None:
        panel = prepare(
            history, options["horizon"], missing_days=options["missing_days"], first_line=2
        )
        result = run(panel, settings)
        _write_atomically(result.forecasts[[ID, TIME, FORECAST]], options["out"])
        if options["details"]:
            _write_atomically(result.series, options["details"])
        picks = result.series["model"].value_counts()
        self.stdout.write(
            _("%(series)d series, %(rows)d forecasts written to %(path)s")
            % {"series": len(result.series), "rows": len(result.forecasts), "path": options["out"]}
        )
        self.stdout.write(
            _("models: %(picks)s") % {"picks": ", ".join(f"{k} {v}" for k, v in picks.items())}
        )

    def run_backtest(self, history: Any, settings: Settings, options: dict[str, Any]) -> None:
        if options["windows"] < 1:
            raise CommandError(_("--windows must be at least 1"))
        result = backtest(
            history,
            options["horizon"],
            windows=options["windows"],
            missing_days=options["missing_days"],
            settings=settings,
            first_line=2,
        )
        if options["out"]:
            _write_atomically(result.per_series, options["out"])
        self.stdout.write(result.overall.to_string(float_format=lambda x: f"{x:.4f}"))
