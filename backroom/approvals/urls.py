"""Approvals pages: policies (administrators), the inbox and requests (everyone signed in)."""

from django.urls import include, path

app_name = "approvals"
urlpatterns = [
    path("", include("backroom.approvals.views")),
    path("", include("backroom.approvals.inbox")),
]
