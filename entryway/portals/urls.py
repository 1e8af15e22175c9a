from django.urls import path

from entryway.portals import manuals
from entryway.portals.views import account, admin, distributor, help, resident, tickets

app_name = "portals"

urlpatterns = [
    # Platform admin portal
    path("admin-portal/", admin.admin_home, name="admin_home"),
    path("admin-portal/distributors/", admin.distributor_list, name="admin_distributors"),
    path("admin-portal/distributors/new/", admin.distributor_create, name="admin_distributor_create"),
    path("admin-portal/distributors/<int:pk>/disable/", admin.distributor_set_active, {"active": False},
         name="admin_distributor_disable"),
    path("admin-portal/distributors/<int:pk>/enable/", admin.distributor_set_active, {"active": True},
         name="admin_distributor_enable"),
    path("admin-portal/device-models/", admin.device_model_list, name="admin_device_models"),
    path("admin-portal/device-models/new/", admin.device_model_form, name="admin_device_model_create"),
    path("admin-portal/device-models/<int:pk>/edit/", admin.device_model_form, name="admin_device_model_edit"),
    path("admin-portal/audit-log/", admin.audit_log, name="admin_audit"),
    # Distributor portal
    path("distributor/", distributor.distributor_home, name="distributor_home"),
    path("distributor/installers/new/", distributor.installer_create, name="distributor_installer_create"),
    path("distributor/installers/<int:pk>/", distributor.installer_detail, name="distributor_installer"),
    path("distributor/installers/<int:pk>/disable/", distributor.installer_set_active, {"active": False},
         name="distributor_installer_disable"),
    path("distributor/installers/<int:pk>/enable/", distributor.installer_set_active, {"active": True},
         name="distributor_installer_enable"),
    path("distributor/installers/<int:pk>/reset-password/", distributor.installer_reset_password,
         name="distributor_installer_reset"),
    path("distributor/installers/<int:pk>/login-as/", distributor.installer_login_as,
         name="distributor_installer_login_as"),
    path("distributor/account-access/", distributor.account_access, name="distributor_access"),
    # Account menu (upper corner)
    path("account/customer-service/", account.customer_service, name="customer_service"),
    path("account/settings/", account.account_settings, name="account_settings"),
    path("account/password/", account.PasswordChangeView.as_view(), name="password_change"),
    path("account/password/done/", account.password_change_done, name="password_change_done"),
    path("account/two-factor/", account.two_factor, name="two_factor"),
    path("account/access-log/", account.access_log, name="access_log"),
    path("account/back-to-my-portal/", account.impersonate_stop, name="impersonate_stop"),
    path("login/2fa/", account.two_factor_login, name="two_factor_login"),
    # Resident portal
    path("resident/", resident.resident_home, name="resident_home"),
    # Help and support tickets
    path("help/", help.help_index, name="help"),
    path("help/img/<slug:name>.png", manuals.image_view, name="help_image"),
    path("help/<slug:slug>/", help.help_manual, name="help_manual"),
    path("help/<slug:slug>/download/", help.help_download, name="help_download"),
    path("tickets/", tickets.ticket_list, name="tickets"),
    path("tickets/new/", tickets.ticket_create, name="ticket_create"),
    path("tickets/<int:pk>/", tickets.ticket_detail, name="ticket_detail"),
    path("tickets/<int:pk>/close/", tickets.ticket_close, name="ticket_close"),
]
