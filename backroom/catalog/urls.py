from django.urls import path

from backroom.catalog import views

app_name = "catalog"
urlpatterns = [
    path("items/", views.item_list, name="items"),
    path("items/<int:item_id>/", views.item_detail, name="item_detail"),
    path("items/<int:item_id>/cost-card/", views.cost_card, name="cost_card"),
]
