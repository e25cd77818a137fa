from django.contrib import admin
from django.urls import include, path

from backroom.config.api import api

urlpatterns = [
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("webhooks/", include("backroom.webhooks.urls")),
    path("catalog/", include("backroom.catalog.urls")),
    path("stock/", include("backroom.inventory.urls")),
    path("approvals/", include("backroom.approvals.urls")),
    path("channels/", include("backroom.channels.urls")),
    path("procurement/", include("backroom.procurement.urls")),
    path("planning/", include("backroom.planning.urls")),
    path("dashboards/", include("backroom.dashboards.urls")),
    path("imports/", include("backroom.imports.urls")),
    path("finance/", include("backroom.finance.urls")),
    path("", include("backroom.web.urls")),
]
