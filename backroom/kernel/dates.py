"""Business dates: a store's day ends at its cut-off hour (a restaurant's Friday ends at 04:00 Saturday)."""

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone


def business_date(moment: datetime, *, time_zone: str, cutoff_hour: int) -> date:
    """The business date an aware instant belongs to in a store's time zone."""
    if timezone.is_naive(moment):
        raise ValueError("business_date needs an aware datetime")
    if not 0 <= cutoff_hour <= 23:
        raise ValueError("cutoff_hour must be between 0 and 23")
    local = moment.astimezone(ZoneInfo(time_zone))
    return (local - timedelta(hours=cutoff_hour)).date()


def earliest_business_date(moment: datetime, zones: Iterable[tuple[str, int]]) -> date | None:
    """The earliest business date of stores given as (time zone, cut-off hour) at an aware
    instant: past midnight, until its cut-off, a store is still on the day before (None
    without stores)."""
    return min(
        (business_date(moment, time_zone=zone, cutoff_hour=cutoff) for zone, cutoff in zones),
        default=None,
    )


def business_day_bounds(
    day: date, *, time_zone: str, cutoff_hour: int
) -> tuple[datetime, datetime]:
    """The aware [start, end) instants of a business day, in UTC."""
    zone = ZoneInfo(time_zone)
    start = datetime.combine(day, time(hour=cutoff_hour), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(hour=cutoff_hour), tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def as_utc(moment: datetime) -> datetime:
    """An instant in UTC; a naive one is read in the default time zone.

    Offsets are normalised before they reach the database: Python accepts offsets up to ±23:59,
    PostgreSQL only up to ±15:59.
    """
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment.astimezone(UTC)
    except (OverflowError, ValueError) as error:
        raise ValueError("instant out of range") from error
