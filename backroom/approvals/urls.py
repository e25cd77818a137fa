"""Approval policy pages: the list, the editor, versions, publishing and "Test this policy"."""

from django.urls import include, path

app_name = "approvals"
urlpatterns = [
    path("", include("backroom.approvals.views")),
]
