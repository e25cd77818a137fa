"""Validating a daily history and laying it out as a complete daily panel.

The panel is what every model reads: one row per series and day from the series' first to its
last observed value (gaps filled), integer series codes, float32 values, the `open` flag and the
known-in-advance features; plus a table of the same features for the forecast horizon.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from django.utils.translation import gettext as _

from backroom.planning.forecasting.columns import ID, TIME, VALUE
from backroom.planning.forecasting.exceptions import ForecastInputInvalid

OPEN = "open"
REQUIRED_COLUMNS = (ID, TIME, VALUE)
MAX_LISTED = 10
MAX_HORIZON = 366

MissingDays = Literal["zero", "closed"]


@dataclass(frozen=True)
class Panel:
    """A complete daily panel (no gaps) and the horizon's features.

    `frame`: unique_id (int32 code), ds, y (float32, 0 on closed days), y_filled (y with closed
    days replaced by the same weekday of an earlier open week, for models that read past values),
    open (0/1), day (0-based day number within the series) and the feature columns (float32).
    `future`: unique_id, ds, open and the feature columns for `horizon` days after each series'
    last observed day. `series_ids[code]` is the caller's series id.
    """

    frame: pd.DataFrame
    future: pd.DataFrame
    series_ids: np.ndarray
    features: tuple[str, ...]
    horizon: int


def _where(index: Iterable[int], *, first_line: int | None) -> str:
    positions = list(index)
    label = _("line") if first_line is not None else _("row")
    shown = ", ".join(
        str(position + first_line if first_line is not None else position)
        for position in positions[:MAX_LISTED]
    )
    more = len(positions) - MAX_LISTED
    text = f"{label} {shown}"
    if more > 0:
        text += " " + _("(and %(count)d more)") % {"count": more}
    return text


def _number_column(
    table: pd.DataFrame,
    column: str,
    problems: dict[str, list[str]],
    *,
    first_line: int | None,
    allow_blank: bool,
) -> pd.Series:
    raw = table[column]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        numbers = raw.astype("float64")
        blank = numbers.isna()
    else:
        text = raw.astype("string").str.strip()
        blank = text.isna() | (text == "")
        numbers = pd.to_numeric(text.where(~blank, None), errors="coerce").astype("float64")
    bad = numbers.isna() & ~blank
    bad |= ~np.isfinite(numbers.fillna(0.0))
    if bad.any():
        problems.setdefault(column, []).append(
            _("not a number on %(where)s")
            % {"where": _where(table.index[bad], first_line=first_line)}
        )
    if not allow_blank and (blank & ~bad).any():
        problems.setdefault(column, []).append(
            _("empty on %(where)s") % {"where": _where(table.index[blank], first_line=first_line)}
        )
    return numbers.where(~bad)


def parse_table(
    table: pd.DataFrame, *, first_line: int | None = None, future: bool = False
) -> pd.DataFrame:
    """Check a history (or future) table and return it typed, or raise ForecastInputInvalid.

    Every problem is reported at once: missing columns, empty series ids, dates that are not
    YYYY-MM-DD, values or features that are not numbers, negative values, duplicate
    (series_id, date) pairs. `first_line` turns row positions into file line numbers. A history
    row may leave `value` empty (a day with features only); a future table has no `value`.
    """
    problems: dict[str, list[str]] = {}
    table = table.reset_index(drop=True)
    required = (ID, TIME) if future else REQUIRED_COLUMNS
    missing = [column for column in required if column not in table.columns]
    if missing:
        problems["columns"] = [
            _("missing column(s): %(columns)s; the columns are %(expected)s")
            % {"columns": ", ".join(missing), "expected": ", ".join(REQUIRED_COLUMNS)}
        ]
        raise ForecastInputInvalid(problems)
    unnamed = [str(column) for column in table.columns if not str(column).strip()]
    if unnamed:
        problems["columns"] = [_("a column has no name")]
    duplicated_columns = sorted({str(c) for c in table.columns[table.columns.duplicated()]})
    if duplicated_columns:
        problems.setdefault("columns", []).append(
            _("duplicate column(s): %(columns)s") % {"columns": ", ".join(duplicated_columns)}
        )
    if problems:
        raise ForecastInputInvalid(problems)

    raw_ids = table[ID]
    if isinstance(raw_ids.dtype, pd.CategoricalDtype):
        # Large in-memory tables (the nightly job, benchmarks): check the categories only.
        ids = raw_ids.cat.rename_categories(raw_ids.cat.categories.astype(str).str.strip())
        empty_id = (
            ids.isna() | (ids.astype(object) == "") if "" in ids.cat.categories else ids.isna()
        )
    else:
        ids = raw_ids.astype("string").str.strip()
        empty_id = ids.isna() | (ids == "")
    if empty_id.any():
        problems.setdefault(ID, []).append(
            _("empty on %(where)s")
            % {"where": _where(table.index[empty_id], first_line=first_line)}
        )

    raw_dates = table[TIME]
    if pd.api.types.is_datetime64_any_dtype(raw_dates):
        dates = pd.to_datetime(raw_dates).dt.tz_localize(None).dt.normalize()
        bad_date = dates.isna()
    else:
        text = raw_dates.astype("string").str.strip()
        dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        bad_date = dates.isna()
    if bad_date.any():
        problems.setdefault(TIME, []).append(
            _("not a date (YYYY-MM-DD) on %(where)s")
            % {"where": _where(table.index[bad_date], first_line=first_line)}
        )

    typed = pd.DataFrame({ID: ids, TIME: dates})
    if not future:
        values = _number_column(table, VALUE, problems, first_line=first_line, allow_blank=True)
        negative = values < 0
        if negative.any():
            problems.setdefault(VALUE, []).append(
                _("negative on %(where)s")
                % {"where": _where(table.index[negative], first_line=first_line)}
            )
        typed[VALUE] = values
    for column in table.columns:
        if column in REQUIRED_COLUMNS:
            continue
        typed[str(column)] = _number_column(
            table, column, problems, first_line=first_line, allow_blank=True
        )

    keyed = typed[~empty_id & ~bad_date]
    duplicated = keyed.duplicated([ID, TIME], keep=False)
    if duplicated.any():
        pairs = keyed[duplicated].groupby([ID, TIME], sort=True).groups
        described = []
        for (series_id, date), rows in list(pairs.items())[:MAX_LISTED]:
            described.append(f"{series_id} {date:%Y-%m-%d} ({_where(rows, first_line=first_line)})")
        more = len(pairs) - MAX_LISTED
        text = "; ".join(described)
        if more > 0:
            text += " " + _("(and %(count)d more)") % {"count": more}
        problems.setdefault(f"{ID},{TIME}", []).append(
            _("duplicate (series_id, date): %(pairs)s") % {"pairs": text}
        )
    if problems:
        raise ForecastInputInvalid(problems)
    return typed


def check_horizon(horizon: int) -> None:
    """A horizon is 1 to 366 days."""
    if not 1 <= horizon <= MAX_HORIZON:
        raise ForecastInputInvalid(
            {"horizon": [_("must be between 1 and %(max)d days") % {"max": MAX_HORIZON}]}
        )


def split_future(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a typed table into history and the rows after each series' last value (the future)."""
    observed = table[VALUE].notna()
    last = table[observed].groupby(ID, sort=False, observed=True)[TIME].max()
    last_of_row = table[ID].map(last)
    is_future = ~observed & (last_of_row.isna() | (table[TIME] > last_of_row))
    future = table[is_future].drop(columns=[VALUE])
    return table[~is_future], future


