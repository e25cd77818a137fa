"""The global model: one LightGBM over many series that forecasts every day of the horizon
directly from what is known at the forecast origin (no recursion over its own forecasts).

Each training row is (series, origin, days ahead h). Its features describe the series'
history up to the origin — its level (mean of log(1 + value) over `recent_days`), spread and
share of zero days; its means over the last 1, 2, 4 and 16 weeks; the same weekday's mean over
the last 4, 8, 16, 26 and 52 weeks, median over 8 weeks and last value; its own mean on the days
each known-in-advance feature was on — and what is known about the target day: h, weekday, day
of the month, and each known-in-advance feature on that day, the day before and the day after.
Values are read on open days only: a closed day is missing, not a zero, in every mean, median
and lag. Training origins are taken every 14 days over the last `train_days` days, so the model
learns every h at once and the forecast of day 39 does not lean on 38 forecasts before it.

Two heads are trained on the same rows:
- `lightgbm`: Tweedie loss on the value divided by the series' recent mean (the mean: what
  ordering needs; non-negative; copes with many zeros);
- `lightgbm_log`: absolute loss on log(1 + value) relative to the series' log level — the
  median on a relative scale, robust to one-off spikes (a party of 40 on a Tuesday).
The engine's backtest decides per segment (and per series) which one, if either, is used.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from backroom.planning.forecasting.data import OPEN, Panel, last_days

if TYPE_CHECKING:
    from backroom.planning.forecasting.candidates import Settings

GLOBAL_MODEL = "lightgbm"
LOG_MODEL = "lightgbm_log"
HEADS = (GLOBAL_MODEL, LOG_MODEL)

# Feature windows: calendar spans in whole weeks, so that each holds every weekday equally.
LOOKBACK_DAYS = 52 * 7  # the longest window a feature reads: 52 weeks (a year)
WEEKS = (4, 8, 16, 26, 52)  # same-weekday means over these many weeks
MEDIAN_WEEKS = 8  # same-weekday median: the 8-week weekday median baseline, as a feature
WINDOWS = (7, 14, 28, 112)  # recent means (1, 2, 4, 16 weeks) relative to the level
# Training origins every 2 weeks: a multiple of 7, so every origin falls on the same weekday as
# the forecast origin; each origin contributes ORIGIN_STEP days ahead per series, so every day of
# the training span is a target about once.
ORIGIN_STEP = 14


def _layout(
    panel: Panel, series: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """The last `width` days of each of `series` as right-aligned matrices (series × day).

    Returns (codes, values, known, last_dates): values is NaN on closed days and before a
    series' first day; known maps `open` and each feature to its matrix (0 before the start).
    """
    frame = panel.frame
    positions, from_end = last_days(frame, series, width)
    uid = frame["unique_id"].to_numpy()[positions]
    codes, row = np.unique(uid, return_inverse=True)
    column = width - 1 - from_end
    values = np.full((len(codes), width), np.nan, dtype=np.float32)
    is_open = frame[OPEN].to_numpy()[positions] > 0
    values[row[is_open], column[is_open]] = frame["y"].to_numpy(np.float32)[positions[is_open]]
    known: dict[str, np.ndarray] = {}
    for name in (OPEN, *panel.features):
        matrix = np.zeros((len(codes), width), dtype=np.float32)
        matrix[row, column] = frame[name].to_numpy(np.float32)[positions]
        known[name] = matrix
    last = np.empty(len(codes), dtype=frame["ds"].dtype)
    last[row[from_end == 0]] = frame["ds"].to_numpy()[positions[from_end == 0]]
    return codes, values, known, last


def _mean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    count = np.sum(~np.isnan(values), axis=axis)
    total = np.nansum(values, axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)


class Design:
    """Feature matrices for one origin: the history is the columns before `origin`; the level
    is the mean of log(1 + value) over its last `level_days` days."""

    def __init__(self, features: tuple[str, ...], level_days: int) -> None:
        self.level_days = level_days
        self.known = (OPEN, *features)
        names = ["level", "days_level", "spread", "zero_share", "mean_gap"]
        names += [f"mean_{days}" for days in WINDOWS]
        names += ["weekday_last", *(f"weekday_mean_{weeks}" for weeks in WEEKS)]
        names += [f"weekday_median_{MEDIAN_WEEKS}", "ahead", "weekday", "day_of_month"]
        for name in self.known:
            names += [name, f"{name}_before", f"{name}_after"]
        names += [f"{name}_effect" for name in features]
        self.names = names

    def rows(
        self,
        values: np.ndarray,
        logs: np.ndarray,
        known: dict[str, np.ndarray],
        first_day: np.ndarray,
        origin: int,
        horizon: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(features, row, column, scale) for every series × h = 1..horizon: row is the series'
        row in `values`, column the target day's column, scale the series' recent mean."""
        count = values.shape[0]
        start = max(0, origin - LOOKBACK_DAYS)
        history = logs[:, start:origin]
        recent = history[:, -self.level_days :]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            level = _mean(recent)
            level = np.where(np.isnan(level), _mean(history), level)
            raw_recent = values[:, start:origin][:, -self.level_days :]
            scale = _mean(raw_recent)
            scale = np.where(np.isnan(scale) | (scale <= 0), 1.0, scale).astype(np.float32)
            observed = ~np.isnan(recent)
            per_series = {
                "level": level,
                "days_level": observed.sum(axis=1).astype(np.float32),
                "spread": np.nanstd(recent, axis=1).astype(np.float32),
                "zero_share": _mean(np.where(observed, (recent == 0).astype(np.float32), np.nan)),
                "mean_gap": np.log1p(scale) - level,
            }
            for days in WINDOWS:
                per_series[f"mean_{days}"] = _mean(history[:, -days:]) - level
            # Same weekday as target day `origin + k` (k = 0..6): columns origin + k - 7w.
            weeks = max(WEEKS)
            offsets = np.arange(7)[:, None] - 7 * np.arange(1, weeks + 1)[None, :]  # (7, weeks)
            columns = origin + offsets
            usable = columns >= start
            same = logs[:, np.clip(columns, 0, None)]  # (series, 7, weeks), newest first
            same = np.where(usable[None, :, :], same, np.nan)
            have = ~np.isnan(same)
            newest = np.argmax(have, axis=2)
            last_value = np.take_along_axis(same, newest[:, :, None], axis=2)[:, :, 0]
            per_weekday = {
                "weekday_last": np.where(have.any(axis=2), last_value, np.nan) - level[:, None]
            }
            for span in WEEKS:
                per_weekday[f"weekday_mean_{span}"] = _mean(same[:, :, :span]) - level[:, None]
            per_weekday[f"weekday_median_{MEDIAN_WEEKS}"] = (
                np.nanmedian(same[:, :, :MEDIAN_WEEKS], axis=2) - level[:, None]
            )
        ahead = np.tile(np.arange(1, horizon + 1), count)
        row = np.repeat(np.arange(count), horizon)
        column = origin + ahead - 1
        phase = (ahead - 1) % 7
        matrix = np.empty((len(row), len(self.names)), dtype=np.float32)
        position = 0
        for name in ("level", "days_level", "spread", "zero_share", "mean_gap"):
            matrix[:, position] = per_series[name][row]
            position += 1
        for days in WINDOWS:
            matrix[:, position] = per_series[f"mean_{days}"][row]
            position += 1
        for name in per_weekday:
            matrix[:, position] = per_weekday[name][row, phase]
            position += 1
        dates = pd.DatetimeIndex(first_day[row] + column.astype("timedelta64[D]"))
        matrix[:, position] = ahead
        matrix[:, position + 1] = dates.dayofweek
        matrix[:, position + 2] = dates.day
        position += 3
        width = logs.shape[1]
        for name in self.known:
            source = known[name]
            matrix[:, position] = source[row, column]
            before = column - 1
            matrix[:, position + 1] = np.where(before >= 0, source[row, np.maximum(before, 0)], 0)
            after = column + 1
            matrix[:, position + 2] = np.where(
                after < width, source[row, np.minimum(after, width - 1)], 0
            )
            position += 3
        for name in self.known[1:]:
            # The series' own response to the feature: its mean on the days it was on.
            on = known[name][:, start:origin] > 0
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                effect = _mean(np.where(on, history, np.nan)) - level
            matrix[:, position] = effect[row]
            position += 1
        return matrix, row, column, scale[row]


