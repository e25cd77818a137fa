"""Procurement pages (mounted at /procurement/)."""

from django.urls import include, path

app_name = "procurement"
urlpatterns = [
    path("", include("backroom.procurement.views.requisitions")),
    path("", include("backroom.procurement.views.orders")),
    path("", include("backroom.procurement.views.invoices")),
    path("", include("backroom.procurement.views.suppliers")),
]
