from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "entryway.dashboard"
    label = "dashboard"

    def ready(self):
        from entryway.dashboard import job_kinds  # noqa: F401 - registers the kinds of long operations