class GlobalModel:
    """One direct multi-horizon LightGBM over many series, with a mean head and a log-median
    head (see the module doc). Deterministic: fixed seeds, `deterministic` LightGBM, a fixed
    thread count and a fixed sample of training rows."""

    def __init__(self, features: tuple[str, ...], settings: Settings) -> None:
        self.design = Design(features, settings.recent_days)
        self.settings = settings
        self.boosters: dict[str, Any] = {}

    def _params(self, objective: str) -> dict[str, Any]:
        settings = self.settings
        params: dict[str, Any] = {
            "objective": objective,
            "learning_rate": settings.learning_rate,
            "num_leaves": settings.num_leaves,
            "min_data_in_leaf": 100,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "feature_fraction": 0.8,
            "num_threads": settings.num_threads,
            "seed": settings.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }
        if objective == "tweedie":
            params["tweedie_variance_power"] = 1.2
        return params

    def fit(self, panel: Panel, series: pd.Index) -> None:
        """Train both heads on origins every ORIGIN_STEP days over the last `train_days` days.

        At each origin, the series with at least `min_history_days` values before it give
        ORIGIN_STEP of their horizon days, picked at random (so each day is a target about once,
        at a random distance from its origin); at most `max_train_rows` rows in all (a fixed
        random sample of series at each origin beyond that). No usable row: no model, and the
        engine's backtest sees its candidates as unavailable.
        """
        import lightgbm

        settings = self.settings
        horizon = panel.horizon
        width = settings.train_days + LOOKBACK_DAYS + horizon
        codes, values, known, last = _layout(panel, series.to_numpy(), width)
        first_day = last - np.timedelta64(width - 1, "D")
        origins = [
            width - horizon - ORIGIN_STEP * index
            for index in range(math.ceil(settings.train_days / ORIGIN_STEP))
        ]
        origins = [origin for origin in origins if origin > 0]
        steps = min(horizon, ORIGIN_STEP)
        per_origin = max(1, settings.max_train_rows // max(1, len(origins) * steps))
        rng = np.random.default_rng(settings.seed)
        parts: list[np.ndarray] = []
        means: list[np.ndarray] = []
        logs_ahead: list[np.ndarray] = []
        seen = np.concatenate(
            [
                np.zeros((len(codes), 1), np.int32),
                np.cumsum(~np.isnan(values), axis=1, dtype=np.int32),
            ],
            axis=1,
        )  # seen[:, d]: values in the first d days
        for origin in origins:
            since = max(0, origin - LOOKBACK_DAYS)
            rows = np.flatnonzero(seen[:, origin] - seen[:, since] >= settings.min_history_days)
            if len(rows) > per_origin:
                rows = np.sort(rng.choice(rows, size=per_origin, replace=False))
            if len(rows) == 0:
                continue
            matrix, row, column, scale = self.design.rows(
                values[rows],
                np.log1p(values[rows]),
                {name: known[name][rows] for name in known},
                first_day[rows],
                origin,
                horizon,
            )
            if steps < horizon:
                keep = np.sort(rng.choice(len(row), size=len(rows) * steps, replace=False))
                matrix, row, column, scale = matrix[keep], row[keep], column[keep], scale[keep]
            target = values[rows][row, column]
            usable = ~np.isnan(target) & ~np.isnan(matrix[:, 0])
            parts.append(matrix[usable])
            means.append(target[usable] / scale[usable])
            logs_ahead.append(np.log1p(target[usable]) - matrix[usable, 0])
        self.boosters = {}
        if not parts or sum(len(part) for part in parts) == 0:
            return
        data = lightgbm.Dataset(
            np.concatenate(parts),
            label=np.concatenate(means),
            feature_name=self.design.names,
            categorical_feature=["weekday"],
            params={"max_bin": 127, "verbosity": -1},
            free_raw_data=False,
        )
        rounds = settings.boost_rounds
        self.boosters[GLOBAL_MODEL] = lightgbm.train(
            self._params("tweedie"), data, num_boost_round=rounds
        )
        data.set_label(np.concatenate(logs_ahead))
        self.boosters[LOG_MODEL] = lightgbm.train(
            self._params("regression_l1"), data, num_boost_round=rounds
        )

    def predict(self, panel: Panel, series: pd.Index) -> pd.DataFrame:
        """Forecasts (unique_id, ds, lightgbm, lightgbm_log) for `series` over the panel's
        future grid; NaN where a series has no value in the lookback (the engine falls back)."""
        horizon = panel.horizon
        codes, values, known, last = _layout(panel, series.to_numpy(), LOOKBACK_DAYS)
        future = panel.future[panel.future["unique_id"].isin(codes).to_numpy()]
        future = future.sort_values(["unique_id", "ds"])
        blank = np.full((len(codes), horizon), np.nan, dtype=np.float32)
        values = np.concatenate([values, blank], axis=1)
        for name in known:
            ahead = future[name].to_numpy(np.float32).reshape(len(codes), horizon)
            known[name] = np.concatenate([known[name], ahead], axis=1)
        first_day = last - np.timedelta64(LOOKBACK_DAYS - 1, "D")
        matrix, row, column, scale = self.design.rows(
            values, np.log1p(values), known, first_day, LOOKBACK_DAYS, horizon
        )
        dates = first_day[row] + column.astype("timedelta64[D]")
        result = pd.DataFrame({"unique_id": codes[row], "ds": dates})
        usable = ~np.isnan(matrix[:, 0])
        for head in HEADS:
            booster = self.boosters.get(head)
            forecast = np.full(len(row), np.nan)
            if booster is not None and usable.any():
                raw = booster.predict(matrix[usable], num_threads=self.settings.num_threads)
                if head == GLOBAL_MODEL:
                    forecast[usable] = raw * scale[usable]
                else:
                    forecast[usable] = np.expm1(raw + matrix[usable, 0])
            result[head] = np.maximum(forecast, 0.0)
        return result
