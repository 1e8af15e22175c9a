from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "entryway.billing"
    label = "billing"

    def ready(self):
        from entryway.billing.exports import register

        register()
