from django.urls import path

from entryway.devices import views

app_name = "devices"
urlpatterns = [
    # Device module (the paths /devices/<pk>/info/ and /devices/autop/ are the device protocol app's)
    path("devices/", views.device_list, name="list"),
    path("devices/cameras/", views.camera_list, name="camera_list"),
    path("devices/<int:pk>/edit/", views.device_edit, name="device_edit"),
    path("devices/<int:pk>/delete/", views.device_delete, name="device_delete"),
    path("devices/cameras/<int:pk>/edit/", views.camera_edit, name="camera_edit"),
    path("devices/cameras/<int:pk>/delete/", views.camera_delete, name="camera_delete"),
    # A user's Intercom Devices and Third-party Devices
    path("users/<int:resident_pk>/devices/", views.resident_devices, name="resident_devices"),
    path("users/<int:resident_pk>/devices/new/", views.device_create, name="device_create"),
    path("users/<int:resident_pk>/cameras/", views.resident_cameras, name="resident_cameras"),
    path("users/<int:resident_pk>/cameras/new/", views.camera_create, name="camera_create"),
    # MAC Library
    path("mac-library/", views.mac_list, name="mac_list"),
    path("mac-library/new/", views.mac_create, name="mac_create"),
    path("mac-library/import/", views.mac_import, name="mac_import"),
    path("mac-library/template.xlsx", views.mac_template, name="mac_template"),
    path("mac-library/imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("mac-library/imports/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("mac-library/<int:pk>/remove/", views.mac_remove, name="mac_remove"),
    # The distributor's MAC register
    path("distributor/macs/", views.distributor_macs, name="distributor_macs"),
    path("distributor/macs/new/", views.mac_create, name="distributor_mac_create"),
    path("distributor/macs/import/", views.mac_import, name="distributor_mac_import"),
    path("distributor/macs/assign/", views.distributor_mac_assign, name="distributor_mac_assign"),
]
