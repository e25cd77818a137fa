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
    array = numbers.to_numpy()
    bad = pd.Series(np.isinf(array) | (np.isnan(array) & ~blank.to_numpy()), index=table.index)
    if bad.any():
        problems.setdefault(column, []).append(
            _("not a number on %(where)s")
            % {"where": _where(table.index[bad], first_line=first_line)}
        )
    if not allow_blank and (blank & ~bad).any():
        problems.setdefault(column, []).append(
            _("empty on %(where)s") % {"where": _where(table.index[blank], first_line=first_line)}
        )
    return numbers.where(~bad) if bad.any() else numbers


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
    index = table.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        table = table.reset_index(drop=True)  # positions are line numbers; a copy only if needed
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
        dates = pd.to_datetime(raw_dates)
        if dates.dt.tz is not None:
            dates = dates.dt.tz_localize(None)
        dates = dates.dt.normalize()
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

    usable = ~empty_id & ~bad_date
    keyed = typed if usable.all() else typed[usable]
    duplicated = _duplicated_keys(keyed)
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


def _series_codes(ids: pd.Series) -> np.ndarray:
    """Integer codes of series ids (a categorical's own codes: no strings materialised)."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        return ids.cat.codes.to_numpy()
    return pd.factorize(ids)[0]


def _day_numbers(dates: pd.Series) -> np.ndarray:
    return dates.to_numpy().astype("datetime64[D]").astype(np.int64)


def _duplicated_keys(keyed: pd.DataFrame) -> pd.Series:
    """Rows whose (series_id, date) occurs more than once (all of them)."""
    codes = _series_codes(keyed[ID]).astype(np.int64)
    days = _day_numbers(keyed[TIME])
    span = int(days.max() - days.min()) + 1 if len(days) else 1
    key = codes * span + (days - (days.min() if len(days) else 0))
    if len(key) < 2 or bool(np.all(key[1:] > key[:-1])):
        return pd.Series(False, index=keyed.index)  # sorted by series and date: no duplicate
    return pd.Series(pd.Series(key).duplicated(keep=False).to_numpy(), index=keyed.index)


def check_horizon(horizon: int) -> None:
    """A horizon is 1 to 366 days."""
    if not 1 <= horizon <= MAX_HORIZON:
        raise ForecastInputInvalid(
            {"horizon": [_("must be between 1 and %(max)d days") % {"max": MAX_HORIZON}]}
        )


def split_future(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a typed table into history and the rows after each series' last value (the future)."""
    observed = table[VALUE].notna().to_numpy()
    codes = _series_codes(table[ID])
    days = _day_numbers(table[TIME])
    last = pd.Series(days[observed]).groupby(codes[observed]).max()
    none = np.iinfo(np.int64).min
    last_of_row = last.reindex(np.arange(codes.max() + 1 if len(codes) else 0)).fillna(none)
    is_future = ~observed & (days > last_of_row.to_numpy(np.int64)[codes])
    future = table[is_future].drop(columns=[VALUE])
    return (table[~is_future] if is_future.any() else table), future


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
    # Arrays rather than frame copies: a 50,000-series history has tens of millions of rows.
    given_values = history[VALUE].to_numpy(np.float64)
    observed = ~np.isnan(given_values)
    if not observed.any():
        raise ForecastInputInvalid({VALUE: [_("the history has no values")]})
    raw_codes, uniques = pd.factorize(history[ID], sort=True)
    present = np.zeros(len(uniques), dtype=bool)
    present[raw_codes[observed]] = True  # series with at least one value
    remap = np.full(len(uniques), -1, dtype=np.int64)
    remap[present] = np.arange(int(present.sum()))
    codes = remap[raw_codes]
    del raw_codes
    series_ids = np.asarray(uniques, dtype=object)[present]
    code_of = pd.Series(np.arange(len(series_ids), dtype=np.int64), index=series_ids)
    days = _day_numbers(history[TIME])
    span = pd.Series(days[observed]).groupby(codes[observed]).agg(["min", "max"])
    first_day = span["min"].to_numpy(np.int64)
    lengths = span["max"].to_numpy(np.int64) - first_day + 1
    first = first_day.astype("datetime64[D]").astype("datetime64[ns]")
    last = first + (lengths - 1).astype("timedelta64[D]")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    total = int(lengths.sum())
    series = np.repeat(np.arange(len(series_ids), dtype=np.int32), lengths)
    day = np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)
    dates = np.repeat(first, lengths) + day.astype("timedelta64[D]")

    known = codes >= 0
    safe = np.where(known, codes, 0)
    days -= first_day[safe]  # now the row's day within its series
    inside = known & (days >= 0) & (days < lengths[safe])
    days += starts[safe]  # now the row's position in the panel
    position = days
    del safe

    value = np.zeros(total, dtype=np.float32)
    has_value = inside & observed
    value[position[has_value]] = given_values[has_value]
    is_open = np.full(total, 1.0 if missing_days == "zero" else 0.0, dtype=np.float32)
    if missing_days == "closed":
        is_open[position[has_value]] = 1.0
    if OPEN in history.columns:
        given = history[OPEN].to_numpy(np.float64)
        has_open = inside & ~np.isnan(given)
        is_open[position[has_open]] = (given[has_open] > 0).astype(np.float32)
    value[is_open == 0] = 0.0
    frame = pd.DataFrame({"unique_id": series, "ds": dates, "y": value, OPEN: is_open})
    frame["day"] = day.astype(np.int32)
    for feature in features:
        column = np.zeros(total, dtype=np.float32)
        given = history[feature].to_numpy(np.float64)
        has_feature = inside & ~np.isnan(given)
        column[position[has_feature]] = given[has_feature]
        frame[feature] = column
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
    `panel.horizon` days after that cut-off (for a rolling-origin backtest). A series with no day
    left before the cut-off is left out of both."""
    frame = panel.frame
    uid = frame["unique_id"].to_numpy()
    day = frame["day"].to_numpy()
    # Each series is one block of consecutive days (build_panel): its length is the block's size.
    boundary = np.flatnonzero(uid[1:] != uid[:-1]) + 1
    lengths = np.diff(np.concatenate([[0], boundary, [len(uid)]]))
    cut = np.repeat(lengths - days_before_end, lengths)
    keep = day < cut
    after = (cut >= 1) & (day >= cut) & (day < cut + panel.horizon)
    del cut
    history = frame[keep]
    history.index = pd.RangeIndex(len(history))  # no copy, unlike reset_index
    actual = frame[after]
    actual.index = pd.RangeIndex(len(actual))
    future = actual[["unique_id", "ds", OPEN, *panel.features]]
    truncated = Panel(
        frame=history,
        future=_complete_future(future, history, panel),
        series_ids=panel.series_ids,
        features=panel.features,
        horizon=panel.horizon,
    )
    return truncated, actual


def _complete_future(future: pd.DataFrame, history: pd.DataFrame, panel: Panel) -> pd.DataFrame:
    """Every series in `history` gets exactly `horizon` future rows (missing ones: open, features 0)."""
    ids = history["unique_id"].to_numpy()
    ends = np.concatenate([np.flatnonzero(ids[1:] != ids[:-1]), [len(ids) - 1]])
    ends = ends[ends >= 0]  # the last row of each series
    last = pd.Series(history["ds"].to_numpy()[ends], index=ids[ends]).sort_index()
    uid = np.repeat(last.index.to_numpy(np.int32), panel.horizon)
    step = np.tile(np.arange(1, panel.horizon + 1), len(last)).astype("timedelta64[D]")
    grid = pd.DataFrame({"unique_id": uid, "ds": np.repeat(last.to_numpy(), panel.horizon) + step})
    merged = grid.merge(future, on=["unique_id", "ds"], how="left")
    merged[OPEN] = merged[OPEN].fillna(1.0).astype(np.float32)
    for feature in panel.features:
        merged[feature] = merged[feature].fillna(0.0).astype(np.float32)
    return merged


def last_days(frame: pd.DataFrame, series: np.ndarray, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of the last `days` days of each of `series` in a panel frame, and each
    row's distance from its series' last day (0 = the last day), without copying the frame.

    A panel frame holds each series as one block of consecutive days (build_panel, truncate).
    """
    uid = frame["unique_id"].to_numpy()
    if len(uid) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    boundary = np.flatnonzero(uid[1:] != uid[:-1]) + 1
    starts = np.concatenate([[0], boundary])
    ends = np.concatenate([boundary, [len(uid)]])
    wanted = np.isin(uid[starts], series)
    first = np.maximum(starts, ends - days)[wanted]
    counts = (ends[wanted] - first).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    positions = np.repeat(first - offsets, counts) + np.arange(int(counts.sum()))
    from_end = np.repeat(ends[wanted], counts) - 1 - positions
    return positions, from_end


def from_end(series: np.ndarray) -> np.ndarray:
    """Each row's position from the end of its block of equal consecutive `series` codes (0 =
    the block's last row): groupby().cumcount(ascending=False) for a panel's one-block series."""
    boundary = np.flatnonzero(series[1:] != series[:-1]) + 1
    ends = np.concatenate([boundary, [len(series)]])
    lengths = np.diff(np.concatenate([[0], ends]))
    return np.repeat(ends, lengths) - 1 - np.arange(len(series))


def open_days(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unique_id, y, position from the series' last open day) of a panel frame's open days,
    without copying the frame."""
    is_open = frame[OPEN].to_numpy() > 0
    series = frame["unique_id"].to_numpy()[is_open]
    return series, frame["y"].to_numpy()[is_open], from_end(series)
