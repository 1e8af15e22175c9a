from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from entryway.dashboard.services import alerts_evaluate


@db_periodic_task(crontab(minute="*"))
@lock_task("alerts-evaluate")
def evaluate_alerts():
    return alerts_evaluate()
