"""The demand forecaster: pure pandas in, pandas out; no Django models.

    from backroom.planning.forecasting import forecast, forecast_with_details, backtest

See docs/forecast.md for the input and output tables, how models are picked and the metrics.
"""

import os

# LightGBM's OpenMP threads spin while they wait; on a machine whose cores are shared (the web
# and worker processes, other jobs) that makes training several times slower. Sleep instead.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from backroom.planning.forecasting.candidates import Settings
from backroom.planning.forecasting.engine import (
    BacktestResult,
    ForecastResult,
    backtest,
    cold_start,
    forecast,
    forecast_with_details,
    prepare,
)
from backroom.planning.forecasting.exceptions import ForecastInputInvalid

__all__ = [
    "BacktestResult",
    "ForecastInputInvalid",
    "ForecastResult",
    "Settings",
    "backtest",
    "cold_start",
    "forecast",
    "forecast_with_details",
    "prepare",
]
