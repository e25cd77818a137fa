"""Exports of the planning pages that had none (`?export=xlsx|csv` on the page's own URL): the
forecast accuracy report, one row per store and series, the store filter kept, never another
store's rows; anonymous callers sent to sign in, callers without planning.view refused."""

from __future__ import annotations

import datetime as dt

import pytest

from backroom.planning.models import ForecastAccuracy, ForecastRun
from backroom.testing.exports import csv_rows, xlsx_rows
from backroom.testing.factories import client_for, make_user
from backroom.testing.matrix import assert_matrix

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
ACCURACY = "/planning/accuracy/"
ACCURACY_HEADER = [
    "Store code",
    "Store",
    "SKU",
    "Item",
    "Model",
    "MASE",
    "Seasonal naive MASE",
    "WAPE",
    "Seasonal naive WAPE",
    "Bias",
    "Daily error",
    "Actual in backtest",
]


@pytest.fixture
def accuracy(tree, menu):
    """Store A: the guests series and noodles (one without a naive comparison); B: noodles."""
    run = ForecastRun.objects.create(
        started_at=dt.datetime.now(dt.UTC), as_of=dt.date(2026, 12, 1), horizon=28
    )
    site_a, site_b = tree.store_a.site, tree.store_b.site
    figures = {"mase": 0.75, "naive_mase": 1.25, "wape": 0.5, "naive_wape": 0.625}
    ForecastAccuracy.objects.create(
        run=run, site=site_a, menu_item=None, model="ets", error_scale=4.5, actual_total=280
    )
    ForecastAccuracy.objects.create(
        run=run,
        site=site_a,
        menu_item=menu.noodles,
        model="lgbm",
        bias=-0.125,
        error_scale=2.5,
        actual_total=420,
        **figures,
    )
    ForecastAccuracy.objects.create(
        run=run, site=site_b, menu_item=menu.noodles, model="naive", actual_total=70
    )


def _accuracy_rows():
    return list(ForecastAccuracy.objects.order_by("pk").values_list("site_id", "model"))


@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_accuracy_export_matrix(accuracy, tree, file_type):
    result = assert_matrix(
        "GET",
        f"{ACCURACY}?store={tree.store_a.site.pk}&export={file_type}",
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=make_user("store_manager", tree.store_b),
        snapshot=_accuracy_rows,
    )
    assert (
        result.allowed["Content-Disposition"]
        == f'attachment; filename="forecast-accuracy.{file_type}"'
    )


def test_accuracy_every_series_of_the_users_stores(accuracy, tree):
    client = client_for(make_user("store_manager", tree.store_a))
    rows = xlsx_rows(client.get(f"{ACCURACY}?export=xlsx"), "forecast-accuracy")
    assert rows[0] == ACCURACY_HEADER
    assert rows[1:] == [  # never store B's series
        [
            "SHA001",
            "Store SHA001",
            None,
            "Guests (orders)",
            "ets",
            None,
            None,
            None,
            None,
            None,
            4.5,
            280,
        ],
        [
            "SHA001",
            "Store SHA001",
            "NOODLES",
            "Noodles",
            "lgbm",
            0.75,
            1.25,
            0.5,
            0.625,
            -0.125,
            2.5,
            420,
        ],
    ]
    table = csv_rows(
        client_for(make_user("region_manager", tree.region)).get(f"{ACCURACY}?export=csv"),
        "forecast-accuracy",
    )
    assert table[0] == ACCURACY_HEADER
    assert [(row[0], row[2], row[4], row[5], row[11]) for row in table[1:]] == [
        ("SHA001", "", "ets", "", "280"),
        ("SHA001", "NOODLES", "lgbm", "0.75", "420"),
        ("SHA002", "NOODLES", "naive", "", "70"),
    ]


def test_accuracy_the_store_filter_is_kept(accuracy, tree):
    client = client_for(make_user("region_manager", tree.region))
    url = f"{ACCURACY}?store={tree.store_b.site.pk}&export=csv"
    table = csv_rows(client.get(url), "forecast-accuracy")
    assert [(row[0], row[4]) for row in table[1:]] == [("SHA002", "naive")]
    # Another store's id is not a way in.
    response = client_for(make_user("store_manager", tree.store_a)).get(url)
    assert response.status_code == 404
    assert "Content-Disposition" not in response


def test_accuracy_the_page_offers_the_exports_and_the_swap_carries_them(accuracy, tree):
    client = client_for(make_user("region_manager", tree.region))
    body = client.get(ACCURACY).content.decode()
    assert 'href="?export=xlsx"' in body and 'href="?export=csv"' in body
    assert "hx-swap-oob" not in body
    store = tree.store_b.site.pk
    body = client.get(f"{ACCURACY}?store={store}", **HX).content.decode()
    assert "<html" not in body
    assert 'id="accuracy-exports" class="d-flex" hx-swap-oob="true"' in body
    assert f'href="?store={store}&amp;export=csv"' in body


def test_forecasts_export_one_row_per_series_and_day(tree, menu):
    """The forecast grid exports long: store, series, date, forecast, model; the store's
    own rows only."""
    from backroom.planning.models import DemandForecast, RunStatus

    run = ForecastRun.objects.create(
        started_at=dt.datetime.now(dt.UTC),
        as_of=dt.date(2026, 12, 1),
        horizon=28,
        status=RunStatus.DONE,
    )
    for site, quantity in ((tree.store_a.site, 42), (tree.store_b.site, 7)):
        for offset in range(2):
            DemandForecast.objects.create(
                run=run,
                site=site,
                menu_item=menu.noodles,
                date=dt.date(2026, 12, 2) + dt.timedelta(days=offset),
                quantity=quantity + offset,
                model="ets",
            )
    url = f"/planning/?store={tree.store_a.site.pk}&export="
    result = assert_matrix(
        "GET",
        url + "xlsx",
        allowed=make_user("store_manager", tree.store_a),
        forbidden=make_user("technician", tree.store_a),
        other_scope=None,
        snapshot=lambda: DemandForecast.objects.count(),
    )
    rows = xlsx_rows(result.allowed, "forecasts")
    assert rows[0] == ["Store code", "Store", "SKU", "Item", "Date", "Forecast", "Model"]
    assert [row[0] for row in rows[1:]] == ["SHA001", "SHA001"]
    assert rows[1][4:] == [dt.datetime(2026, 12, 2), 42, "ets"]
    table = csv_rows(
        client_for(make_user("store_manager", tree.store_a)).get(url + "csv"), "forecasts"
    )
    assert [row[4:] for row in table[1:]] == [
        ["2026-12-02", "42", "ets"],
        ["2026-12-03", "43", "ets"],
    ]
