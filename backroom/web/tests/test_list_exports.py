"""Exports of the web app's lists: the audit log as a table (`?export=xlsx|csv`, its filters
kept, every matching entry the user may see); the users list and the org tree link to the
importers' exports instead (so export → edit → import round-trips), only for those who may use
that importer."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import openpyxl
import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone

from backroom.audit.models import AuditEntry
from backroom.catalog.selectors import site_today
from backroom.inventory import periods
from backroom.kernel.actors import SYSTEM
from backroom.org import services as org_services
from backroom.testing.factories import client_for, make_user
from backroom.web.views import audit as audit_views

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
AUDIT = "/audit/"
HX = {"HTTP_HX_REQUEST": "true"}
AUDIT_HEADER = [
    "Time",
    "Actor",
    "On behalf of",
    "Action",
    "Object type",
    "Object ID",
    "Object",
    "Org node code",
    "Org node",
    "Reason",
    "Entry",
]


def _xlsx(response) -> list[list]:
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == 'attachment; filename="audit-log.xlsx"'
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="audit-log.csv"'
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _local(moment: dt.datetime) -> dt.datetime:
    return timezone.localtime(moment).replace(tzinfo=None, microsecond=0)


def _rename(node, name: str) -> None:
    org_services.update_site(node.site, org_services.SiteChanges(name=name), actor=SYSTEM)


@pytest.fixture
def audit_url(db) -> str:
    assert reverse("web:audit") == AUDIT
    return AUDIT


@pytest.fixture
def history(tree):
    """Store A closed through yesterday by finance (with a reason); B and HK renamed."""
    finance = make_user("finance", tree.group, username="fiona")
    site = tree.store_a.site
    periods.close_period(
        site,
        through=site_today(site) - dt.timedelta(days=1),
        actor=finance,
        reason="month end",
    )
    _rename(tree.store_b, "B one")
    _rename(tree.store_hk, "HK one")
    return AuditEntry.objects.get(action="inventory.period.close")


# --- the audit log -----------------------------------------------------------------------------


def test_audit_every_entry_the_user_may_see_not_just_the_page(
    tree, history, audit_url, monkeypatch
):
    monkeypatch.setattr(audit_views, "PAGE_SIZE", 1)
    region_manager = make_user("region_manager", tree.region)
    client = client_for(region_manager)
    assert client.get(audit_url).content.decode().count('data-testid="audit-row"') == 1
    expected = list(
        AuditEntry.objects.filter(org_node__path__startswith=tree.region.path).order_by("-id")
    )
    assert len(expected) > 2

    rows = _xlsx(client.get(f"{audit_url}?export=xlsx"))
    assert rows[0] == AUDIT_HEADER
    assert [row[-1] for row in rows[1:]] == [entry.pk for entry in expected]
    assert "HK one (HKG001)" not in [row[6] for row in rows]
    closing = next(row for row in rows if row[-1] == history.pk)
    assert closing == [
        _local(history.occurred_at),
        "fiona",
        None,
        "inventory.period.close",
        history.target_type,
        history.target_id,
        history.target_label,
        "SHA001",
        "Store SHA001",
        "month end",
        history.pk,
    ]

    table = _csv(client.get(f"{audit_url}?export=csv"))
    assert table[0] == AUDIT_HEADER
    assert [row[-1] for row in table[1:]] == [str(entry.pk) for entry in expected]
    closing_csv = next(row for row in table if row[-1] == str(history.pk))
    assert closing_csv == [
        _local(history.occurred_at).isoformat(sep=" "),
        "fiona",
        "",
        "inventory.period.close",
        history.target_type,
        history.target_id,
        history.target_label,
        "SHA001",
        "Store SHA001",
        "month end",
        str(history.pk),
    ]


def test_audit_the_filters_are_kept(tree, history, audit_url):
    client = client_for(make_user("hq_admin", tree.group))
    rows = _xlsx(client.get(f"{audit_url}?action=org.site.update&export=xlsx"))
    assert [(row[3], row[6]) for row in rows[1:]] == [
        ("org.site.update", "HK one (HKG001)"),
        ("org.site.update", "B one (SHA002)"),
    ]
    table = _csv(client.get(f"{audit_url}?actor=FIONA&export=csv"))
    assert [(row[1], row[3], row[9]) for row in table[1:]] == [
        ("fiona", "inventory.period.close", "month end")
    ]
    table = _csv(client.get(f"{audit_url}?date_from=2000-01-01&date_to=2000-12-31&export=csv"))
    assert table == [AUDIT_HEADER]
    today = timezone.localdate().isoformat()
    table = _csv(
        client.get(
            f"{audit_url}?action=org.site.update&date_from={today}&date_to={today}&export=csv"
        )
    )
    assert [row[6] for row in table[1:]] == ["HK one (HKG001)", "B one (SHA002)"]


def test_audit_a_store_scoped_auditor_gets_their_store_only(tree, history, audit_url):
    finance_b = make_user("finance", tree.store_b)  # audit.view at B only
    table = _csv(client_for(finance_b).get(f"{audit_url}?export=csv"))
    expected = AuditEntry.objects.filter(org_node__path__startswith=tree.store_b.path)
    assert [row[-1] for row in table[1:]] == [
        str(pk) for pk in expected.order_by("-id").values_list("pk", flat=True)
    ]
    assert {row[7] for row in table[1:]} == {"SHA002"}


@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_audit_an_anonymous_caller_is_sent_to_sign_in(audit_url, file_type):
    response = client_for(None).get(f"{audit_url}?export={file_type}")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{resolve_url(settings.LOGIN_URL)}?next=")


@pytest.mark.parametrize("role", ["technician", "store_manager"])
@pytest.mark.parametrize("file_type", ["xlsx", "csv"])
def test_audit_a_caller_without_audit_view_is_refused(tree, history, audit_url, role, file_type):
    response = client_for(make_user(role, tree.store_a)).get(f"{audit_url}?export={file_type}")
    assert response.status_code == 403
    assert "Content-Disposition" not in response


def test_audit_the_page_offers_the_exports_with_its_filters(tree, audit_url):
    client = client_for(make_user("hq_admin", tree.group))
    body = client.get(audit_url).content.decode()
    assert 'href="?export=xlsx"' in body and 'href="?export=csv"' in body
    assert body.count('id="audit-exports"') == 1 and "hx-swap-oob" not in body
    # A filter change swaps the table and, out of band, the buttons with the new filters.
    body = client.get(f"{audit_url}?action=org.site.update", **HX).content.decode()
    assert "<html" not in body
    assert 'id="audit-exports" class="d-flex" hx-swap-oob="true"' in body
    assert 'href="?action=org.site.update&amp;export=csv"' in body


# --- the importers' exports ------------------------------------------------------------------


def _round_trip_kinds(body: str) -> list[str]:
    return re.findall(r'data-testid="round-trip-export" data-kind="([a-z_]+)"', body)


def test_users_links_to_the_users_importers_export_for_who_may_import_users(tree):
    admin = make_user("hq_admin", tree.group)
    body = client_for(admin).get(reverse("web:users")).content.decode()
    assert _round_trip_kinds(body) == ["users"]
    export = reverse("imports:export", args=["users"])
    assert f'href="{export}?format=xlsx"' in body and f'href="{export}?format=csv"' in body
    response = client_for(admin).get(f"{export}?format=csv")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="users.csv"'


def test_users_no_link_for_who_may_see_users_but_not_import_them(tree):
    manager = make_user("store_manager", tree.store_a)  # accounts.view and imports.use
    response = client_for(manager).get(reverse("web:users"))
    assert response.status_code == 200
    body = response.content.decode()
    assert _round_trip_kinds(body) == []
    assert "/imports/users/export/" not in body


@pytest.mark.parametrize(
    ("role", "kinds"),
    [
        ("hq_admin", ["stores", "locations"]),
        ("finance", ["locations"]),  # imports.use and inventory.manage, not org.manage
        ("technician", []),  # org.view only
    ],
)
def test_org_tree_links_to_the_importers_each_user_may_use(tree, role, kinds):
    user = make_user(role, tree.group if role != "technician" else tree.store_a)
    response = client_for(user).get(reverse("web:org_tree"))
    assert response.status_code == 200
    body = response.content.decode()
    assert _round_trip_kinds(body) == kinds
    for kind in ("stores", "locations"):
        export = reverse("imports:export", args=[kind])
        assert (f'href="{export}?format=xlsx"' in body) == (kind in kinds)
