from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "entryway.accounts"
    label = "accounts"
