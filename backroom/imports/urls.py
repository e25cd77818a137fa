from django.urls import path

from backroom.imports import views

app_name = "imports"

urlpatterns = [
    path("", views.index, name="index"),
    path("sample-pack/", views.sample_pack, name="sample_pack"),
    path("<slug:kind>/upload/", views.upload, name="upload"),
    path("<slug:kind>/template/", views.template, name="template"),
    path("<slug:kind>/export/", views.export, name="export"),
    path("jobs/<int:job_id>/", views.job_page, name="job"),
    path("jobs/<int:job_id>/errors/", views.errors_file, name="errors"),
]
