from django.urls import path

from entryway.billing import views

app_name = "billing"
urlpatterns = [
    path("settings/", views.setting, name="settings"),
    path("subscription/", views.subscription, name="subscription"),
    path("subscription/coupons/exchange/", views.coupon_exchange, name="coupon_exchange"),
    path("subscription/orders/<str:number>/", views.payment_information, name="payment_information"),
    path("subscription/orders/<str:number>/confirmation/", views.confirmation, name="confirmation"),
    path("subscription/orders/<str:number>/cancel/", views.order_cancel, name="order_cancel"),
    path("subscription/<slug:kind>/", views.purchase_details, name="purchase_details"),
    path("payments/", views.payments, name="payments"),
    path("payments/<str:number>/", views.payment_detail, name="payment_detail"),
    path("payments/<str:number>/invoice.pdf", views.invoice, name="invoice"),
    path("payments/<str:number>/delete/", views.payment_delete, name="payment_delete"),
    path("billing/test-checkout/<str:number>/", views.test_checkout, name="test_checkout"),
    path("billing/bank-transfer/<str:number>/", views.bank_transfer, name="bank_transfer"),
    path("billing/webhooks/<slug:provider>", views.webhook, name="webhook"),
    path("admin-portal/prices/", views.admin_prices, name="admin_prices"),
    path("admin-portal/prices/<int:pk>/", views.admin_distributor_prices, name="admin_distributor_prices"),
    path("admin-portal/coupons/", views.admin_coupons, name="admin_coupons"),
    path("admin-portal/bank-transfers/", views.admin_bank_transfers, name="admin_bank_transfers"),
    path("distributor/prices/", views.distributor_prices, name="distributor_prices"),
    path("distributor/coupons/", views.distributor_coupons, name="distributor_coupons"),
    path("resident/billing/", views.resident_billing, name="resident_billing"),
]
