from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "entryway.api"
    label = "api"
