from django.urls import path

from entryway.firmware import views

app_name = "firmware"
urlpatterns = [
    # Firmware module (installer) and the devices' download route (signed URL, no session)
    path("firmware/", views.firmware_list, name="list"),
    path("firmware/<int:pk>/", views.firmware_detail, name="detail"),
    path("firmware/files/<str:token>/<str:filename>", views.firmware_file, name="file"),
    # Update module (installer)
    path("updates/", views.strategy_list, name="strategy_list"),
    path("updates/new/", views.strategy_create, name="strategy_create"),
    path("updates/new/choices/", views.strategy_choices, name="strategy_choices"),
    path("updates/<int:pk>/", views.strategy_detail, name="strategy_detail"),
    path("updates/<int:pk>/progress/", views.strategy_progress, name="strategy_progress"),
    path("updates/<int:pk>/edit/", views.strategy_edit, name="strategy_edit"),
    path("updates/<int:pk>/delete/", views.strategy_delete, name="strategy_delete"),
    path("updates/<int:pk>/pause/", views.strategy_pause, name="strategy_pause"),
    path("updates/<int:pk>/resume/", views.strategy_resume, name="strategy_resume"),
    path("updates/<int:pk>/cancel/", views.strategy_cancel, name="strategy_cancel"),
    path("updates/<int:pk>/retry/", views.strategy_retry, name="strategy_retry"),
    # Admin portal: the firmware catalog
    path("admin-portal/firmware/", views.admin_firmware_list, name="admin_list"),
    path("admin-portal/firmware/upload/", views.admin_firmware_upload, name="admin_upload"),
    path("admin-portal/firmware/<int:pk>/delete/", views.admin_firmware_delete, name="admin_delete"),
]
