from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _catalog_after_migrate(sender, using="default", **kwargs):
    """Keep the device-model catalog present after migrate and after a flush (which emits post_migrate)."""
    from django.db import DatabaseError, router

    from entryway.devices.catalog import catalog_ensure
    from entryway.devices.models import DeviceModel

    if using == "default" and router.allow_migrate_model(using, DeviceModel):
        try:
            catalog_ensure(DeviceModel)
        except DatabaseError:  # migrated back to before the catalog's table or columns existed
            pass


class DevicesConfig(AppConfig):
    name = "entryway.devices"
    label = "devices"

    def ready(self):
        post_migrate.connect(_catalog_after_migrate, sender=self, dispatch_uid="devices.catalog_after_migrate")
