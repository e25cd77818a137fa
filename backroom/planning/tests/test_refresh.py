"""The forecast refresh end to end: history from the rollups → the forecaster → the latest
forecast and accuracy per store and series; a new store cold-started from its peers; a failed
run recorded with the previous forecasts kept."""

from __future__ import annotations

import datetime as dt
import random
from unittest import mock

import pytest

from backroom.planning import services
from backroom.planning.models import DemandForecast, ForecastAccuracy, ForecastRun, RunStatus
from backroom.planning.tests.conftest import sold

AS_OF = dt.date(2026, 11, 29)  # a Sunday
WEEK = [20, 22, 21, 24, 30, 45, 40]  # Monday … Sunday bowls


def _history(site, item, days, scale=1.0):
    noise = random.Random(site.pk)  # the same ± a few bowls on every run
    for back in range(days):
        day = AS_OF - dt.timedelta(days=back)
        sold(site, item.pk, day, max(round(WEEK[day.weekday()] * scale) + noise.randint(-3, 3), 0))
        sold(site, None, day, round(WEEK[day.weekday()] * scale * 1.5))


def test_refresh_forecasts_learns_the_week_and_cold_starts_a_new_store(tree, menu):
    store_a, store_b, store_new = tree.store_a.site, tree.store_b.site, tree.store_hk.site
    _history(store_a, menu.noodles, 120)
    _history(store_b, menu.noodles, 120, scale=2.0)
    _history(store_new, menu.noodles, 5, scale=0.75)  # half as busy as its peers' mean
    run = services.refresh_forecasts(as_of=AS_OF, horizon=14)
    assert run.status == RunStatus.DONE and run.series == 6
    rows = {
        (row.site_id, row.menu_item_id, row.date): float(row.quantity)
        for row in DemandForecast.objects.all()
    }
    assert len(rows) == 6 * 14
    monday, saturday = AS_OF + dt.timedelta(days=1), AS_OF + dt.timedelta(days=6)
    a_monday, a_saturday = (
        rows[(store_a.pk, menu.noodles.pk, monday)],
        rows[(store_a.pk, menu.noodles.pk, saturday)],
    )
    assert a_saturday > 1.6 * a_monday  # the weekend peak is learned
    assert abs(a_saturday - 45) < 6 and abs(a_monday - 20) < 4
    b_saturday = rows[(store_b.pk, menu.noodles.pk, saturday)]
    assert abs(b_saturday - 90) < 12
    # The new store (5 days of sales) gets its peers' mean, day by day, scaled by its orders
    # against theirs on the same days (1.5 × 0.75 against 1.5 × 1 and 1.5 × 2: a half).
    new = DemandForecast.objects.get(site=store_new, menu_item=menu.noodles, date=saturday)
    assert new.model == "cold_start"
    assert float(new.quantity) == pytest.approx((a_saturday + b_saturday) / 2 * 0.5, rel=0.02)
    accuracy = ForecastAccuracy.objects.get(site=store_a, menu_item=menu.noodles)
    assert accuracy.wape is not None and accuracy.wape < 0.15
    assert accuracy.error_scale > 0
    # Its daily error (safety stock) is its peers', scaled alike; no scores of its own.
    peers = ForecastAccuracy.objects.filter(site__in=[store_a, store_b], menu_item=menu.noodles)
    cold = ForecastAccuracy.objects.get(site=store_new, menu_item=menu.noodles)
    assert (cold.model, cold.mase, cold.wape) == ("cold_start", None, None)
    peer_error = sum(row.error_scale for row in peers) / 2
    assert cold.error_scale == pytest.approx(peer_error * 0.5, rel=0.02)


def test_a_store_about_to_open_is_forecast_from_its_opening_day(tree, menu):
    from backroom.org.models import Site

    store_a, store_b, store_new = tree.store_a.site, tree.store_b.site, tree.store_hk.site
    _history(store_a, menu.noodles, 120)
    _history(store_b, menu.noodles, 120, scale=2.0)
    opening = AS_OF + dt.timedelta(days=4)
    Site.objects.filter(pk=store_new.pk).update(status="planned", opening_date=opening)
    services.refresh_forecasts(as_of=AS_OF, horizon=14)
    rows = {
        (row.site_id, row.menu_item_id, row.date): float(row.quantity)
        for row in DemandForecast.objects.all()
    }
    for back in range(1, 15):
        day = AS_OF + dt.timedelta(days=back)
        peers = (
            rows[(store_a.pk, menu.noodles.pk, day)] + rows[(store_b.pk, menu.noodles.pk, day)]
        ) / 2
        expected = 0.0 if day < opening else peers
        assert rows[(store_new.pk, menu.noodles.pk, day)] == pytest.approx(expected, abs=0.002)
        assert (store_new.pk, None, day) in rows  # its guests too
    assert ForecastAccuracy.objects.get(site=store_new, menu_item=menu.noodles).error_scale > 0


def test_a_failed_refresh_is_recorded_and_keeps_the_last_forecasts(tree, menu):
    site = tree.store_a.site
    previous = ForecastRun.objects.create(
        started_at=dt.datetime.now(dt.UTC), as_of=AS_OF, horizon=7, status=RunStatus.DONE
    )
    DemandForecast.objects.create(
        run=previous,
        site=site,
        menu_item=menu.noodles,
        date=AS_OF + dt.timedelta(days=1),
        quantity=7,
        model="old",
    )
    _history(site, menu.noodles, 60)
    with (
        mock.patch(
            "backroom.planning.forecasting.forecast_with_details", side_effect=RuntimeError("boom")
        ),
        pytest.raises(RuntimeError),
    ):
        services.refresh_forecasts(as_of=AS_OF)
    failed = ForecastRun.objects.exclude(pk=previous.pk).get()
    assert failed.status == RunStatus.FAILED and "boom" in failed.error
    assert DemandForecast.objects.get().model == "old"


def test_the_nightly_job_forecasts_after_the_cutoff_once_at_a_time(tree, menu):
    from huey.contrib.djhuey import lock_task

    from backroom.planning import jobs

    task = jobs.refresh_forecasts_nightly
    assert task.task_class().validate_datetime(dt.datetime(2026, 11, 30, 4, 30))
    assert not task.task_class().validate_datetime(dt.datetime(2026, 11, 30, 2, 30))
    _history(tree.store_a.site, menu.noodles, 60)
    shanghai_night = dt.datetime(2026, 11, 29, 20, 30, tzinfo=dt.UTC)  # 04:30 on the 30th
    with (
        mock.patch("django.utils.timezone.now", return_value=shanghai_night),
        mock.patch.object(jobs, "suggest_everywhere", wraps=jobs.suggest_everywhere) as suggest,
    ):
        with lock_task("planning-refresh-forecasts"):  # a run already going: this one skips
            assert task.call_local() == 0
        assert not ForecastRun.objects.exists() and not suggest.called
        run = ForecastRun.objects.get(pk=task.call_local())
    # At 04:30 the stores' business day of the 29th has closed (their cut-off is 04:00): the
    # history ends with it.
    assert (run.status, run.as_of) == (RunStatus.DONE, AS_OF)
    assert DemandForecast.objects.filter(run=run, site=tree.store_a.site).count() == 2 * 28
    suggest.assert_called_once()
