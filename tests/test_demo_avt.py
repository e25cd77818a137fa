"""The demo's stock history makes a believable AvT report (issue 3's "done when")."""

import datetime as dt

import pytest
from django.db import transaction

from backroom.catalog.selectors import site_today
from backroom.config.demo import seed_demo
from backroom.inventory import reports
from backroom.kernel.actors import SYSTEM
from backroom.org.models import OrgNode


@pytest.fixture(scope="module")
def _seeded_once(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield seed_demo()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def demo(_seeded_once, db):
    return _seeded_once


@pytest.mark.parametrize("code", ["SH001", "EAST", "HK001"])
def test_demo_avt_shows_believable_variance(demo, code):
    node = OrgNode.objects.get(code=code)
    store = OrgNode.objects.get(code="SH001").site
    date_to = site_today(store) - dt.timedelta(days=1)
    report = reports.avt(
        SYSTEM, node=node, date_from=date_to - dt.timedelta(days=20), date_to=date_to
    )
    assert report.sales_revenue > 0
    assert sum(1 for row in report.rows if row.variance_value > 0) >= 10
    assert report.variance_percent_of_sales is not None
    assert 0.5 <= report.variance_percent_of_sales <= 10
    assert all(site.opening_count and site.closing_count for site in report.sites)
    values = [abs(row.variance_value) for row in report.rows]
    assert values == sorted(values, reverse=True)
