from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from entryway.dashboard.services import alerts_evaluate


@db_periodic_task(crontab(minute="*"))
@lock_task("alerts-evaluate")
def evaluate_alerts():
    return alerts_evaluate()


@db_task()
def run_job_task(job_id: int):
    """Run one recorded long operation (an export, a bulk order); a second run does nothing."""
    from entryway.dashboard.jobs import job_run

    job = job_run(job_id=job_id)
    return job.status if job is not None else None
