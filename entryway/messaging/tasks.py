"""Background work for messages. Tasks take ids and call one service; running twice does no harm."""
from huey.contrib.djhuey import db_task

from entryway.messaging.services import message_emails_send


@db_task(retries=3, retry_delay=60)
def send_message_emails(message_id: int) -> int:
    return message_emails_send(message_id=message_id)
