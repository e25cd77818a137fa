"""Stock pages: on hand, expiring, movements and AvT (reports); counts; waste and transfers."""

from django.urls import include, path

app_name = "inventory"
urlpatterns = [
    path("", include("backroom.inventory.views.reports")),
    path("counts/", include("backroom.inventory.views.counts")),
    path("", include("backroom.inventory.views.documents")),
]
