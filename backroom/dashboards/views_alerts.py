"""The alert centre (first cut: the open alerts of the actor's stores, and one alert)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext as _

from backroom.dashboards.choices import AlertStatus
from backroom.dashboards.models import Alert
from backroom.dashboards.permissions import ALERTS_VIEW
from backroom.web.errors import page
from backroom.web.rendering import render_page


@page(ALERTS_VIEW)
def alerts(request: HttpRequest) -> HttpResponse:
    rows = (
        Alert.objects.restrict(request.user, ALERTS_VIEW)
        .exclude(status=AlertStatus.RESOLVED)
        .select_related("node", "site")
    )
    site = request.GET.get("site", "")
    if site.isdigit():
        rows = rows.filter(site_id=int(site))
    return render_page(
        request, "dashboards/alerts.html", {"title": _("Alerts"), "alerts": rows[:200]}
    )


@page(ALERTS_VIEW)
def alert(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(Alert.objects.restrict(request.user, ALERTS_VIEW), pk=pk)
    return render_page(request, "dashboards/alerts.html", {"title": row.title, "alerts": [row]})


urlpatterns = [
    path("alerts/", alerts, name="alerts"),
    path("alerts/<int:pk>/", alert, name="alert"),
]
