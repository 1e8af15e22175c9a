from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "entryway.core"
    label = "core"
