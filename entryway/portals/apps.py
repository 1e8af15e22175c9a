from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalsConfig(AppConfig):
    name = "entryway.portals"
    label = "portals"

    def ready(self):
        from entryway.web.navigation import register_portal

        register_portal("admin", [
            ("overview", _("Overview"), "portals:admin_home"),
            ("distributors", _("Distributors"), "portals:admin_distributors"),
            ("device_models", _("Device models"), "portals:admin_device_models"),
            ("firmware", _("Firmware"), "firmware:admin_list"),
            ("prices", _("Default prices"), "billing:admin_prices"),
            ("sip", _("SIP"), "sip:admin"),
            ("audit", _("Audit log"), "portals:admin_audit"),
            ("help", _("Help"), "portals:help"),
        ])
        register_portal("distributor", [
            ("installers", _("Installers"), "portals:distributor_home"),
            ("mac_library", _("MAC Library"), "devices:distributor_macs"),
            ("prices", _("Prices"), "billing:distributor_prices"),
            ("coupons", _("Coupons"), "billing:distributor_coupons"),
            ("tickets", _("Tickets"), "portals:tickets"),
            ("account_access", _("Account access"), "portals:distributor_access"),
            ("help", _("Help"), "portals:help"),
        ])
        register_portal("resident", [
            ("home", _("My account"), "portals:resident_home"),
            ("messages", _("Messages"), "messaging:inbox"),
            ("payments", _("Payments"), "billing:resident_billing"),
        ])
