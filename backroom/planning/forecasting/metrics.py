"""Forecast accuracy: MASE, WAPE, bias and RMSLE, per series and overall.

Definitions (e = forecast − actual, over the scored days of a series; closed days are not scored):
- MAE = mean |e|; RMSE = sqrt(mean e²).
- MASE = MAE / mean |y_t − y_{t−7}| over the series' own history before the forecast origin (the
  in-sample error of the weekly seasonal naive). Overall: the mean of the series' MASE, over the
  series whose history is not flat (scale > 0).
- WAPE = Σ|e| / Σ actual. Overall: pooled over every scored day of every series.
- bias = Σe / Σ actual (positive: forecasts too high). Overall: pooled.
- RMSLE = sqrt(mean (log(1 + forecast) − log(1 + actual))²). Overall: pooled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEASON = 7


def mase(
    actual: np.ndarray, forecast: np.ndarray, history: np.ndarray, season: int = SEASON
) -> float:
    """MASE of one series; `history` are the values before the forecast origin. NaN if flat."""
    scale = np.mean(np.abs(history[season:] - history[:-season])) if len(history) > season else 0.0
    if scale == 0:
        return float("nan")
    return float(np.mean(np.abs(forecast - actual)) / scale)


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Σ|forecast − actual| / Σ actual (NaN when nothing was sold)."""
    total = float(np.sum(np.abs(actual)))
    return float(np.sum(np.abs(forecast - actual)) / total) if total > 0 else float("nan")


