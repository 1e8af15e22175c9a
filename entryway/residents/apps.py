from django.apps import AppConfig


class ResidentsConfig(AppConfig):
    name = "entryway.residents"
    label = "residents"
