"""Planning pages."""

from django.urls import path  # noqa: F401

app_name = "planning"
urlpatterns: list = []
