"""Score `backroom forecast run` on the Recruit restaurant visitors against two baselines.

    DEBUG=1 .venv/bin/python bench/forecast_recruit.py \
        --data ../shared/datasets/recruit-restaurant-visitors [--threads 2]

Data: air_visit_data.csv (daily visitors of 829 restaurants; closed days are absent) and
date_info.csv (the Japanese holiday calendar). It is read where it lies and never copied into
the repository; the tests do not need it.

Holdout: the last 39 days (2017-03-15 … 2017-04-22). The forecaster sees only the days before,
through its CLI, as a CSV: series_id = store, value = visitors, `holiday` for every day of the
history and the horizon, `open` = 0 on the history's last day where the store had no visits (so
that every store's horizon starts on the same day) and, in the horizon, `open` = 1 on the days
the store opened (closures are known in advance; closed days are not scored, for any method),
`--missing-days closed` (an absent day is a closed day).

Baselines, from the same history:
- seasonal naive (weekly): the store's visitors on the same weekday in its last open week;
- weekday median: the median of the store's visitors on the same weekday over the last 8 weeks
  (the median of all its last 8 weeks' days where a weekday has none, else its overall median).
Metrics (backroom.planning.forecasting.metrics) over every store × open day of the holdout:
RMSLE and WAPE pooled, MASE the mean over stores (scale: the store's in-sample weekly naive).
How sure the gain is: a paired bootstrap over stores (metrics.paired_bootstrap), with the share of
stores each method wins.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backroom.config.settings")

HOLDOUT_DAYS = 39


def _baselines(history: pd.DataFrame, horizon: pd.DataFrame) -> pd.DataFrame:
    last_day = history["date"].max()
    history = history.assign(weekday=history["date"].dt.dayofweek)
    horizon = horizon.assign(weekday=horizon["date"].dt.dayofweek)
    latest = history.sort_values("date").groupby(["series_id", "weekday"])["value"].last()
    recent = history[history["date"] > last_day - pd.Timedelta(days=56)]
    weekday_median = recent.groupby(["series_id", "weekday"])["value"].median()
    recent_median = recent.groupby("series_id")["value"].median()
    overall_median = history.groupby("series_id")["value"].median()
    keys = pd.MultiIndex.from_frame(horizon[["series_id", "weekday"]])
    fallback = (
        horizon["series_id"].map(recent_median).fillna(horizon["series_id"].map(overall_median))
    )
    horizon["seasonal_naive"] = latest.reindex(keys).to_numpy()
    horizon["seasonal_naive"] = horizon["seasonal_naive"].fillna(fallback)
    horizon["weekday_median"] = weekday_median.reindex(keys).to_numpy()
    horizon["weekday_median"] = horizon["weekday_median"].fillna(fallback)
    return horizon


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=str(ROOT.parent / "shared/datasets/recruit-restaurant-visitors")
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", help="keep the CLI's input and output CSVs in this folder")
    parser.add_argument(
        "--resamples", type=int, default=2000, help="draws of stores for the paired bootstrap"
    )
    parser.add_argument(
        "--heavy",
        type=int,
        default=0,
        metavar="N",
        help="also fit statsforecast's AutoETS (weekly season) on N stores drawn at random and "
        "score every method on them",
    )
    args = parser.parse_args()

    import django

    django.setup()
    from backroom.planning.forecasting import metrics

    data = Path(args.data)
    visits = pd.read_csv(data / "air_visit_data.csv", parse_dates=["visit_date"])
    visits = visits.rename(
        columns={"air_store_id": "series_id", "visit_date": "date", "visitors": "value"}
    )
    calendar = pd.read_csv(data / "date_info.csv", parse_dates=["calendar_date"])
    holiday = calendar.set_index("calendar_date")["holiday_flg"]

    end = visits["date"].max()
    start = end - pd.Timedelta(days=HOLDOUT_DAYS - 1)
    history = visits[visits["date"] < start].copy()
    actual = visits[visits["date"] >= start]
    actual = actual[actual["series_id"].isin(history["series_id"].unique())]
    last_day = start - pd.Timedelta(days=1)

    history["holiday"] = history["date"].map(holiday).astype(int)
    history["open"] = 1
    stores = np.sort(history["series_id"].unique())
    closed_last = sorted(set(stores) - set(history.loc[history["date"] == last_day, "series_id"]))
    padding = pd.DataFrame(
        {
            "series_id": closed_last,
            "date": last_day,
            "value": 0,
            "holiday": int(holiday[last_day]),
            "open": 0,
        }
    )
    days = pd.date_range(start, end, freq="D")
    horizon = pd.DataFrame(
        {"series_id": np.repeat(stores, len(days)), "date": np.tile(days, len(stores))}
    )
    opened = set(zip(actual["series_id"], actual["date"], strict=True))
    horizon["holiday"] = horizon["date"].map(holiday).astype(int)
    horizon["open"] = [
        int((s, d) in opened) for s, d in zip(horizon["series_id"], horizon["date"], strict=True)
    ]
    horizon["value"] = np.nan
    table = pd.concat([history, padding, horizon], ignore_index=True)[
        ["series_id", "date", "value", "holiday", "open"]
    ]

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="recruit-"))
    folder.mkdir(parents=True, exist_ok=True)
    source, out, details = folder / "history.csv", folder / "forecast.csv", folder / "details.csv"
    table.to_csv(source, index=False, date_format="%Y-%m-%d", float_format="%.0f")
    command = [
        str(ROOT / ".venv/bin/backroom"),
        "forecast",
        "run",
        "--history",
        str(source),
        "--horizon",
        str(HOLDOUT_DAYS),
        "--out",
        str(out),
        "--details",
        str(details),
        "--missing-days",
        "closed",
        "--threads",
        str(args.threads),
    ]
    print("$", " ".join(command))
    started = time.perf_counter()
    subprocess.run(command, check=True)
    elapsed = time.perf_counter() - started

    ours = pd.read_csv(out, parse_dates=["date"])
    scored = actual.merge(ours, on=["series_id", "date"], how="left")
    assert scored["forecast"].notna().all(), "a held-out day has no forecast"
    scored = _baselines(history, scored)

    codes = {store: code for code, store in enumerate(stores)}
    full = []
    for store, rows in history.groupby("series_id"):
        dates = pd.date_range(rows["date"].min(), rows["date"].max(), freq="D")
        values = rows.set_index("date")["value"].reindex(dates)
        full.append(
            pd.DataFrame(
                {
                    "unique_id": codes[store],
                    "ds": dates,
                    "y": values.fillna(0).to_numpy(),
                    "open": values.notna().astype(float).to_numpy(),
                }
            )
        )
    scale = metrics.naive_scale(pd.concat(full, ignore_index=True))
    frame = pd.DataFrame(
        {
            "unique_id": scored["series_id"].map(codes),
            "y": scored["value"].astype(float),
            "open": 1.0,
            "forecaster": scored["forecast"],
            "seasonal_naive": scored["seasonal_naive"],
            "weekday_median": scored["weekday_median"],
        }
    )
    print(
        f"\n{len(stores)} stores, {len(history):,} history rows, {len(frame):,} held-out store-days; "
        f"`forecast run` took {elapsed:.1f} s (whole process)"
    )
    table, per_store = _scores(frame, scale, ("forecaster", "seasonal_naive", "weekday_median"))
    for baseline in ("seasonal_naive", "weekday_median"):
        change = table.loc["forecaster"] / table.loc[baseline] - 1
        print(
            f"forecaster vs {baseline}: "
            + ", ".join(f"{name} {change[name]:+.1%}" for name in ("rmsle", "mase", "wape"))
        )
    # How sure: the stores drawn with replacement, both methods scored on the same draw.
    print(f"\npaired bootstrap over stores ({args.resamples:,} draws): forecaster ÷ baseline − 1")
    for baseline in ("seasonal_naive", "weekday_median"):
        _print_sure(per_store, baseline, args.resamples)
    picks = pd.read_csv(details)["model"].value_counts()
    print("models picked:", picks.to_dict())
    if args.heavy:
        _score_heavy(args, history, scored, frame, scale, codes, last_day)


def _auto_ets(history: pd.DataFrame, stores: np.ndarray, last_day, threads: int) -> pd.DataFrame:
    """AutoETS per store on its daily visitors up to `last_day`, closed days filled with the
    store's median of that weekday (ETS needs every day), forecast over the holdout."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    frames = []
    for store in stores:
        rows = history[history["series_id"] == store].set_index("date")["value"]
        days = pd.date_range(rows.index.min(), last_day, freq="D")
        values = rows.reindex(days).astype(float)
        weekday = values.groupby(days.dayofweek).transform("median")
        values = values.fillna(weekday).fillna(float(rows.median()))
        frames.append(pd.DataFrame({"unique_id": store, "ds": days, "y": values.to_numpy()}))
    model = StatsForecast(models=[AutoETS(season_length=7)], freq="D", n_jobs=threads)
    out = model.forecast(df=pd.concat(frames, ignore_index=True), h=HOLDOUT_DAYS)
    return out.rename(columns={"unique_id": "series_id", "ds": "date", "AutoETS": "auto_ets"})


