"""Planning pages: forecasts, their accuracy and the planning calendar."""

from django.urls import include, path

app_name = "planning"
urlpatterns = [
    path("", include("backroom.planning.views")),
]
