"""`sales_drop`: a store's sales so far (or of a whole day) against what it usually has by then."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _

from backroom.channels.models import SalesDay, SalesHour
from backroom.dashboards.choices import Severity
from backroom.dashboards.detectors.common import (
    ONE,
    RATIO,
    SALES_DROP,
    ZERO,
    config,
    day_text,
    number,
    raise_store_alert,
    site_today,
    spread,
    stores,
    text,
)
from backroom.dashboards.models import Alert, ForecastDay
from backroom.kernel.dates import business_day_bounds
from backroom.org.models import Site

# --- sales_drop --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayPoint:
    """How far into a business day: `position` whole hours after the cut-off, plus `fraction`
    of the next one. Position 24 is the whole day."""

    position: int
    fraction: Decimal = ZERO

    @property
    def is_whole_day(self) -> bool:
        return self.position >= 24


class SalesSeries:
    """A store's daily and hourly gross sales and forecasts around one business day."""

    def __init__(self, site: Site, day: dt.date, history_days: int) -> None:
        self.site = site
        self.day = day
        self.history_days = history_days
        self.currency = site.legal_entity.base_currency
        first = day - dt.timedelta(days=history_days + 28)
        self.gross: dict[dt.date, Decimal] = defaultdict(Decimal)
        for date, gross in SalesDay.objects.filter(
            site=site, currency=self.currency, business_date__gte=first, business_date__lte=day
        ).values_list("business_date", "gross"):
            self.gross[date] += gross
        self.hours: dict[dt.date, list[Decimal]] = {}
        for date, hour, gross in SalesHour.objects.filter(
            site=site,
            currency=self.currency,
            business_date__gte=day - dt.timedelta(days=history_days),
            business_date__lte=day,
        ).values_list("business_date", "hour", "gross"):
            row = self.hours.setdefault(date, [ZERO] * 24)
            row[(hour - site.cutoff_hour) % 24] += gross
        self.forecast = dict(
            ForecastDay.objects.filter(
                site=site,
                business_date__gte=day - dt.timedelta(days=history_days),
                business_date__lte=day,
                gross__gt=0,
            ).values_list("business_date", "gross")
        )

    def history(self) -> list[dt.date]:
        """The past days of the window the store traded on."""
        days = (self.day - dt.timedelta(days=offset) for offset in range(1, self.history_days + 1))
        return [day for day in days if self.gross.get(day, ZERO) > 0]

    def expected_day(self, day: dt.date) -> tuple[Decimal, str, list[str]] | None:
        """The day's expected gross sales, where it comes from, and the days behind it."""
        if day in self.forecast:
            return self.forecast[day], "forecast", [day.isoformat()]
        weeks = [day - dt.timedelta(days=7 * week) for week in range(1, 5)]
        traded = [week for week in weeks if self.gross.get(week, ZERO) > 0]
        if not traded:
            return None
        mean = sum((self.gross[week] for week in traded), ZERO) / len(traded)
        return mean, "same_weekday", [week.isoformat() for week in traded]

    def profile(self) -> list[Decimal]:
        """The store's share of a day's sales in each hour after the cut-off (recent days)."""
        totals = [ZERO] * 24
        for day, row in self.hours.items():
            if day < self.day:
                for position, gross in enumerate(row):
                    totals[position] += gross
        whole = sum(totals, ZERO)
        return [total / whole for total in totals] if whole else []

    def share(self, point: DayPoint, profile: list[Decimal]) -> Decimal:
        if point.is_whole_day:
            return ONE
        return sum(profile[: point.position], ZERO) + point.fraction * profile[point.position]

    def actual(self, day: dt.date, point: DayPoint) -> Decimal:
        """Sales of `day` up to `point` (the current hour counts whole today: it is what has
        been sold so far; on past days, its fraction)."""
        if point.is_whole_day:
            return self.gross.get(day, ZERO)
        row = self.hours.get(day, [ZERO] * 24)
        done = sum(row[: point.position], ZERO)
        if day == self.day:
            return done + row[point.position]
        return done + point.fraction * row[point.position]


