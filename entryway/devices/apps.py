from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "entryway.devices"
    label = "devices"
