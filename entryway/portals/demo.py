"""Demo data for the portals: contacts, account access granted, a support ticket thread, a switch in the log."""
from __future__ import annotations

from entryway.portals import services


def seed(ctx) -> None:
    distributor, installer, installer2 = ctx["distributor"], ctx["installer"], ctx["installer2"]
    services.customer_service_update(acting_user=distributor, phone="+6562223344",
                                     email="support@distributor.example.com")
    services.account_preferences_update(acting_user=installer, language=installer.language,
                                        time_zone=installer.time_zone,
                                        smart_home_url="https://home.installer.example.com/")
    if distributor.account_access_enabled:
        services.permission_granted_set(acting_user=installer, granted=True)
        services.login_as_start(acting_user=distributor, installer=installer)
        services.login_as_end(acting_user=distributor, installer=installer)
    ticket = services.ticket_create(
        acting_user=installer, subject="R29 at Ryan's house does not provision",
        body="The door phone shows 'AutoP failed' after the reboot. The MAC is in my MAC Library.")
    services.ticket_reply(acting_user=distributor, ticket=ticket,
                          body="Check that the device has the cloud firmware (29.30.x or later); older versions "
                               "cannot read the AutoP file. Use Firmware and Update to upgrade it.")
    services.ticket_create(acting_user=installer2, subject="Invoice address",
                           body="Please change the company address on our invoices.")