def _score_heavy(args, history, scored, frame, scale, codes, last_day) -> None:
    """The issue's question: do per-series heavy models (about 3 series/s on 2 cores) pay?"""
    rng = np.random.default_rng(0)
    stores = np.sort(scored["series_id"].unique())
    sample = np.sort(rng.choice(stores, size=min(args.heavy, len(stores)), replace=False))
    started = time.perf_counter()
    ets = _auto_ets(history, sample, last_day, args.threads)
    elapsed = time.perf_counter() - started
    ets["date"] = pd.to_datetime(ets["date"])
    # A left merge keeps `scored`'s rows in order, as `frame` has them.
    aligned = scored[["series_id", "date"]].merge(ets, on=["series_id", "date"], how="left")
    chosen = frame.assign(auto_ets=aligned["auto_ets"].to_numpy())
    chosen = chosen[chosen["unique_id"].isin([codes[store] for store in sample])]
    assert chosen["auto_ets"].notna().all(), "AutoETS left a held-out day without a forecast"
    print(
        f"\nAutoETS on {len(sample)} stores drawn at random: {elapsed:.1f} s "
        f"({len(sample) / elapsed:.1f} series/s, {args.threads} threads); every method on the "
        f"same {len(chosen):,} store-days:"
    )
    _table, per_store = _scores(
        chosen, scale, ("forecaster", "auto_ets", "weekday_median", "seasonal_naive")
    )
    _print_sure(per_store, "auto_ets", args.resamples)


