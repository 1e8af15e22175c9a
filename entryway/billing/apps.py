from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "entryway.billing"
    label = "billing"
