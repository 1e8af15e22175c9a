"""Background work of the MAC Library: large imports."""
from huey.contrib.djhuey import db_task

from entryway.devices import services


@db_task()
def mac_import_task(import_id: int):
    """Run one recorded MAC import; a second run of the same import does nothing."""
    job = services.mac_import_run(import_id=import_id)
    return job.status if job is not None else None