def detect_sales_drop(
    site: Site,
    *,
    day: dt.date,
    point: DayPoint,
    now: dt.datetime | None = None,
) -> tuple[Alert | None, bool] | None:
    """Compare a store's sales of `day` up to `point` with what was expected by then; raise a
    `sales_drop` alert when the ratio is below the store's own lower bound. None: nothing to
    say (too little history, too early, too little expected, or normal)."""
    values = config(SALES_DROP)
    series = SalesSeries(site, day, int(values["history_days"]))
    profile = [] if point.is_whole_day else series.profile()
    if not point.is_whole_day and not profile:
        return None
    share = series.share(point, profile)
    if share <= 0 or (not point.is_whole_day and share < number(values, "min_day_share")):
        return None
    expected_day = series.expected_day(day)
    if expected_day is None:
        return None
    day_total, source, basis = expected_day
    expected = day_total * share
    if expected < number(values, "min_expected"):
        return None
    ratios = []
    for past in series.history():
        past_expected = series.expected_day(past)
        if past_expected is None or past_expected[0] <= 0:
            continue
        ratios.append(series.actual(past, point) / (past_expected[0] * share))
    if len(ratios) < int(values["min_history_days"]):
        return None
    history = spread(ratios)
    median = history.median
    gap = min(
        max(number(values, "k") * history.sigma, number(values, "min_drop") * median),
        number(values, "max_drop") * median,
    )
    threshold = median - gap
    actual = series.actual(day, point)
    ratio = actual / expected
    if ratio >= threshold:
        return None
    severity = (
        Severity.CRITICAL
        if ratio < threshold * number(values, "critical_below")
        else Severity.WARNING
    )
    local_time = ""
    if not point.is_whole_day:
        start, _end = business_day_bounds(
            day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour
        )
        moment = start + dt.timedelta(hours=point.position + float(point.fraction))
        local_time = moment.astimezone(ZoneInfo(site.time_zone)).strftime("%H:%M")
    figures = {
        "store": site.node.name,
        "actual": text(actual),
        "expected": text(expected),
        "currency": series.currency,
        "percent": text(ratio * 100, ONE),
        "time": local_time,
        "day": day_text(day),
    }
    if point.is_whole_day:
        title = (
            _(
                "Sales at %(store)s on %(day)s: %(actual)s %(currency)s, %(percent)s %% of the %(expected)s expected"
            )
            % figures
        )
    else:
        title = (
            _(
                "Sales at %(store)s by %(time)s: %(actual)s %(currency)s, %(percent)s %% of the %(expected)s expected"
            )
            % figures
        )
    message = _(
        "Expected for the day: %(day_total)s %(currency)s (%(source)s); by this point the store "
        "usually has %(share)s %% of its day. Over its last %(days)s trading days it sold "
        "%(median)s %% of the expected at this point (half of them within ±%(mad)s points); "
        "it alerts under %(threshold)s %%."
    ) % {
        "day_total": text(day_total),
        "currency": series.currency,
        "source": _("its forecast")
        if source == "forecast"
        else _("the mean of the same weekday over the last four weeks"),
        "share": text(share * 100, ONE),
        "days": history.count,
        "median": text(median * 100, ONE),
        "mad": text(history.mad * 100, ONE),
        "threshold": text(threshold * 100, ONE),
    }
    details = {
        "business_date": day.isoformat(),
        "through": local_time or None,
        "whole_day": point.is_whole_day,
        "currency": series.currency,
        "expected_day": text(day_total),
        "expected_day_source": source,
        "expected_day_basis": basis,
        "share_of_day": text(share, RATIO),
        "expected": text(expected),
        "actual": text(actual),
        "ratio": text(ratio, RATIO),
        "median_ratio": text(median, RATIO),
        "mad_ratio": text(history.mad, RATIO),
        "threshold_ratio": text(threshold, RATIO),
        "history_days": history.count,
        "history_from": (day - dt.timedelta(days=series.history_days)).isoformat(),
        "history_to": (day - dt.timedelta(days=1)).isoformat(),
        "site_id": site.pk,
    }
    return raise_store_alert(
        site,
        detector=SALES_DROP,
        fingerprint=f"day:{day.isoformat()}",
        title=title,
        severity=severity,
        message=message,
        details=details,
        now=now,
    )


def day_point(site: Site, now: dt.datetime) -> tuple[dt.date, DayPoint]:
    """The business day of `now` at a store and how far into it `now` is."""
    day = site_today(site, now)
    start, _end = business_day_bounds(day, time_zone=site.time_zone, cutoff_hour=site.cutoff_hour)
    elapsed = Decimal((now - start).total_seconds()) / 3600
    position = min(int(elapsed), 23)
    return day, DayPoint(position, (elapsed - position).quantize(RATIO))


def detect_sales_drops_now(
    *, site_ids: Iterable[int] | None = None, now: dt.datetime | None = None
) -> int:
    """Every trading store's day so far (the 15-minute job). A store without a sale today is
    not looked at: it is closed, or its tills have not synced (the nightly check of the whole
    day sees a day without sales). Returns the alerts raised or grouped."""
    now = now or timezone.now()
    raised = 0
    for site in stores(site_ids):
        day, point = day_point(site, now)
        if not SalesHour.objects.filter(site=site, business_date=day).exists():
            continue
        result = detect_sales_drop(site, day=day, point=point, now=now)
        raised += result is not None and result[0] is not None
    return raised


def detect_sales_drops_yesterday(
    *, site_ids: Iterable[int] | None = None, now: dt.datetime | None = None
) -> int:
    """Every store's last complete business day, whole (the nightly job)."""
    now = now or timezone.now()
    raised = 0
    for site in stores(site_ids):
        day = site_today(site, now) - dt.timedelta(days=1)
        result = detect_sales_drop(site, day=day, point=DayPoint(24), now=now)
        raised += result is not None and result[0] is not None
    return raised
