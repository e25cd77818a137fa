"""The candidate models: statsforecast baselines, intermittent-demand models and the global
LightGBM model (mlforecast). Each takes a Panel and returns forecasts for its `future` grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backroom.planning.forecasting.data import OPEN, Panel

SEASON = 7
SHORT = "short"
ZERO = "zero"
INTERMITTENT = "intermittent"
SMOOTH = "smooth"

GLOBAL_MODEL = "lightgbm"
BASELINES = ("seasonal_naive", "weekday_mean", "weekday_median", "window_mean")
COMBINATION = "lightgbm_weekday_median"
INTERMITTENT_MODELS = ("croston", "adida", "imapa")
FALLBACK = "history_mean"
ZERO_MODEL = "zero"


@dataclass(frozen=True)
class Settings:
    """How the forecaster runs. The defaults are for daily store × item sales."""

    backtest_windows: int = 2
    min_history_days: int = 56
    recent_days: int = 56
    intermittent_days: int = 182
    intermittent_adi: float = 1.32
    switch_margin: float = 0.1
    train_days: int = 365
    max_train_rows: int = 3_000_000
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
    frame = panel.frame[panel.frame[OPEN] > 0]
    uid = frame["unique_id"].to_numpy()
    # Position from the end among open days: 0 is the last open day.
    from_end = frame.groupby("unique_id", sort=False).cumcount(ascending=False).to_numpy()
    y = frame["y"].to_numpy()
    counts = pd.Series(1, index=uid).groupby(level=0).size()
    recent = pd.Series(
        y[from_end < settings.recent_days], index=uid[from_end < settings.recent_days]
    )
    recent_sum = recent.groupby(level=0).sum()
    window = from_end < settings.intermittent_days
    days = pd.Series(1, index=uid[window]).groupby(level=0).size()
    selling = pd.Series(y[window] > 0, index=uid[window]).groupby(level=0).sum()
    all_ids = pd.Index(np.unique(panel.frame["unique_id"].to_numpy()))
    result = pd.Series(SMOOTH, index=all_ids, dtype=object)
    adi = days.reindex(all_ids) / selling.reindex(all_ids).replace(0, np.nan)
    result[adi >= settings.intermittent_adi] = INTERMITTENT
    result[recent_sum.reindex(all_ids).fillna(0) <= 0] = ZERO
    result[counts.reindex(all_ids).fillna(0) < settings.min_history_days] = SHORT
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
    data = frame[["unique_id", "ds"]].assign(y=frame["y_filled"].astype(np.float64))
    long_ids = series_segments.index[~series_segments.isin([SHORT])]
    intermittent_ids = series_segments.index[series_segments == INTERMITTENT]
    runs = [
        (
            long_ids,
            [
                SeasonalNaive(SEASON, alias="seasonal_naive"),
                SeasonalWindowAverage(SEASON, 4, alias="weekday_mean"),
                WindowAverage(28, alias="window_mean"),
            ],
        ),
        (
            intermittent_ids,
            [
                CrostonOptimized(alias="croston"),
                ADIDA(alias="adida"),
                IMAPA(alias="imapa"),
            ],
        ),
    ]
    for ids, models in runs:
        if len(ids) == 0:
            for model in models:
                grid[str(model)] = np.nan  # a model's str() is its alias
            continue
        subset = data[data["unique_id"].isin(ids).to_numpy()]
        engine = StatsForecast(models=models, freq="D", n_jobs=1)
        result = engine.forecast(df=subset, h=panel.horizon)
        grid = grid.merge(result, on=["unique_id", "ds"], how="left")
    grid["weekday_median"] = _weekday_median(frame, grid)
    grid.loc[~grid["unique_id"].isin(long_ids).to_numpy(), "weekday_median"] = np.nan
    open_mean = (
        frame[frame[OPEN] > 0].groupby("unique_id")["y"].mean().reindex(series_segments.index)
    ).fillna(0.0)
    grid[FALLBACK] = grid["unique_id"].map(open_mean).astype(np.float64)
    grid[ZERO_MODEL] = 0.0
    return grid


def _weekday_median(frame: pd.DataFrame, grid: pd.DataFrame, weeks: int = 8) -> np.ndarray:
    """The median of the same weekday's open days over the last `weeks` weeks (else the median
    of all open days in those weeks)."""
    from_end = frame.groupby("unique_id", sort=False).cumcount(ascending=False).to_numpy()
    recent = frame[(from_end < 7 * weeks) & (frame[OPEN].to_numpy() > 0)]
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


def _scales(frame: pd.DataFrame, recent_days: int) -> pd.Series:
    """Per series: the mean of the last `recent_days` days (y_filled), or 1 when that is 0."""
    from_end = frame.groupby("unique_id", sort=False).cumcount(ascending=False).to_numpy()
    recent = frame[from_end < recent_days]
    scale = recent.groupby("unique_id")["y_filled"].mean()
    return scale.where(scale > 0, 1.0)


class GlobalModel:
    """One LightGBM model over many series (mlforecast: lags, rolling means, weekday and calendar
    features, the known-in-advance features), on values divided by each series' recent mean so
    big and small series share it. Tweedie loss: non-negative, suited to many zeros."""

    LOOKBACK_DAYS = 120

    def __init__(self, features: tuple[str, ...], settings: Settings) -> None:
        self.features = features
        self.settings = settings
        self.pipeline = None

    def _pipeline(self):  # type: ignore[no-untyped-def]
        import lightgbm
        from mlforecast import MLForecast
        from mlforecast.lag_transforms import RollingMean, SeasonalRollingMean

        settings = self.settings
        model = lightgbm.LGBMRegressor(
            objective="tweedie",
            tweedie_variance_power=1.2,
            n_estimators=settings.boost_rounds,
            learning_rate=settings.learning_rate,
            num_leaves=settings.num_leaves,
            min_child_samples=100,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            max_bin=127,
            n_jobs=settings.num_threads,
            random_state=settings.seed,
            deterministic=True,
            force_row_wise=True,
            verbosity=-1,
        )
        return MLForecast(
            models={GLOBAL_MODEL: model},
            freq="D",
            lags=[1, 2, 7, 14, 28],
            lag_transforms={
                1: [RollingMean(7), RollingMean(28)],
                7: [SeasonalRollingMean(SEASON, 4)],
            },
            date_features=["dayofweek", "day", "month", "dayofyear"],
            num_threads=settings.num_threads,
        )

    def _model_frame(self, frame: pd.DataFrame, scale: pd.Series) -> pd.DataFrame:
        data = frame[["unique_id", "ds", OPEN, *self.features]].copy()
        data["y"] = (frame["y_filled"] / frame["unique_id"].map(scale)).astype(np.float32)
        return data

    def fit(self, panel: Panel, series: pd.Index) -> None:
        """Train on (a deterministic sample of) `series`, on their last `train_days` open days."""
        settings = self.settings
        rng = np.random.default_rng(settings.seed)
        limit = max(1, settings.max_train_rows // settings.train_days)
        chosen = np.sort(series.to_numpy())
        if len(chosen) > limit:
            chosen = np.sort(rng.choice(chosen, size=limit, replace=False))
        frame = panel.frame[panel.frame["unique_id"].isin(chosen).to_numpy()]
        from_end = frame.groupby("unique_id", sort=False).cumcount(ascending=False).to_numpy()
        frame = frame[from_end < settings.train_days + 60]
        data = self._model_frame(frame, _scales(frame, settings.recent_days))
        pipeline = self._pipeline()
        prepared = pipeline.preprocess(data, static_features=[], dropna=True)
        train_from = frame.groupby("unique_id")["ds"].max() - pd.Timedelta(
            days=settings.train_days - 1
        )
        keep = (prepared[OPEN] > 0) & (prepared["ds"] >= prepared["unique_id"].map(train_from))
        prepared = prepared[keep]
        columns = [c for c in prepared.columns if c not in ("unique_id", "ds", "y")]
        pipeline.fit_models(prepared[columns], prepared["y"].to_numpy())
        self.pipeline = pipeline

    def predict(self, panel: Panel, series: pd.Index) -> pd.DataFrame:
        """Forecasts (unique_id, ds, lightgbm) for `series` over the panel's future grid."""
        assert self.pipeline is not None, "fit first"
        frame = panel.frame[panel.frame["unique_id"].isin(series).to_numpy()]
        from_end = frame.groupby("unique_id", sort=False).cumcount(ascending=False).to_numpy()
        frame = frame[from_end < self.LOOKBACK_DAYS]
        scale = _scales(frame, self.settings.recent_days)
        data = self._model_frame(frame, scale)
        future = panel.future[panel.future["unique_id"].isin(series).to_numpy()]
        future = future[["unique_id", "ds", OPEN, *self.features]]
        predicted = self.pipeline.predict(panel.horizon, new_df=data, X_df=future)
        predicted[GLOBAL_MODEL] = np.maximum(
            predicted[GLOBAL_MODEL].to_numpy(np.float64)
            * predicted["unique_id"].map(scale).to_numpy(np.float64),
            0.0,
        )
        return predicted[["unique_id", "ds", GLOBAL_MODEL]]
