"""Background work of Remote Control."""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from entryway.remote import services


@db_periodic_task(crontab(minute="*"))
@lock_task("remote-sessions-expire")
def sessions_expire_task():
    """Every minute: sessions past their time limit are closed (and audited)."""
    return services.sessions_expire()
