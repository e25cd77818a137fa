"""The candidate models: statsforecast baselines and intermittent-demand models (the global
LightGBM model is in globalmodel). Each takes a Panel and returns forecasts for its `future` grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from backroom.planning.forecasting.data import OPEN, Panel, last_days, open_days

SEASON = 7
SHORT = "short"
ZERO = "zero"
INTERMITTENT = "intermittent"
SMOOTH = "smooth"

BASELINES = ("seasonal_naive", "weekday_mean", "weekday_median", "window_mean")
COMBINATION = "lightgbm_weekday_median"
INTERMITTENT_MODELS = ("croston", "adida", "imapa")
FALLBACK = "history_mean"
ZERO_MODEL = "zero"


@dataclass(frozen=True)
class Settings:
    """How the forecaster runs. The defaults are for daily store × item sales.

    min_history_days: fewer open days than this and a series is "short" (the mean of its open
    days): 4 weeks, the longest window a baseline needs and one value per weekday for 4 weeks.
    recent_days: the span of a series' level (8 weeks). train_days: the days the global model
    learns from; max_train_rows: at most this many (series, origin, day ahead) training rows —
    beyond that a fixed random sample, so the training cost stops growing with the number of
    series (the model is no better with more: see docs/benchmarks.md). smooth_error: the backtest
    error that picks a smooth series' model — "absolute" (mean absolute error, whose optimum is
    the median: what MASE and WAPE score) or "squared" (RMSE, the mean's); intermittent series
    are always picked by squared error, since absolute error would prefer 0 for a slow mover.
    """

    backtest_windows: int = 2
    min_history_days: int = 28
    recent_days: int = 56
    intermittent_days: int = 182
    intermittent_adi: float = 1.32
    switch_margin: float = 0.1
    smooth_error: Literal["absolute", "squared"] = "absolute"
    train_days: int = 365
    max_train_rows: int = 400_000
    boost_rounds: int = 250
    learning_rate: float = 0.05
    num_leaves: int = 63
    num_threads: int = 2
    seed: int = 0


def segments(panel: Panel, settings: Settings) -> pd.Series:
    """The demand class of each series (index unique_id): short, zero, intermittent or smooth.

    Short: fewer open days than `min_history_days`. Zero: nothing sold on the last `recent_days`
    open days. Intermittent: the average interval between sales (ADI) over the last
    `intermittent_days` open days is at least `intermittent_adi` (Syntetos–Boylan's cut-off).
    """
    uid, y, position = open_days(panel.frame)  # position 0: the series' last open day
    all_ids = pd.Index(np.unique(panel.frame["unique_id"].to_numpy()))
    size = int(all_ids.max()) + 1 if len(all_ids) else 0

    def per_series(rows: np.ndarray, weights: np.ndarray | None = None) -> pd.Series:
        counted = np.bincount(
            uid[rows], weights=None if weights is None else weights[rows], minlength=size
        )
        return pd.Series(counted[all_ids.to_numpy()], index=all_ids)

    everything = np.ones(len(uid), dtype=bool)
    counts = per_series(everything)
    recent_sum = per_series(position < settings.recent_days, y.astype(np.float64))
    window = position < settings.intermittent_days
    days = per_series(window)
    selling = per_series(window, (y > 0).astype(np.float64))
    result = pd.Series(SMOOTH, index=all_ids, dtype=object)
    adi = days / selling.replace(0, np.nan)
    result[adi >= settings.intermittent_adi] = INTERMITTENT
    result[recent_sum <= 0] = ZERO
    result[counts < settings.min_history_days] = SHORT
    return result


def _grid(panel: Panel) -> pd.DataFrame:
    return panel.future[["unique_id", "ds", OPEN]].copy()


def baseline_forecasts(panel: Panel, series_segments: pd.Series) -> pd.DataFrame:
    """Seasonal naive, weekday mean (last 4 weeks), window mean (28 days) for every long-enough
    series; Croston (optimised), ADIDA and IMAPA for intermittent ones; the mean of open days for
    short ones and 0 for zero ones. Closed days in the history read as the same weekday of an
    earlier open week."""
    from statsforecast import StatsForecast
    from statsforecast.models import (
        ADIDA,
        IMAPA,
        CrostonOptimized,
        SeasonalNaive,
        SeasonalWindowAverage,
        WindowAverage,
    )

    grid = _grid(panel)
    frame = panel.frame
    long_ids = series_segments.index[~series_segments.isin([SHORT])]
    intermittent_ids = series_segments.index[series_segments == INTERMITTENT]
    everything = max(1, int(frame["day"].max()) + 1) if len(frame) else 1
    runs = [
        (
            long_ids,
            4 * SEASON,  # what these read: the last 4 weeks
            [
                SeasonalNaive(SEASON, alias="seasonal_naive"),
                SeasonalWindowAverage(SEASON, 4, alias="weekday_mean"),
                WindowAverage(28, alias="window_mean"),
            ],
        ),
        (
            intermittent_ids,
            everything,
            [
                CrostonOptimized(alias="croston"),
                ADIDA(alias="adida"),
                IMAPA(alias="imapa"),
            ],
        ),
    ]
    for ids, days, models in runs:
        if len(ids) == 0:
            for model in models:
                grid[str(model)] = np.nan  # a model's str() is its alias
            continue
        rows, _from_end = last_days(frame, ids.to_numpy(), days)
        subset = pd.DataFrame(
            {
                "unique_id": frame["unique_id"].to_numpy()[rows],
                "ds": frame["ds"].to_numpy()[rows],
                "y": frame["y_filled"].to_numpy(np.float64)[rows],
            }
        )
        engine = StatsForecast(models=models, freq="D", n_jobs=1)
        result = engine.forecast(df=subset, h=panel.horizon)
        grid = grid.merge(result, on=["unique_id", "ds"], how="left")
    grid["weekday_median"] = _weekday_median(frame, grid)
    grid.loc[~grid["unique_id"].isin(long_ids).to_numpy(), "weekday_median"] = np.nan
    is_open = frame[OPEN].to_numpy() > 0
    open_mean = (
        pd.Series(frame["y"].to_numpy()[is_open])
        .groupby(frame["unique_id"].to_numpy()[is_open])
        .mean()
        .reindex(series_segments.index)
        .fillna(0.0)
    )
    grid[FALLBACK] = grid["unique_id"].map(open_mean).astype(np.float64)
    grid[ZERO_MODEL] = 0.0
    return grid


def _weekday_median(frame: pd.DataFrame, grid: pd.DataFrame, weeks: int = 8) -> np.ndarray:
    """The median of the same weekday's open days over the last `weeks` weeks (else the median
    of all open days in those weeks)."""
    rows, _from_end = last_days(frame, np.unique(grid["unique_id"].to_numpy()), 7 * weeks)
    recent = frame.iloc[rows[frame[OPEN].to_numpy()[rows] > 0]]
    weekday = recent["ds"].dt.dayofweek.to_numpy()
    by_weekday = recent.groupby([recent["unique_id"].to_numpy(), weekday])["y"].median()
    overall = recent.groupby("unique_id")["y"].median()
    keys = pd.MultiIndex.from_arrays(
        [grid["unique_id"].to_numpy(), grid["ds"].dt.dayofweek.to_numpy()]
    )
    values = by_weekday.reindex(keys).to_numpy(np.float64)
    missing = np.isnan(values)
    values[missing] = grid["unique_id"].map(overall).to_numpy(np.float64)[missing]
    return values
