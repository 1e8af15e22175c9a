"""Background work of the MAC Library: large imports."""
from django.utils import translation
from huey.contrib.djhuey import db_task

from entryway.devices import services
from entryway.devices.models import MacImport


@db_task()
def mac_import_task(import_id: int):
    """Run one recorded MAC import; a second run of the same import does nothing."""
    # the row details are read by the account that started the import, in its language
    language = MacImport.objects.filter(pk=import_id).values_list("created_by__language", flat=True).first()
    with translation.override(language or None):
        job = services.mac_import_run(import_id=import_id)
    return job.status if job is not None else None
