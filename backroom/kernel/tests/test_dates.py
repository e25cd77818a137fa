import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from backroom.kernel.dates import business_date, business_day_bounds

SHANGHAI = "Asia/Shanghai"


@pytest.mark.parametrize(
    ("local_time", "expected"),
    [
        ("2026-11-20 23:59", dt.date(2026, 11, 20)),  # Friday evening
        ("2026-11-21 03:59", dt.date(2026, 11, 20)),  # still Friday's business day
        ("2026-11-21 04:00", dt.date(2026, 11, 21)),  # Saturday begins at the cut-off
    ],
)
def test_business_day_ends_at_the_cut_off(local_time, expected):
    moment = dt.datetime.strptime(local_time, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(SHANGHAI))
    assert business_date(moment.astimezone(dt.UTC), time_zone=SHANGHAI, cutoff_hour=4) == expected


def test_same_instant_differs_by_store_time_zone():
    moment = dt.datetime(2026, 11, 20, 19, 30, tzinfo=dt.UTC)  # 03:30 in Shanghai, 04:30 in Tokyo
    assert business_date(moment, time_zone=SHANGHAI, cutoff_hour=4) == dt.date(2026, 11, 20)
    assert business_date(moment, time_zone="Asia/Tokyo", cutoff_hour=4) == dt.date(2026, 11, 21)


def test_bounds_cover_exactly_one_day():
    start, end = business_day_bounds(dt.date(2026, 11, 20), time_zone=SHANGHAI, cutoff_hour=4)
    assert start == dt.datetime(2026, 11, 19, 20, 0, tzinfo=dt.UTC)
    assert end - start == dt.timedelta(days=1)
    assert business_date(start, time_zone=SHANGHAI, cutoff_hour=4) == dt.date(2026, 11, 20)
    assert business_date(
        end - dt.timedelta(microseconds=1), time_zone=SHANGHAI, cutoff_hour=4
    ) == dt.date(2026, 11, 20)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        business_date(dt.datetime(2026, 1, 1), time_zone=SHANGHAI, cutoff_hour=4)
