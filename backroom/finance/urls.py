"""Finance pages: journals, trial balance, P&L, periods."""

from django.urls import path

from backroom.finance import views, views_claims, views_mapping

app_name = "finance"
urlpatterns = [
    path("", views.journal_list, name="journal_list"),
    path("journals/<int:journal_id>/", views.journal_detail, name="journal_detail"),
    path("journals/<int:journal_id>/post/", views.journal_post, name="journal_post"),
    path("journals/<int:journal_id>/reverse/", views.journal_reverse, name="journal_reverse"),
    path("trial-balance/", views.trial_balance, name="trial_balance"),
    path("pnl/", views.profit_and_loss, name="pnl"),
    path("balance-sheet/", views.balance_sheet, name="balance_sheet"),
    path("consolidated/", views.consolidated, name="consolidated"),
    path("payables/", views.payables, name="payables"),
    path("currencies/", views.currency_balances, name="currency_balances"),
    path("currencies/<int:book_id>/settle/", views.settle_balance, name="settle_balance"),
    path("currencies/rates/", views.fx_rate_new, name="fx_rate_new"),
    path("payables/<int:book_id>/<int:invoice_id>/paid/", views.invoice_paid, name="invoice_paid"),
    path("mapping/", views_mapping.mapping, name="mapping"),
    path("mapping/<int:book_id>/", views_mapping.mapping_save, name="mapping_save"),
    path("periods/", views.period_list, name="period_list"),
    path("periods/<int:period_id>/status/", views.period_status, name="period_status"),
    path("periods/<int:period_id>/revalue/", views.period_revalue, name="period_revalue"),
    path("claims/", views_claims.claim_list, name="claim_list"),
    path("claims/new/", views_claims.claim_new, name="claim_new"),
    path("claims/<int:claim_id>/", views_claims.claim_detail, name="claim_detail"),
    path("claims/<int:claim_id>/withdraw/", views_claims.claim_withdraw, name="claim_withdraw"),
    path("claims/<int:claim_id>/paid/", views_claims.claim_paid, name="claim_paid"),
    path("claims/<int:claim_id>/receipt/", views_claims.claim_receipt, name="claim_receipt"),
]
