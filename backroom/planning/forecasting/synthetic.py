"""Synthetic daily sales for tests, benchmarks and demos: store × item series with a weekly
pattern, a yearly swing, promotions (known in advance) and a mix of fast and slow movers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backroom.planning.forecasting.columns import ID, TIME, VALUE

WEEKLY = np.array([0.8, 0.75, 0.85, 0.95, 1.2, 1.45, 1.0])  # Monday … Sunday


def daily_sales(
    series: int,
    days: int,
    *,
    start: str = "2024-01-01",
    horizon: int = 0,
    seed: int = 0,
    promo_rate: float = 0.04,
    promo_lift: float = 1.6,
    slow_share: float = 0.3,
) -> pd.DataFrame:
    """series_id, date, value, promo for `days` days, plus `horizon` future rows with promo only.

    Fast movers sell Poisson counts around a level of 5–80 a day; slow movers (`slow_share`)
    around 0.1–0.6 a day. Each series has its own weekly shape (a random mix of WEEKLY and flat)
    and a yearly swing of up to ±20 %. Promotions last 3–7 days and lift demand by `promo_lift`.
    """
    rng = np.random.default_rng(seed)
    total = days + horizon
    dates = pd.date_range(start, periods=total, freq="D")
    weekday = dates.dayofweek.to_numpy()
    year_phase = 2 * np.pi * dates.dayofyear.to_numpy() / 365.25
    slow = rng.random(series) < slow_share
    level = np.where(slow, rng.uniform(0.1, 0.6, series), rng.uniform(5, 80, series))
    mix = rng.uniform(0.3, 1.0, series)
    amplitude = rng.uniform(0, 0.2, series)
    phase = rng.uniform(0, 2 * np.pi, series)
    weekly = mix[:, None] * WEEKLY[weekday][None, :] + (1 - mix[:, None])
    yearly = 1 + amplitude[:, None] * np.sin(year_phase[None, :] + phase[:, None])
    starts = rng.random((series, total)) < promo_rate / 5
    promo = np.zeros((series, total), dtype=np.float32)
    for length in range(5):
        promo[:, length:] = np.maximum(promo[:, length:], starts[:, : total - length])
    mean = level[:, None] * weekly * yearly * np.where(promo > 0, promo_lift, 1.0)
    values = rng.poisson(mean).astype(np.float32)
    frame = pd.DataFrame(
        {
            ID: pd.Categorical.from_codes(
                np.repeat(np.arange(series, dtype=np.int32), total),
                categories=[f"S{i:06d}" for i in range(series)],
            ),
            TIME: np.tile(dates.to_numpy(), series),
            VALUE: values.ravel(),
            "promo": promo.ravel(),
        }
    )
    if horizon:
        future = np.tile(np.arange(total) >= days, series)
        frame.loc[future, VALUE] = np.nan
    return frame