def build_panel(
    history: pd.DataFrame,
    future: pd.DataFrame | None,
    horizon: int,
    *,
    missing_days: MissingDays = "zero",
) -> Panel:
    """Lay out a typed history (see parse_table) as a complete daily panel.

    A day with no row (or with an empty value) counts as 0 sales on an open day when
    `missing_days` is "zero", as a closed day when it is "closed". The `open` column (0/1), when
    given, decides for the rows that have it. Future features that are not given default to 0,
    and `open` to 1.
    """
    features = tuple(c for c in history.columns if c not in (ID, TIME, VALUE, OPEN))
    if future is not None:
        unknown = [c for c in future.columns if c not in (ID, TIME, OPEN, *features)]
        if unknown:
            raise ForecastInputInvalid(
                {
                    "columns": [
                        _("future column(s) not in the history: %(columns)s")
                        % {"columns": ", ".join(unknown)}
                    ]
                }
            )
    observed = history[history[VALUE].notna()]
    if observed.empty:
        raise ForecastInputInvalid({VALUE: [_("the history has no values")]})
    codes, series_ids = pd.factorize(observed[ID], sort=True)
    code_of = pd.Series(np.arange(len(series_ids), dtype=np.int64), index=series_ids)
    first = observed[TIME].groupby(codes).min().to_numpy()
    last = observed[TIME].groupby(codes).max().to_numpy()
    lengths = ((last - first) // np.timedelta64(1, "D")).astype(np.int64) + 1
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    total = int(lengths.sum())
    series = np.repeat(np.arange(len(series_ids), dtype=np.int32), lengths)
    day = np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)
    dates = np.repeat(first, lengths) + day.astype("timedelta64[D]")

    row_codes = history[ID].map(code_of)
    known = row_codes.notna().to_numpy()
    rows = history[known]
    row_code = row_codes[known].to_numpy(np.int64)
    offset = ((rows[TIME].to_numpy() - first[row_code]) // np.timedelta64(1, "D")).astype(np.int64)
    inside = (offset >= 0) & (offset < lengths[row_code])
    position = starts[row_code[inside]] + offset[inside]
    rows = rows[inside]

    value = np.zeros(total, dtype=np.float32)
    row_values = rows[VALUE].to_numpy(np.float64)
    has_value = ~np.isnan(row_values)
    value[position[has_value]] = row_values[has_value]
    is_open = np.full(total, 1.0 if missing_days == "zero" else 0.0, dtype=np.float32)
    if missing_days == "closed":
        is_open[position[has_value]] = 1.0
    if OPEN in rows.columns:
        given = rows[OPEN].to_numpy(np.float64)
        has_open = ~np.isnan(given)
        is_open[position[has_open]] = (given[has_open] > 0).astype(np.float32)
    frame = pd.DataFrame({"unique_id": series, "ds": dates, "y": value, OPEN: is_open})
    frame["day"] = day.astype(np.int32)
    for feature in features:
        column = np.zeros(total, dtype=np.float32)
        given = rows[feature].to_numpy(np.float64)
        has_feature = ~np.isnan(given)
        column[position[has_feature]] = given[has_feature]
        frame[feature] = column
    frame.loc[frame[OPEN] == 0, "y"] = 0.0
    frame["y_filled"] = _fill_closed_days(frame)

    future_series = np.repeat(np.arange(len(series_ids), dtype=np.int32), horizon)
    step = np.tile(np.arange(1, horizon + 1, dtype=np.int64), len(series_ids))
    future_dates = np.repeat(last, horizon) + step.astype("timedelta64[D]")
    future_frame = pd.DataFrame(
        {"unique_id": future_series, "ds": future_dates, OPEN: np.float32(1.0)}
    )
    for feature in features:
        future_frame[feature] = np.float32(0.0)
    if future is not None and not future.empty:
        future_codes = future[ID].map(code_of)
        ahead = future[future_codes.notna().to_numpy()]
        ahead_code = future_codes.dropna().to_numpy(np.int64)
        step_of = ((ahead[TIME].to_numpy() - last[ahead_code]) // np.timedelta64(1, "D")).astype(
            np.int64
        )
        within = (step_of >= 1) & (step_of <= horizon)
        future_position = ahead_code[within] * horizon + step_of[within] - 1
        ahead = ahead[within]
        for column in (OPEN, *features):
            if column not in ahead.columns:
                continue
            given = ahead[column].to_numpy(np.float64)
            has = ~np.isnan(given)
            target = future_frame[column].to_numpy(copy=True)
            values = given[has] if column != OPEN else (given[has] > 0)
            target[future_position[has]] = values
            future_frame[column] = target.astype(np.float32)
    return Panel(
        frame=frame,
        future=future_frame,
        series_ids=np.asarray(series_ids, dtype=object),
        features=features,
        horizon=horizon,
    )


def _fill_closed_days(frame: pd.DataFrame) -> np.ndarray:
    """y with each closed day replaced by the same weekday of the nearest earlier open week
    (or, before the first open one, the series' mean of open days)."""
    filled = frame["y"].to_numpy(np.float32, copy=True)
    is_known = frame[OPEN].to_numpy() > 0
    if is_known.all():
        return filled
    day = frame["day"].to_numpy()
    for _round in range(60):
        need = np.flatnonzero(~is_known & (day >= 7))
        if need.size == 0:
            break
        source = need - 7
        usable = is_known[source]
        if not usable.any():
            break
        filled[need[usable]] = filled[source[usable]]
        is_known[need[usable]] = True
    if not is_known.all():
        open_mean = (
            pd.Series(np.where(frame[OPEN] > 0, frame["y"], np.nan))
            .groupby(frame["unique_id"].to_numpy())
            .transform("mean")
            .fillna(0.0)
            .to_numpy(np.float32)
        )
        filled[~is_known] = open_mean[~is_known]
    return filled


def truncate(panel: Panel, days_before_end: int) -> tuple[Panel, pd.DataFrame]:
    """The panel as it was `days_before_end` days before each series' end, and the actuals of the
    `panel.horizon` days after that cut-off (for a rolling-origin backtest)."""
    frame = panel.frame
    length = frame.groupby("unique_id", sort=False)["day"].transform("max").to_numpy() + 1
    cut = length - days_before_end
    day = frame["day"].to_numpy()
    keep = day < cut
    after = (day >= cut) & (day < cut + panel.horizon)
    actual = frame[after]
    remaining = frame[keep].groupby("unique_id", sort=False).size()
    keep_series = remaining[remaining >= 1].index
    history = frame[keep & frame["unique_id"].isin(keep_series).to_numpy()]
    actual = actual[actual["unique_id"].isin(keep_series)]
    future = actual[["unique_id", "ds", OPEN, *panel.features]]
    truncated = Panel(
        frame=history.reset_index(drop=True),
        future=_complete_future(future, history, panel),
        series_ids=panel.series_ids,
        features=panel.features,
        horizon=panel.horizon,
    )
    return truncated, actual.reset_index(drop=True)


def _complete_future(future: pd.DataFrame, history: pd.DataFrame, panel: Panel) -> pd.DataFrame:
    """Every series in `history` gets exactly `horizon` future rows (missing ones: open, features 0)."""
    last = history.groupby("unique_id", sort=True)["ds"].max()
    uid = np.repeat(last.index.to_numpy(np.int32), panel.horizon)
    step = np.tile(np.arange(1, panel.horizon + 1), len(last)).astype("timedelta64[D]")
    grid = pd.DataFrame({"unique_id": uid, "ds": np.repeat(last.to_numpy(), panel.horizon) + step})
    merged = grid.merge(future, on=["unique_id", "ds"], how="left")
    merged[OPEN] = merged[OPEN].fillna(1.0).astype(np.float32)
    for feature in panel.features:
        merged[feature] = merged[feature].fillna(0.0).astype(np.float32)
    return merged
