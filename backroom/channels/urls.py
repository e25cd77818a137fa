"""Channel pages: the order board and the unmapped items work list."""

from django.urls import include, path

app_name = "channels"
urlpatterns = [
    path("", include("backroom.channels.views")),
    path("", include("backroom.channels.soldout_views")),
    path("", include("backroom.channels.reports_views")),
    path("", include("backroom.channels.import_views")),  # Square item-sales import
    path("", include("backroom.channels.callbacks")),  # platform pushes: public, signed
]
