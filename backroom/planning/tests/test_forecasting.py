"""The forecaster: recovers patterns, uses known-in-advance features, handles slow movers, short,
zero and closed series, scores with the documented metrics, and its CLI validates its input."""

from __future__ import annotations

import math
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from backroom.planning.forecasting import (
    ForecastInputInvalid,
    Settings,
    backtest,
    cold_start,
    engine,
    forecast,
    forecast_with_details,
    metrics,
    prepare,
)
from backroom.planning.forecasting.engine import SEGMENT_CANDIDATES
from backroom.planning.forecasting.globalmodel import GLOBAL_MODEL, LOG_MODEL, GlobalModel
from backroom.planning.forecasting.synthetic import WEEKLY, daily_sales

FAST = Settings(num_threads=1, boost_rounds=80, learning_rate=0.1, backtest_windows=1)


def weekly_history(series: int = 12, days: int = 280, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2025-01-06", periods=days, freq="D")  # a Monday
    rows = []
    for index in range(series):
        level = 20 + 10 * index
        mean = level * WEEKLY[dates.dayofweek.to_numpy()]
        values = rng.poisson(mean)
        rows.append(pd.DataFrame({"series_id": f"W{index:02d}", "date": dates, "value": values}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def weekly_result():
    history = weekly_history()
    return history, forecast_with_details(history, 14, settings=FAST)


def test_forecast_recovers_the_weekly_pattern(weekly_result):
    history, result = weekly_result
    forecasts = result.forecasts
    assert list(forecasts.columns) == ["series_id", "date", "forecast", "model"]
    assert len(forecasts) == 12 * 14
    assert forecasts["date"].min() == history["date"].max() + pd.Timedelta(days=1)
    for index in (0, 5, 11):
        rows = forecasts[forecasts["series_id"] == f"W{index:02d}"]
        expected = (20 + 10 * index) * WEEKLY[rows["date"].dt.dayofweek.to_numpy()]
        relative = np.abs(rows["forecast"].to_numpy() - expected) / expected
        assert relative.mean() < 0.12, (index, relative)
    assert set(result.series["segment"]) == {"smooth"}
    assert (result.series["error_source"] == "backtest").all()
    assert (result.series["error_rmse"] > 0).all()
    assert (result.series["backtest_points"] == 14).all()
    assert (result.series["wape"] < result.series["naive_wape"]).mean() > 0.7
    assert (result.series["actual_total"] > 0).all()
    assert set(result.forecasts["model"]) <= set(SEGMENT_CANDIDATES["smooth"])


def test_the_pick_is_the_backtest_winner(weekly_result):
    _history, result = weekly_result
    table = result.candidates.set_index("segment")
    smooth = table.loc["smooth"]
    errors = smooth[[name for name in SEGMENT_CANDIDATES["smooth"] if name in smooth.index]]
    assert smooth["pick"] == errors.astype(float).idxmin()
    assert {GLOBAL_MODEL, LOG_MODEL} <= set(errors.index)


def _errors(segment_of: dict[int, str], forecasts: dict[str, float], actual: float = 10.0):
    """A backtest table: 28 open days per series, each candidate a constant forecast."""
    rows = []
    for uid in segment_of:
        for day in range(28):
            rows.append({"unique_id": uid, "ds": day, "window": 1, "y": actual, "open": 1.0})
    frame = pd.DataFrame(rows)
    for name in engine.ALL_CANDIDATES:
        frame[name] = forecasts.get(name, 0.0)
    return frame


def test_pick_by_backtest_segment_winner_per_series_switch_and_no_median_for_slow_movers():
    segments = pd.Series({0: "smooth", 1: "smooth", 2: "intermittent", 3: "smooth", 4: "smooth"})
    level = pd.Series({0: 10.0, 1: 10.0, 2: 0.4, 3: 10.0, 4: 10.0})
    settings = Settings()
    errors = _errors(
        dict(segments),
        {GLOBAL_MODEL: 12.0, LOG_MODEL: 10.5, "weekday_median": 11.0, "adida": 11.5},
    )
    # Series 1's own backtest: the weekday median is spot on, the log head 9 % off.
    series_1 = errors["unique_id"] == 1
    errors.loc[series_1, "weekday_median"] = 10.0
    errors.loc[series_1, LOG_MODEL] = 10.9
    # Series 2 (intermittent): the log head is spot on, ADIDA the next best.
    errors.loc[errors["unique_id"] == 2, LOG_MODEL] = 10.0
    errors.loc[errors["unique_id"] == 2, "adida"] = 10.2
    picks, table = engine._pick(errors, segments, level, settings)
    assert table.set_index("segment").loc["smooth", "pick"] == LOG_MODEL
    assert picks[0] == LOG_MODEL
    assert picks[1] == "weekday_median"  # at least `switch_margin` better on its own backtest
    # The log head (a median: 0 for a slow mover) is no candidate for intermittent series, even
    # where its backtest is the best.
    assert pd.isna(table.set_index("segment").loc["intermittent", LOG_MODEL])
    assert picks[2] == "adida"


def test_smooth_series_are_picked_by_absolute_error_intermittent_ones_by_squared_error():
    # A smooth series of 10 a day with a party of 40 on 4 of its 28 backtest days: the log head
    # forecasts the ordinary day (10), the mean head the mean (about 14.3). Absolute error (what
    # MASE and WAPE score) prefers the median, squared error the mean.
    segments = pd.Series({0: "smooth", 1: "intermittent"})
    level = pd.Series({0: 14.3, 1: 14.3})
    errors = _errors(dict(segments), {GLOBAL_MODEL: 14.3, LOG_MODEL: 10.0, "adida": 10.0})
    errors.loc[errors["ds"] < 4, "y"] = 40.0
    picks, table = engine._pick(errors, segments, level, Settings())
    rows = table.set_index("segment")
    assert rows.loc["smooth", "error"] == "absolute"
    assert rows.loc["smooth", LOG_MODEL] == pytest.approx(4 * 30 / 28 / 14.3)
    assert picks[0] == LOG_MODEL
    assert rows.loc["intermittent", "error"] == "squared"
    assert picks[1] == GLOBAL_MODEL  # the mean: never the median for an intermittent series
    picks, table = engine._pick(errors, segments, level, Settings(smooth_error="squared"))
    assert table.set_index("segment").loc["smooth", "error"] == "squared"
    assert picks[0] == GLOBAL_MODEL


def test_the_log_head_is_a_robust_non_negative_median():
    rng = np.random.default_rng(7)
    dates = pd.date_range("2025-01-06", periods=300, freq="D")
    frames = []
    for index in range(24):
        values = rng.poisson(10 + index, len(dates)).astype(float)
        values[rng.random(len(dates)) < 0.06] *= 8  # one-off parties
        frames.append(pd.DataFrame({"series_id": f"P{index:02d}", "date": dates, "value": values}))
    for index in range(6):  # slow movers: mostly zeros
        values = rng.poisson(0.2, len(dates)).astype(float)
        frames.append(pd.DataFrame({"series_id": f"Z{index}", "date": dates, "value": values}))
    history = pd.concat(frames, ignore_index=True)
    panel = prepare(history, 21)
    series = pd.Index(np.arange(len(panel.series_ids)))
    model = GlobalModel(panel.features, FAST)
    model.fit(panel, series)
    predicted = model.predict(panel, series)
    assert len(predicted) == len(series) * 21
    for head in (GLOBAL_MODEL, LOG_MODEL):
        assert np.isfinite(predicted[head]).all() and (predicted[head] >= 0).all()
    predicted["series_id"] = panel.series_ids[predicted["unique_id"].to_numpy()]
    recent = history[history["date"] > dates[-57]].groupby("series_id")["value"]
    per_series = predicted.groupby("series_id")[[GLOBAL_MODEL, LOG_MODEL]].mean()
    parties = per_series.index.str.startswith("P")
    # Near the median of a day, below the mean that the parties pull up; the mean head higher.
    ratio = per_series.loc[parties, LOG_MODEL] / recent.median()[parties]
    assert ratio.between(0.8, 1.2).all(), ratio
    assert (per_series.loc[parties, LOG_MODEL] < recent.mean()[parties]).all()
    assert per_series.loc[parties, GLOBAL_MODEL].sum() > per_series.loc[parties, LOG_MODEL].sum()


def test_the_direct_model_keeps_the_weekly_shape_to_the_end_of_a_long_horizon():
    history = weekly_history(series=12, days=280)
    result = forecast_with_details(history, 35, settings=FAST)
    forecasts = result.forecasts
    last_week = forecasts["date"] > history["date"].max() + pd.Timedelta(days=28)
    for index in (0, 6, 11):
        rows = forecasts[(forecasts["series_id"] == f"W{index:02d}") & last_week]
        expected = (20 + 10 * index) * WEEKLY[rows["date"].dt.dayofweek.to_numpy()]
        relative = np.abs(rows["forecast"].to_numpy() - expected) / expected
        assert relative.mean() < 0.12, (index, relative)


def test_closed_days_are_missing_values_not_zeros():
    history = weekly_history(series=6, days=210)
    history["open"] = (history["date"].dt.dayofweek != 0).astype(float)  # closed on Mondays
    history.loc[history["open"] == 0, "value"] = 0.0
    last = history["date"].max()
    future = pd.DataFrame({"series_id": "W03", "date": pd.date_range(last, periods=15)[1:]})
    future["open"] = 1.0  # open every day of the horizon, Mondays included
    result = forecast_with_details(history, 14, future=future, settings=FAST)
    rows = result.forecasts[result.forecasts["series_id"] == "W03"]
    mondays = rows[rows["date"].dt.dayofweek == 0]
    level = history.loc[(history["series_id"] == "W03") & (history["open"] > 0), "value"].mean()
    assert len(mondays) == 2
    assert (mondays["forecast"] > 0.5 * level).all(), (mondays, level)
    others = result.forecasts[result.forecasts["series_id"] == "W00"]
    assert (others.loc[others["date"].dt.dayofweek == 0, "forecast"] > 0).all()


def test_the_global_model_is_trained_only_when_there_is_history_for_it():
    history = weekly_history(series=6, days=45)  # a new chain: 45 days, a 28-day horizon
    with mock.patch.object(GlobalModel, "fit", autospec=True, side_effect=GlobalModel.fit) as fit:
        result = forecast_with_details(history, 28, settings=FAST)
    picks = set(result.series["model"])
    assert not picks & set(engine.MODEL_CANDIDATES)
    assert fit.call_count == 0
    assert (result.forecasts["forecast"] > 0).all()
    longer = weekly_history(series=6, days=150)
    with mock.patch.object(GlobalModel, "fit", autospec=True, side_effect=GlobalModel.fit) as fit:
        result = forecast_with_details(longer, 28, settings=FAST)
    uses_model = bool(set(result.series["model"]) & set(engine.MODEL_CANDIDATES))
    assert fit.call_count == 1 + uses_model  # the backtest's, and the final one if it is used


def test_backtest_beats_seasonal_naive_on_a_weekly_pattern():
    result = backtest(weekly_history(), 14, settings=FAST)
    overall = result.overall
    assert list(overall.index) == ["forecaster", "seasonal_naive"]
    assert overall.loc["forecaster", "wape"] < 0.85 * overall.loc["seasonal_naive", "wape"]
    assert overall.loc["forecaster", "mase"] < overall.loc["seasonal_naive", "mase"]
    assert set(result.per_series["window"]) == {1}
    assert len(result.per_series) == 12


def test_a_promotion_in_the_horizon_raises_the_forecast():
    history = daily_sales(40, 300, horizon=14, seed=5, promo_rate=0.1, promo_lift=2.0, slow_share=0)
    future_days = history["value"].isna()
    with_promo = history.copy()
    promo_days = future_days & history["date"].isin(history.loc[future_days, "date"].unique()[4:8])
    with_promo.loc[future_days, "promo"] = 0.0
    with_promo.loc[promo_days, "promo"] = 1.0
    without_promo = with_promo.copy()
    without_promo.loc[future_days, "promo"] = 0.0
    raised = forecast(with_promo, 14, settings=FAST)
    plain = forecast(without_promo, 14, settings=FAST)
    promoted = raised.merge(plain, on=["series_id", "date"], suffixes=("", "_plain"))
    days = promoted["date"].isin(history.loc[promo_days, "date"].unique())
    ratio = promoted.loc[days, "forecast"].sum() / promoted.loc[days, "forecast_plain"].sum()
    assert ratio > 1.3
    untouched = promoted.loc[~days]
    assert np.allclose(untouched["forecast"].sum(), untouched["forecast_plain"].sum(), rtol=0.1)


def test_intermittent_series_get_sensible_non_negative_forecasts():
    rng = np.random.default_rng(11)
    dates = pd.date_range("2025-01-01", periods=240, freq="D")
    frames = [
        pd.DataFrame({"series_id": f"I{i}", "date": dates, "value": rng.poisson(0.25, len(dates))})
        for i in range(8)
    ]
    frames.append(weekly_history(series=4, days=240))
    result = forecast_with_details(pd.concat(frames), 28, settings=FAST)
    slow = result.forecasts[result.forecasts["series_id"].str.startswith("I")]
    assert (slow["forecast"] >= 0).all()
    per_series = slow.groupby("series_id")["forecast"].mean()
    assert ((per_series > 0.08) & (per_series < 0.6)).all(), per_series
    segments = result.series.set_index("series_id")["segment"]
    assert (segments[[f"I{i}" for i in range(8)]] == "intermittent").all()


def test_short_zero_and_closed_series():
    dates = pd.date_range("2025-03-01", periods=200, freq="D")
    long = weekly_history(series=3, days=200)
    short = pd.DataFrame({"series_id": "NEW", "date": dates[-20:], "value": [4.0, 6.0] * 10})
    zero = pd.DataFrame({"series_id": "DEAD", "date": dates, "value": 0.0})
    history = pd.concat([long, short, zero], ignore_index=True)
    history["open"] = 1.0
    last = long["date"].max()
    future = pd.DataFrame(
        {"series_id": "W00", "date": [last + pd.Timedelta(days=2)], "open": [0.0]}
    )
    result = forecast_with_details(history, 7, future=future, settings=FAST)
    forecasts = result.forecasts.set_index(["series_id", "date"])["forecast"]
    series = result.series.set_index("series_id")
    assert series.loc["NEW", "segment"] == "short"
    assert series.loc["NEW", "model"] == "history_mean"
    assert np.allclose(forecasts.loc["NEW"].to_numpy(), 5.0)
    assert series.loc["NEW", "error_rmse"] > 0
    assert series.loc["DEAD", "model"] == "zero"
    assert (forecasts.loc["DEAD"] == 0).all()
    assert forecasts.loc[("W00", last + pd.Timedelta(days=2))] == 0.0
    assert forecasts.loc[("W00", last + pd.Timedelta(days=3))] > 0


def test_gaps_are_zero_sales_or_closed_days():
    history = pd.DataFrame(
        {
            "series_id": "A",
            "date": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-05"]),
            "value": [3.0, 4.0, 5.0],
        }
    )
    panel = prepare(history, 3)
    assert panel.frame["y"].tolist() == [3.0, 4.0, 0.0, 0.0, 5.0]
    assert panel.frame["open"].tolist() == [1.0] * 5
    closed = prepare(history, 3, missing_days="closed")
    assert closed.frame["open"].tolist() == [1.0, 1.0, 0.0, 0.0, 1.0]
    assert len(closed.future) == 3
    assert closed.future["ds"].min() == pd.Timestamp("2025-01-06")


def test_forecasts_are_deterministic():
    history = weekly_history(series=4, days=150)
    first = forecast(history, 7, settings=FAST)
    second = forecast(history, 7, settings=FAST)
    pd.testing.assert_frame_equal(first, second)


def test_cold_start_averages_similar_series(weekly_result):
    _history, result = weekly_result
    started = cold_start(result.forecasts, ["W00", "W01"], "NEW", scale=0.5)
    both = result.forecasts[result.forecasts["series_id"].isin(["W00", "W01"])]
    expected = both.groupby("date")["forecast"].mean().to_numpy() * 0.5
    assert started["series_id"].unique().tolist() == ["NEW"]
    assert np.allclose(started["forecast"].to_numpy(), expected)


def test_metrics_golden_numbers():
    actual = np.array([2.0, 0.0, 4.0])
    predicted = np.array([1.0, 1.0, 5.0])
    history = np.array([1, 2, 3, 4, 5, 6, 7, 3, 2, 3, 4, 5, 6, 9], dtype=float)
    # Naive scale: |3-1| + |9-7| over 7 pairs = 4/7; MAE = 1.
    assert metrics.mase(actual, predicted, history) == pytest.approx(1.75)
    assert metrics.wape(actual, predicted) == pytest.approx(0.5)
    assert metrics.bias(actual, predicted) == pytest.approx(1 / 6)
    expected_rmsle = math.sqrt((math.log(2 / 3) ** 2 + math.log(2) ** 2 + math.log(6 / 5) ** 2) / 3)
    assert metrics.rmsle(actual, predicted) == pytest.approx(expected_rmsle)
    assert expected_rmsle == pytest.approx(0.475428, abs=1e-6)

    scored = pd.DataFrame(
        {
            "unique_id": [0, 0, 0, 1, 1],
            "y": [2.0, 0.0, 4.0, 10.0, 10.0],
            "open": 1.0,
            "f": [1.0, 1.0, 5.0, 8.0, 11.0],
        }
    )
    per_series = metrics.score_series(scored, pd.Series({0: 4 / 7, 1: 2.0}), "f")
    assert per_series.loc[0, "mase"] == pytest.approx(1.75)
    assert per_series.loc[1, "mase"] == pytest.approx(0.75)
    assert per_series.loc[1, "wape"] == pytest.approx(0.15)
    assert per_series.loc[1, "bias"] == pytest.approx(-0.05)
    summary = metrics.overall(per_series)
    assert summary["mase"] == pytest.approx(1.25)
    assert summary["wape"] == pytest.approx(6 / 26)
    assert summary["bias"] == pytest.approx(0.0)


def _scored_twice(rng: np.random.Generator, series: int, noise_ours: float, noise_theirs: float):
    days = 28
    unique_id = np.repeat(np.arange(series), days)
    level = np.repeat(rng.uniform(5, 80, series), days)
    y = rng.poisson(level).astype(float)
    frame = pd.DataFrame(
        {
            "unique_id": unique_id,
            "y": y,
            "open": 1.0,
            "ours": np.maximum(y + rng.normal(0, noise_ours, y.size) * np.sqrt(level), 0),
            "theirs": np.maximum(y + rng.normal(0, noise_theirs, y.size) * np.sqrt(level), 0),
        }
    )
    scale = pd.Series(np.sqrt(rng.uniform(5, 80, series)), index=np.arange(series))
    return metrics.score_series(frame, scale, "ours"), metrics.score_series(frame, scale, "theirs")


def test_paired_bootstrap_tells_a_clear_win_from_noise():
    rng = np.random.default_rng(7)
    ours, theirs = _scored_twice(rng, 200, noise_ours=0.8, noise_theirs=1.0)
    clear = metrics.paired_bootstrap(ours, theirs, resamples=500)
    for name in ("mase", "wape", "rmsle"):
        row = clear.loc[name]
        assert row["low"] <= row["median"] <= row["high"] < 0
        assert row["draws_better"] == 1.0
        assert row["series_better"] > 0.8
        whole = metrics.overall(ours)[name] / metrics.overall(theirs)[name] - 1
        assert row["change"] == pytest.approx(whole)

    # The same method against itself: no change in any draw, no series better.
    same = metrics.paired_bootstrap(ours, ours, resamples=200)
    assert (same[["change", "low", "high", "draws_better", "series_better"]] == 0).all().all()

    # Two methods of equal skill: the interval straddles zero.
    ours, theirs = _scored_twice(rng, 200, noise_ours=1.0, noise_theirs=1.0)
    tie = metrics.paired_bootstrap(ours, theirs, resamples=500, seed=3)
    assert (tie["low"] < 0).all() and (tie["high"] > 0).all()
    assert tie["series_better"].between(0.35, 0.65).all()


def test_invalid_input_lists_every_problem():
    table = pd.DataFrame(
        {
            "series_id": ["A", "A", "A", "", "A"],
            "date": ["2025-01-01", "2025-02-30", "2025-01-03", "2025-01-04", "2025-01-01"],
            "value": ["1", "2", "lots", "3", "-1"],
            "promo": ["0", "0", "0", "maybe", "0"],
        }
    )
    with pytest.raises(ForecastInputInvalid) as caught:
        prepare(table, 7, first_line=2)
    errors = caught.value.errors
    assert caught.value.code == "forecast_input_invalid"
    assert errors["date"] == ["not a date (YYYY-MM-DD) on line 3"]
    assert errors["value"] == ["not a number on line 4", "negative on line 6"]
    assert errors["series_id"] == ["empty on line 5"]
    assert errors["promo"] == ["not a number on line 5"]
    assert errors["series_id,date"] == ["duplicate (series_id, date): A 2025-01-01 (line 2, 6)"]
    with pytest.raises(ForecastInputInvalid) as caught:
        prepare(table[["series_id", "date"]], 7)
    assert caught.value.errors == {
        "columns": ["missing column(s): value; the columns are series_id, date, value"]
    }
    with pytest.raises(ForecastInputInvalid):
        prepare(weekly_history(series=1, days=30), 0)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_cli_forecast_run_end_to_end(tmp_path):
    history = weekly_history(series=3, days=120)
    history["promo"] = 0.0
    last = history["date"].max()
    ahead = pd.DataFrame(
        {
            "series_id": ["W00", "W01"],
            "date": [last + pd.Timedelta(days=1), last + pd.Timedelta(days=2)],
            "value": [np.nan, np.nan],
            "promo": [1.0, 0.0],
        }
    )
    source = tmp_path / "history.csv"
    pd.concat([history, ahead]).to_csv(source, index=False, date_format="%Y-%m-%d")
    out = tmp_path / "forecast.csv"
    details = tmp_path / "details.csv"
    call_command(
        "forecast",
        "run",
        "--history",
        str(source),
        "--horizon",
        "5",
        "--out",
        str(out),
        "--details",
        str(details),
        "--threads",
        "1",
        "--selection-windows",
        "1",
    )
    written = pd.read_csv(out)
    assert list(written.columns) == ["series_id", "date", "forecast"]
    assert len(written) == 15
    assert written["date"].min() == (last + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    assert (written["forecast"] >= 0).all()
    assert set(pd.read_csv(details)["series_id"]) == {"W00", "W01", "W02"}


def test_cli_rejects_bad_input_and_writes_nothing(tmp_path, capsys):
    source = _write(
        tmp_path / "bad.csv",
        "series_id,date,value,promo\n"
        "A,2025-01-01,3,0\n"
        "A,2025-01-02,three,0\n"
        "A,01/03/2025,2,0\n"
        "A,2025-01-04,2,yes\n"
        "A,2025-01-04,5,0\n",
    )
    out = tmp_path / "forecast.csv"
    with pytest.raises(CommandError) as caught:
        call_command(
            "forecast", "run", "--history", str(source), "--horizon", "7", "--out", str(out)
        )
    assert caught.value.returncode == 2
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [source]
    err = capsys.readouterr().err
    assert "value: not a number on line 3" in err
    assert "date: not a date (YYYY-MM-DD) on line 4" in err
    assert "promo: not a number on line 5" in err
    assert "series_id,date: duplicate (series_id, date): A 2025-01-04 (line 5, 6)" in err

    missing = _write(tmp_path / "missing.csv", "store,date,value\nA,2025-01-01,1\n")
    with pytest.raises(CommandError) as caught:
        call_command(
            "forecast", "run", "--history", str(missing), "--horizon", "7", "--out", str(out)
        )
    assert caught.value.returncode == 2
    assert "missing column(s): series_id" in capsys.readouterr().err
    assert not out.exists()
