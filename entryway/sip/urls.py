from django.urls import path

from entryway.sip import views

app_name = "sip"
urlpatterns = [
    path("admin-portal/sip/", views.admin_sip, name="admin"),
    path("admin-portal/sip/trunks/<int:pk>/", views.admin_sip, name="admin_trunk_edit"),
    path("admin-portal/sip/trunks/<int:pk>/delete/", views.admin_trunk_delete, name="admin_trunk_delete"),
]
