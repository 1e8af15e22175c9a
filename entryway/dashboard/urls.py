from django.urls import path

from entryway.dashboard import exports, views

app_name = "dashboard"
urlpatterns = [
    path("dashboard/", views.home, name="home"),
    path("alerts/", views.alerts, name="alerts"),
    path("exports/<slug:key>.<str:fmt>", exports.export_list, name="export"),
]
