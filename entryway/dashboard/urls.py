from django.urls import path

from entryway.dashboard import exports, views

app_name = "dashboard"
urlpatterns = [
    path("dashboard/", views.home, name="home"),
    path("alerts/", views.alerts, name="alerts"),
    path("exports/<slug:key>.<str:fmt>", exports.export_list, name="export"),
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("jobs/<int:pk>/progress/", views.job_progress, name="job_progress"),
    path("jobs/<int:pk>/download/", views.job_download, name="job_download"),
]
