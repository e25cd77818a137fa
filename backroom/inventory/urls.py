"""Stock pages: on hand, expiring, movements and AvT (reports); counts; waste, transfers and
production; closed stock periods."""

from django.urls import include, path

app_name = "inventory"
urlpatterns = [
    path("", include("backroom.inventory.views.reports")),
    path("counts/", include("backroom.inventory.views.counts")),
    path("", include("backroom.inventory.views.documents")),
    path("", include("backroom.inventory.views.production")),
    path("", include("backroom.inventory.views.periods")),
]