def _scores(frame: pd.DataFrame, scale, methods) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Each method's per-store scores and the overall table (printed)."""
    from backroom.planning.forecasting import metrics

    per_store = {method: metrics.score_series(frame, scale, method) for method in methods}
    rows = []
    for method in methods:
        result = metrics.overall(per_store[method])
        rows.append({"method": method, **{k: result[k] for k in ("rmsle", "mase", "wape", "bias")}})
    table = pd.DataFrame(rows).set_index("method")
    print(table.to_string(float_format=lambda x: f"{x:.4f}"))
    return table, per_store


def _print_sure(per_store: dict[str, pd.DataFrame], baseline: str, resamples: int) -> None:
    """The forecaster against `baseline`: the paired bootstrap over stores, a line per metric."""
    from backroom.planning.forecasting import metrics

    sure = metrics.paired_bootstrap(
        per_store["forecaster"], per_store[baseline], resamples=resamples
    )
    for name in ("rmsle", "mase", "wape"):
        row = sure.loc[name]
        print(
            f"  vs {baseline:<15} {name:<6} {row['change']:+.1%}  95 % interval "
            f"[{row['low']:+.1%}, {row['high']:+.1%}]  better in {row['draws_better']:.1%} "
            f"of draws; better on {row['series_better']:.0%} of the stores"
        )


if __name__ == "__main__":
    main()
