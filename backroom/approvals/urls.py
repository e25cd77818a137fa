"""Approvals pages: policies (administrators), the inbox and requests (everyone signed in)."""

from django.urls import include, path

app_name = "approvals"
urlpatterns = [
    path("", include("backroom.approvals.views")),
    path("", include("backroom.approvals.inbox")),
    path("", include("backroom.approvals.delegations")),
    path("", include("backroom.approvals.report_pages")),
    path("", include("backroom.approvals.comment_views")),
]
