"""Running the forecaster: pick a model per series by a rolling-origin backtest, then forecast.

Flow for one history (a Panel):
1. Classify each series: short, zero, intermittent or smooth (candidates.segments).
2. Backtest: for each of `backtest_windows` origins (the last h days, the h before them, ...)
   forecast h days with every candidate from the history before that origin. The global model
   (globalmodel: two heads, the mean and the log-scale median) is trained once, at the earliest
   origin, and predicts every window (no refit); with too little history for it, its candidates
   sit the backtest out.
3. Per segment, the candidate with the lowest mean relative error (error / recent level) wins:
   mean absolute error for smooth series (`smooth_error`), RMSE for intermittent ones; a
   series keeps the segment's winner unless its own backtest puts another candidate at least
   `switch_margin` lower. Short series use the mean of their open days, zero series forecast 0.
4. Forecast: every candidate on the whole history (the global model trained again, only if some
   series picked one of its candidates), each series takes its pick; closed days (`open` = 0)
   are 0; nothing is negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backroom.planning.forecasting import candidates as c
from backroom.planning.forecasting import metrics
from backroom.planning.forecasting.columns import FORECAST, ID, TIME
from backroom.planning.forecasting.data import (
    OPEN,
    MissingDays,
    Panel,
    build_panel,
    check_horizon,
    open_days,
    parse_table,
    split_future,
    truncate,
)
from backroom.planning.forecasting.globalmodel import GLOBAL_MODEL, HEADS, GlobalModel

MODEL_CANDIDATES = (*HEADS, c.COMBINATION)  # the candidates that need the global model
SEGMENT_CANDIDATES: dict[str, tuple[str, ...]] = {
    c.SMOOTH: (*MODEL_CANDIDATES, *c.BASELINES),
    # Not the log head: it forecasts the median, which is 0 for a series that sells on fewer
    # than half of its days; a quiet backtest window must not be able to pick that.
    c.INTERMITTENT: (GLOBAL_MODEL, c.COMBINATION, *c.BASELINES, *c.INTERMITTENT_MODELS),
    c.SHORT: (c.FALLBACK,),
    c.ZERO: (c.ZERO_MODEL,),
}
ALL_CANDIDATES = (
    *MODEL_CANDIDATES,
    *c.BASELINES,
    *c.INTERMITTENT_MODELS,
    c.FALLBACK,
    c.ZERO_MODEL,
)


@dataclass(frozen=True)
class ForecastResult:
    """What a forecast run produced.

    forecasts: series_id, date, forecast (≥ 0; 0 on closed days).
    forecasts also has a `model` column (the series' pick).
    series: one row per series_id: segment, model (the pick), level (recent mean per open day),
      error_mae, error_rmse, error_bias (per day, of the pick in the backtest; for safety stock,
      the error over L days is about error_rmse × √L), backtest_points and error_source
      ("backtest", or "pooled" when the series had no backtest and its error is its level times
      the median relative error of the backtested series); the pick's backtest accuracy
      actual_total, mase, wape, bias, rmsle and the weekly seasonal naive's naive_mase,
      naive_wape, naive_bias, naive_rmsle on the same days (NaN where there was no backtest).
    candidates: the backtest's mean relative error (MAE or RMSE, named in `error`, / level) of
      each candidate per segment.
    """

    forecasts: pd.DataFrame
    series: pd.DataFrame
    candidates: pd.DataFrame


@dataclass(frozen=True)
class BacktestResult:
    """An honest backtest of the whole forecaster (model choice included) on held-out windows.

    per_series: series_id, window (1 = the last h days), segment, model, n, actual, mae, rmse,
      mase, wape, bias, rmsle, and the same metrics of the weekly seasonal naive prefixed `naive_`.
    overall: one row per method (forecaster, seasonal_naive): series, mase, wape, bias, rmsle.
    predictions: series_id, date, window, actual, open, forecast, seasonal_naive.
    """

    per_series: pd.DataFrame
    overall: pd.DataFrame
    predictions: pd.DataFrame


def prepare(
    history: pd.DataFrame,
    horizon: int,
    *,
    future: pd.DataFrame | None = None,
    missing_days: MissingDays = "zero",
    first_line: int | None = None,
) -> Panel:
    """Validate `history` (and `future`) and lay them out as a Panel; see data.build_panel."""
    check_horizon(horizon)
    typed = parse_table(history, first_line=first_line)
    past, ahead = split_future(typed)
    del typed  # past is a copy when there are future rows: do not hold both
    if future is not None:
        extra = parse_table(future, future=True)
        ahead = pd.concat([ahead, extra], ignore_index=True).drop_duplicates(
            [ID, TIME], keep="last"
        )
    return build_panel(past, ahead, horizon, missing_days=missing_days)


def forecast(
    history: pd.DataFrame,
    horizon: int,
    *,
    future: pd.DataFrame | None = None,
    missing_days: MissingDays = "zero",
    settings: c.Settings | None = None,
) -> pd.DataFrame:
    """Daily forecasts (series_id, date, forecast) for `horizon` days after each series' last value.

    history: series_id, date, value (≥ 0), plus optional known-in-advance numeric feature columns
      (promo, holiday, open, ...). Rows whose value is empty and whose date is after the series'
      last value are the horizon's features. future: the same feature columns for the horizon,
      without value (optional; missing future features are 0, missing `open` is 1).
    missing_days: a day without a row is a zero-sales open day ("zero") or a closed day
      ("closed"). Raises ForecastInputInvalid listing every problem of the input.
    """
    return forecast_with_details(
        history, horizon, future=future, missing_days=missing_days, settings=settings
    ).forecasts[[ID, TIME, FORECAST]]


def forecast_with_details(
    history: pd.DataFrame,
    horizon: int,
    *,
    future: pd.DataFrame | None = None,
    missing_days: MissingDays = "zero",
    settings: c.Settings | None = None,
) -> ForecastResult:
    """As forecast(), plus each series' segment, chosen model and backtest error scale."""
    panel = prepare(history, horizon, future=future, missing_days=missing_days)
    return run(panel, settings or c.Settings())


def run(panel: Panel, settings: c.Settings) -> ForecastResult:
    """Select a model per series by backtest and forecast the panel's horizon (see module doc)."""
    final_segments = c.segments(panel, settings)
    level = _levels(panel, settings)
    errors = _selection_backtest(panel, settings)
    picks, table = _pick(errors, final_segments, level, settings)
    # The global model is trained again on the whole history only if some series uses it.
    needs_model = bool(picks.isin(MODEL_CANDIDATES).any())
    grid = _candidate_forecasts(
        panel, final_segments, settings, global_model=None, train=needs_model
    )
    chosen = grid["unique_id"].map(picks)
    values = np.full(len(grid), np.nan)
    for model in ALL_CANDIDATES:
        rows = (chosen == model).to_numpy()
        if rows.any():
            values[rows] = grid.loc[rows, model].to_numpy(np.float64)
    missing = np.isnan(values)
    if missing.any():
        # A pick that could not run (too little data for it): fall back to the history mean.
        values[missing] = grid.loc[missing, c.FALLBACK].to_numpy(np.float64)
    values = np.where(grid[OPEN].to_numpy() > 0, np.maximum(values, 0.0), 0.0)
    forecasts = pd.DataFrame(
        {
            ID: panel.series_ids[grid["unique_id"].to_numpy()],
            TIME: grid["ds"].to_numpy(),
            FORECAST: values,
        }
    )
    series = _series_table(panel, final_segments, picks, level, errors)
    forecasts["model"] = chosen.to_numpy()
    return ForecastResult(forecasts=forecasts, series=series, candidates=table)


def _levels(panel: Panel, settings: c.Settings) -> pd.Series:
    series, y, position = open_days(panel.frame)
    recent = position < settings.recent_days
    level = pd.Series(y[recent]).groupby(series[recent]).mean()
    return level.reindex(np.unique(panel.frame["unique_id"])).fillna(0.0)


def _candidate_forecasts(
    panel: Panel,
    series_segments: pd.Series,
    settings: c.Settings,
    *,
    global_model: GlobalModel | None,
    train: bool = True,
) -> pd.DataFrame:
    grid = c.baseline_forecasts(panel, series_segments)
    eligible = series_segments.index[series_segments.isin([c.SMOOTH, c.INTERMITTENT])]
    model = global_model
    if model is None and train and len(eligible):
        model = GlobalModel(panel.features, settings)
        model.fit(panel, eligible)
    if model is None or len(eligible) == 0:
        for name in MODEL_CANDIDATES:
            grid[name] = np.nan
        return grid
    predicted = model.predict(panel, eligible)
    grid = grid.merge(predicted, on=["unique_id", "ds"], how="left")
    # An equal-weight combination: averaging a global model with a robust local baseline is
    # seldom worse than the better of the two and often better than both.
    grid[c.COMBINATION] = (grid[GLOBAL_MODEL] + grid["weekday_median"]) / 2
    return grid


def _selection_backtest(panel: Panel, settings: c.Settings) -> pd.DataFrame:
    """Backtest predictions of every candidate: unique_id, ds, window, y, open, <models>."""
    windows = []
    global_model: GlobalModel | None = None
    for window in range(settings.backtest_windows, 0, -1):
        truncated, actual = truncate(panel, window * panel.horizon)
        if actual.empty:
            continue
        window_segments = c.segments(truncated, settings)
        if global_model is None:
            eligible = window_segments.index[window_segments.isin([c.SMOOTH, c.INTERMITTENT])]
            if len(eligible):
                global_model = GlobalModel(panel.features, settings)
                global_model.fit(truncated, eligible)
        grid = _candidate_forecasts(
            truncated, window_segments, settings, global_model=global_model, train=False
        )
        joined = actual[["unique_id", "ds", "y", OPEN]].merge(
            grid.drop(columns=[OPEN]), on=["unique_id", "ds"], how="inner"
        )
        joined["window"] = window
        windows.append(joined)
        del truncated, actual, grid  # before the next window's copy of the panel
    if not windows:
        return pd.DataFrame(columns=["unique_id", "ds", "window", "y", OPEN, *ALL_CANDIDATES])
    return pd.concat(windows, ignore_index=True)


def _pick(
    errors: pd.DataFrame,
    series_segments: pd.Series,
    level: pd.Series,
    settings: c.Settings,
) -> tuple[pd.Series, pd.DataFrame]:
    """The model per series (index unique_id) and the per-segment table of candidate errors."""
    picks = pd.Series(c.FALLBACK, index=series_segments.index, dtype=object)
    picks[series_segments == c.ZERO] = c.ZERO_MODEL
    rows = []
    scored = errors[errors[OPEN] > 0] if not errors.empty else errors
    for segment in (c.SMOOTH, c.INTERMITTENT):
        names = SEGMENT_CANDIDATES[segment]
        ids = series_segments.index[series_segments == segment]
        if len(ids) == 0:
            continue
        data = scored[scored["unique_id"].isin(ids)]
        # A candidate that could not run in the backtest (no global model: too little history)
        # is left out; the others are compared on the days where all of them have a forecast.
        names = tuple(name for name in names if name in data and data[name].notna().any())
        data = data[data[list(names)].notna().all(axis=1)] if len(data) else data
        if data.empty or not names:
            picks[ids] = c.BASELINES[1]
            continue
        # Smooth series: absolute error by default — its minimum is the median, what MASE and
        # WAPE score, and on a smooth series the median day is close to the mean. Intermittent
        # series: squared error, whose minimum is the mean (absolute error would prefer
        # forecasting 0 for a slow mover that sells on fewer than half of its days).
        kind = settings.smooth_error if segment == c.SMOOTH else "squared"
        error = pd.DataFrame({name: np.maximum(data[name], 0.0) - data["y"] for name in names})
        if kind == "absolute":
            per_series = error.abs().groupby(data["unique_id"].to_numpy()).mean()
        else:
            per_series = np.sqrt((error**2).groupby(data["unique_id"].to_numpy()).mean())
        scale = level.reindex(per_series.index).where(lambda s: s > 0, 1.0)
        relative = per_series.div(scale, axis=0)
        segment_mean = relative.mean()
        winner = str(segment_mean.idxmin())
        rows.append(
            {
                "segment": segment,
                "series": len(per_series),
                "error": kind,
                **segment_mean.to_dict(),
                "pick": winner,
            }
        )
        best = relative.idxmin(axis=1)
        best_value = relative.min(axis=1)
        switch = best_value < (1 - settings.switch_margin) * relative[winner]
        series_pick = pd.Series(winner, index=per_series.index, dtype=object)
        series_pick[switch] = best[switch]
        picks[ids] = winner
        picks[series_pick.index] = series_pick
    return picks, pd.DataFrame(rows)


def _series_table(
    panel: Panel,
    series_segments: pd.Series,
    picks: pd.Series,
    level: pd.Series,
    errors: pd.DataFrame,
) -> pd.DataFrame:
    index = series_segments.index
    table = pd.DataFrame(
        {
            ID: panel.series_ids[index.to_numpy()],
            "segment": series_segments.to_numpy(),
            "model": picks.reindex(index).to_numpy(),
            "level": level.reindex(index).to_numpy(np.float64),
        },
        index=index,
    )
    table["error_mae"] = np.nan
    table["error_rmse"] = np.nan
    table["error_bias"] = np.nan
    table["backtest_points"] = 0
    for column in ("actual_total", "mase", "wape", "bias", "rmsle"):
        table[column] = np.nan
        if column != "actual_total":
            table[f"naive_{column}"] = np.nan
    if not errors.empty:
        scored = errors[errors[OPEN] > 0]
        pick_of_row = scored["unique_id"].map(picks)
        prediction = np.full(len(scored), np.nan)
        for model in ALL_CANDIDATES:
            if model not in scored.columns:
                continue
            rows = (pick_of_row == model).to_numpy()
            prediction[rows] = scored.loc[rows, model].to_numpy(np.float64)
        error = np.maximum(prediction, 0.0) - scored["y"].to_numpy(np.float64)
        valid = ~np.isnan(error)
        frame = pd.DataFrame(
            {"unique_id": scored["unique_id"].to_numpy()[valid], "error": error[valid]}
        )
        frame["absolute"] = np.abs(frame["error"])
        frame["squared"] = frame["error"] ** 2
        grouped = frame.groupby("unique_id")
        table["error_mae"] = grouped["absolute"].mean()
        table["error_rmse"] = np.sqrt(grouped["squared"].mean())
        table["error_bias"] = grouped["error"].mean()
        table["backtest_points"] = grouped.size().reindex(index).fillna(0).astype(int)
        table = _with_accuracy(table, panel, scored, prediction)
    has_backtest = table["backtest_points"] > 0
    table["error_source"] = np.where(has_backtest, "backtest", "pooled")
    relative = (table["error_rmse"] / table["level"]).where(has_backtest & (table["level"] > 0))
    relative_mae = (table["error_mae"] / table["level"]).where(has_backtest & (table["level"] > 0))
    pooled = float(relative.median()) if relative.notna().any() else 1.0
    pooled_mae = float(relative_mae.median()) if relative_mae.notna().any() else 0.8
    table.loc[~has_backtest, "error_rmse"] = table["level"] * pooled
    table.loc[~has_backtest, "error_mae"] = table["level"] * pooled_mae
    table.loc[~has_backtest, "error_bias"] = 0.0
    return table.reset_index(drop=True)


def _with_accuracy(
    table: pd.DataFrame, panel: Panel, scored: pd.DataFrame, prediction: np.ndarray
) -> pd.DataFrame:
    """Add the pick's and the seasonal naive's backtest MASE, WAPE, bias and RMSLE."""
    frame = scored[["unique_id", "y", OPEN]].assign(pick=prediction)
    frame["seasonal_naive"] = scored["seasonal_naive"].to_numpy(np.float64)
    scale = metrics.naive_scale(panel.frame)
    columns = ["mase", "wape", "bias", "rmsle"]
    ours = metrics.score_series(frame[frame["pick"].notna()], scale, "pick")
    naive = metrics.score_series(frame[frame["seasonal_naive"].notna()], scale, "seasonal_naive")
    table["actual_total"] = ours["actual"]
    for column in columns:
        table[column] = ours[column]
        table[f"naive_{column}"] = naive[column]
    return table


def backtest(
    history: pd.DataFrame,
    horizon: int,
    *,
    future: pd.DataFrame | None = None,
    windows: int = 1,
    missing_days: MissingDays = "zero",
    settings: c.Settings | None = None,
    first_line: int | None = None,
) -> BacktestResult:
    """Score the whole forecaster (its model choice included) on the last `windows` × `horizon`
    days of the history, each window forecast only from the days before it, against the weekly
    seasonal naive. See metrics for the definitions."""
    settings = settings or c.Settings()
    panel = prepare(
        history, horizon, future=future, missing_days=missing_days, first_line=first_line
    )
    per_series = []
    predictions = []
    for window in range(windows, 0, -1):
        truncated, actual = truncate(panel, window * horizon)
        if actual.empty:
            continue
        result = run(truncated, settings)
        naive = c.baseline_forecasts(truncated, c.segments(truncated, settings))
        forecasts = result.forecasts.assign(
            unique_id=lambda f: _codes(panel, f[ID].to_numpy())
        ).rename(columns={TIME: "ds"})
        joined = actual[["unique_id", "ds", "y", OPEN]].merge(
            forecasts[["unique_id", "ds", FORECAST]], on=["unique_id", "ds"], how="inner"
        )
        joined = joined.merge(
            naive[["unique_id", "ds", "seasonal_naive", c.FALLBACK]],
            on=["unique_id", "ds"],
            how="left",
        )
        joined["seasonal_naive"] = joined["seasonal_naive"].fillna(joined[c.FALLBACK])
        scale = metrics.naive_scale(truncated.frame)
        ours = metrics.score_series(joined, scale, FORECAST)
        baseline = metrics.score_series(joined, scale, "seasonal_naive").add_prefix("naive_")
        info = result.series.assign(unique_id=lambda s: _codes(panel, s[ID].to_numpy()))
        info = info.set_index("unique_id")[[ID, "segment", "model"]]
        table = info.join(ours, how="inner").join(baseline, how="left")
        table.insert(1, "window", window)
        per_series.append(table.reset_index(drop=True))
        predictions.append(
            pd.DataFrame(
                {
                    ID: panel.series_ids[joined["unique_id"].to_numpy()],
                    TIME: joined["ds"].to_numpy(),
                    "window": window,
                    "actual": joined["y"].to_numpy(),
                    OPEN: joined[OPEN].to_numpy(),
                    FORECAST: joined[FORECAST].to_numpy(),
                    "seasonal_naive": np.maximum(joined["seasonal_naive"].to_numpy(), 0.0),
                }
            )
        )
    if not per_series:
        empty = pd.DataFrame(columns=[ID, "window"])
        return BacktestResult(empty, pd.DataFrame(), pd.DataFrame())
    rows = pd.concat(per_series, ignore_index=True)
    naive_rows = rows[[column for column in rows.columns if column.startswith("naive_")]]
    naive_rows = naive_rows.rename(columns=lambda name: name.removeprefix("naive_"))
    overall = pd.DataFrame(
        [metrics.overall(rows), metrics.overall(naive_rows)],
        index=pd.Index(["forecaster", "seasonal_naive"], name="method"),
    )
    return BacktestResult(rows, overall, pd.concat(predictions, ignore_index=True))


def _codes(panel: Panel, series_ids: np.ndarray) -> np.ndarray:
    return np.searchsorted(panel.series_ids.astype(str), series_ids.astype(str))


def cold_start(
    forecasts: pd.DataFrame,
    similar: Sequence[str],
    new_series_id: str,
    *,
    scale: float = 1.0,
) -> pd.DataFrame:
    """A forecast for a series with no history (a new store, a new item) as the mean of the
    forecasts of `similar` series per date, times `scale` (e.g. the new store's expected size
    relative to them). Returns series_id, date, forecast."""
    rows = forecasts[forecasts[ID].isin(list(similar))]
    if rows.empty:
        return pd.DataFrame(columns=[ID, TIME, FORECAST])
    mean = rows.groupby(TIME, sort=True)[FORECAST].mean() * max(scale, 0.0)
    return pd.DataFrame({ID: new_series_id, TIME: mean.index, FORECAST: mean.to_numpy()})
