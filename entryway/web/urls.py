from django.urls import path

from entryway.core.metrics import metrics_view
from entryway.web import health, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
]
