"""Finance pages: journals, trial balance, P&L, periods."""

from django.urls import path

from backroom.finance import views

app_name = "finance"
urlpatterns = [
    path("", views.journal_list, name="journal_list"),
    path("journals/<int:journal_id>/", views.journal_detail, name="journal_detail"),
    path("journals/<int:journal_id>/post/", views.journal_post, name="journal_post"),
    path("journals/<int:journal_id>/reverse/", views.journal_reverse, name="journal_reverse"),
    path("trial-balance/", views.trial_balance, name="trial_balance"),
    path("pnl/", views.profit_and_loss, name="pnl"),
    path("periods/", views.period_list, name="period_list"),
    path("periods/<int:period_id>/status/", views.period_status, name="period_status"),
]
