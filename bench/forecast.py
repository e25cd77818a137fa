"""Forecast N synthetic store × item series of daily sales: time and peak memory.

    DEBUG=1 .venv/bin/python bench/forecast.py                       # 50,000 × 730 days, h = 28
    DEBUG=1 .venv/bin/python bench/forecast.py --series 5000         # a tenth, to extrapolate

The data (planning.forecasting.synthetic.daily_sales: fast and slow movers, weekly and yearly
patterns, promotions known in advance) is generated first and not timed. The timed part is one
`forecast_with_details` call, exactly what the nightly job runs: validation, the panel, the
selection backtest (statsforecast baselines and intermittent models, the global LightGBM model
trained once) and the final forecast (the global model trained again on all of the history if
some series uses it). Peak memory is the process's maximum resident set size. `--score` then
runs an honest one-window backtest and prints the forecaster's accuracy next to the weekly
seasonal naive (not timed).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backroom.config.settings")


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--score", action="store_true", help="also backtest the last horizon")
    args = parser.parse_args()

    import django

    django.setup()
    import pandas as pd

    from backroom.planning.forecasting import Settings, backtest, forecast_with_details
    from backroom.planning.forecasting.synthetic import daily_sales

    started = time.perf_counter()
    history = daily_sales(args.series, args.days, horizon=args.horizon, seed=args.seed)
    rows = int(history["value"].notna().sum())
    print(
        f"data: {args.series:,} series × {args.days} days = {rows:,} rows "
        f"({time.perf_counter() - started:.1f} s to generate, peak so far {_peak_gib():.2f} GiB)"
    )
    settings = Settings(num_threads=args.threads, seed=args.seed)
    started = time.perf_counter()
    result = forecast_with_details(history, args.horizon, settings=settings)
    elapsed = time.perf_counter() - started
    print(
        f"forecast: {len(result.forecasts):,} rows in {elapsed:.1f} s "
        f"({args.series / elapsed:,.0f} series/s); peak memory {_peak_gib():.2f} GiB"
    )
    print("models picked:", result.series["model"].value_counts().to_dict())
    with pd.option_context("display.width", 200, "display.precision", 3):
        print(result.candidates.to_string(index=False))
    if args.score:
        del result
        scored = backtest(history, args.horizon, settings=settings)
        with pd.option_context("display.precision", 4):
            print(scored.overall)


if __name__ == "__main__":
    main()
