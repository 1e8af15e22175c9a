from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "entryway.web"
    label = "web"
