from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "entryway.dashboard"
    label = "dashboard"
