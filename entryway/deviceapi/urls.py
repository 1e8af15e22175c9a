from django.urls import path, re_path

from entryway.deviceapi import protocol, views

app_name = "deviceapi"
urlpatterns = [
    # Device-facing (docs/device-protocol.md): own credentials, no session, no CSRF.
    re_path(r"^autop/(?P<mac>[^/]+)\.cfg$", protocol.autop_file, name="autop_file"),
    path("device/v1/checkin", protocol.checkin, name="checkin"),
    path("device/v1/actions/<int:action_id>/result", protocol.action_result, name="action_result"),
    # Portal
    path("settings/autop/", views.autop_credentials, name="autop_credentials"),
    path("settings/autop/rotate/", views.autop_credentials_rotate, name="autop_credentials_rotate"),
    path("devices/autop/", views.batch_autop, name="batch_autop"),
    path("devices/<int:pk>/info/", views.device_info, name="device_info"),
    path("devices/<int:pk>/info/actions/", views.device_actions, name="device_actions"),
    path("devices/<int:pk>/reboot/", views.device_reboot, name="device_reboot"),
    path("devices/<int:pk>/once-autop/", views.device_once_autop, name="device_once_autop"),
]
