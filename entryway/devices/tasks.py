"""Background work of the MAC Library: large imports."""
from django.utils import translation
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from entryway.devices import services
from entryway.devices.models import MacImport


@db_task()
def mac_import_task(import_id: int):
    """Run one recorded MAC import; a second run of the same import does nothing, unless the first was
    interrupted (its lease is stale): then it continues where the first stopped."""
    # the row details are read by the account that started the import, in its language
    language = MacImport.objects.filter(pk=import_id).values_list("created_by__language", flat=True).first()
    with translation.override(language or None):
        job = services.mac_import_run(import_id=import_id)
    return job.status if job is not None else None


@db_periodic_task(crontab(minute="*"))
def mac_imports_resume():
    """Queue again the imports whose consumer was killed half-way (or whose queued task was lost)."""
    ids = services.mac_imports_to_resume()
    for import_id in ids:
        mac_import_task(import_id)
    return ids


@HUEY.on_startup()
def _resume_imports_at_startup():
    # A restarted consumer need not wait for the next minute to pick up what its predecessor left.
    if not HUEY.immediate:
        mac_imports_resume()
