"""Background billing work. Tasks take ids and call one service; running twice does no harm."""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from entryway.billing import services


@db_task(retries=3, retry_delay=60)
def send_renewal_emails(order_id: int) -> int:
    return services.renewal_emails_send(order_id=order_id)


@db_periodic_task(crontab(minute="*"))
@lock_task("billing-order-timeouts")
def time_out_orders() -> int:
    return services.orders_time_out()


@db_periodic_task(crontab(minute="7"))
@lock_task("billing-expiration-reminders")
def send_expiration_reminders() -> int:
    return services.expiration_reminders_send()
