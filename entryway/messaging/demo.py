"""Demo data for the Message module: a couple of messages the demo installer has sent."""
from __future__ import annotations

from entryway.messaging.choices import ReceiverType
from entryway.messaging.models import InboxItem
from entryway.messaging.services import inbox_item_mark_read, message_create


def seed(ctx) -> None:
    installer = ctx["installer"]
    residents = [r for r in ctx["residents"] if r.installer_id == installer.pk]
    with_app = [r for r in residents if r.account_id]
    if with_app:
        message_create(
            acting_user=installer, receiver_type=ReceiverType.APP, receivers=with_app,
            title="Service window on Saturday",
            body="The intercom cloud service will be updated on Saturday between 02:00 and 03:00. "
                 "Calls to the app may be delayed for a few minutes.",
        )
    first = residents[0] if residents else None
    if first is not None:
        message = message_create(
            acting_user=installer, receiver_type=ReceiverType.BOTH, receivers=[first],
            title="Welcome to your new intercom",
            body="Your door phone and indoor monitor are set up. Open the app to answer calls and open the door.",
        )
        host_item = InboxItem.objects.filter(message=message, is_host=True).first()
        if host_item is not None:
            inbox_item_mark_read(account=host_item.account, item=host_item)
