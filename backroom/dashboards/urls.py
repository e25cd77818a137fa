"""Dashboards pages: HQ and region dashboards with drill-down (views.py), the store's "today"
page (views_today.py), and the alert centre with its rules (views_alerts.py)."""

from django.urls import include, path

app_name = "dashboards"
urlpatterns = [
    path("", include("backroom.dashboards.views")),
    path("", include("backroom.dashboards.views_today")),
    path("", include("backroom.dashboards.views_alerts")),
]