def bias(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Σ(forecast − actual) / Σ actual: +0.1 means 10 % too high."""
    total = float(np.sum(np.abs(actual)))
    return float(np.sum(forecast - actual) / total) if total > 0 else float("nan")


def rmsle(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Root mean squared error of log(1 + x); forecasts below 0 count as 0."""
    difference = np.log1p(np.maximum(forecast, 0)) - np.log1p(np.maximum(actual, 0))
    return float(np.sqrt(np.mean(difference**2)))


def naive_scale(frame: pd.DataFrame, season: int = SEASON) -> pd.Series:
    """Per series (unique_id): the mean |y_t − y_{t−season}| over pairs of open days in `frame`."""
    uid = frame["unique_id"].to_numpy()
    days = frame["ds"].to_numpy()
    ordered = len(uid) < 2 or bool(
        np.all((uid[1:] > uid[:-1]) | ((uid[1:] == uid[:-1]) & (days[1:] > days[:-1])))
    )
    if not ordered:  # a panel frame is already in order: no copy then
        frame = frame[["unique_id", "ds", "y", "open"]].sort_values(["unique_id", "ds"])
        uid = frame["unique_id"].to_numpy()
    y = frame["y"].to_numpy(np.float64)
    is_open = frame["open"].to_numpy() > 0
    if len(y) <= season:
        return pd.Series(dtype="float64")
    same = uid[season:] == uid[:-season]
    usable = same & is_open[season:] & is_open[:-season]
    difference = np.abs(y[season:] - y[:-season])[usable]
    return pd.Series(difference).groupby(uid[season:][usable]).mean()


def score_series(scored: pd.DataFrame, scale: pd.Series, prediction: str) -> pd.DataFrame:
    """Per-series metrics of the `prediction` column against `y` (open days only).

    Returns one row per unique_id: n, actual, mae, rmse, mase, wape, bias, rmsle.
    """
    data = scored[scored["open"] > 0]
    y = data["y"].to_numpy(np.float64)
    f = np.maximum(data[prediction].to_numpy(np.float64), 0.0)
    error = f - y
    parts = pd.DataFrame(
        {
            "unique_id": data["unique_id"].to_numpy(),
            "n": 1,
            "actual": y,
            "abs_error": np.abs(error),
            "error": error,
            "squared_error": error**2,
            "squared_log_error": (np.log1p(f) - np.log1p(y)) ** 2,
        }
    )
    sums = parts.groupby("unique_id").sum()
    result = pd.DataFrame(index=sums.index)
    result["n"] = sums["n"]
    result["actual"] = sums["actual"]
    result["abs_error"] = sums["abs_error"]
    result["error"] = sums["error"]
    result["squared_log_error"] = sums["squared_log_error"]
    result["mae"] = sums["abs_error"] / sums["n"]
    result["rmse"] = np.sqrt(sums["squared_error"] / sums["n"])
    series_scale = scale.reindex(result.index)
    result["mase"] = result["mae"] / series_scale.where(series_scale > 0)
    actual = sums["actual"].where(sums["actual"] > 0)
    result["wape"] = sums["abs_error"] / actual
    result["bias"] = sums["error"] / actual
    result["rmsle"] = np.sqrt(sums["squared_log_error"] / sums["n"])
    return result


def overall(per_series: pd.DataFrame) -> dict[str, float]:
    """Overall MASE (mean over series), WAPE, bias and RMSLE (pooled) from score_series rows."""
    actual = float(per_series["actual"].sum())
    points = float(per_series["n"].sum())
    return {
        "series": float(len(per_series)),
        "mase": float(per_series["mase"].mean()),
        "wape": float(per_series["abs_error"].sum() / actual) if actual > 0 else float("nan"),
        "bias": float(per_series["error"].sum() / actual) if actual > 0 else float("nan"),
        "rmsle": float(np.sqrt(per_series["squared_log_error"].sum() / points))
        if points > 0
        else float("nan"),
    }


def paired_bootstrap(
    ours: pd.DataFrame, baseline: pd.DataFrame, *, resamples: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """How sure is "ours beats the baseline"? Both are `score_series` rows of the same series.

    The series are drawn with replacement `resamples` times; each draw scores both methods on
    the same series (so a hard store counts against both), as `overall` does. Returns, per
    metric (MASE, WAPE, RMSLE), the change ours ÷ baseline − 1 on the full set, its 2.5 %, 50 %
    and 97.5 % points over the draws, the share of draws where ours is better (lower), and the
    share of series where ours has the lower error of its own (among the series where both
    have one).
    """
    index = ours.index.intersection(baseline.index)
    a, b = ours.loc[index], baseline.loc[index]
    rng = np.random.default_rng(seed)
    # counts[r, s]: how often series s is in draw r.
    counts = rng.multinomial(len(index), np.full(len(index), 1 / len(index)), size=resamples)

    def measures(rows: pd.DataFrame, weights: np.ndarray) -> dict[str, np.ndarray]:
        mase_known = rows["mase"].notna().to_numpy()
        mase_values = rows["mase"].fillna(0).to_numpy()
        return {
            "mase": (weights @ mase_values) / (weights @ mase_known),
            "wape": (weights @ rows["abs_error"].to_numpy())
            / (weights @ rows["actual"].to_numpy()),
            "rmsle": np.sqrt(
                (weights @ rows["squared_log_error"].to_numpy()) / (weights @ rows["n"].to_numpy())
            ),
        }

    whole = np.ones((1, len(index)))
    ours_whole, base_whole = measures(a, whole), measures(b, whole)
    ours_draws, base_draws = measures(a, counts), measures(b, counts)
    rows = {}
    for name in ("mase", "wape", "rmsle"):
        change = ours_draws[name] / base_draws[name] - 1
        low, middle, high = np.nanpercentile(change, [2.5, 50, 97.5])
        mine, theirs = a[name].to_numpy(), b[name].to_numpy()
        known = ~(np.isnan(mine) | np.isnan(theirs))
        rows[name] = {
            "change": float(ours_whole[name][0] / base_whole[name][0] - 1),
            "low": float(low),
            "median": float(middle),
            "high": float(high),
            "draws_better": float(np.mean(change < 0)),
            "series_better": float(np.mean(mine[known] < theirs[known])) if known.any() else 0.0,
        }
    return pd.DataFrame(rows).T
