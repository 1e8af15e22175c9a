"""Background work of the device protocol: expiring actions, broker credentials of devices."""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from entryway.deviceapi import services


@db_periodic_task(crontab(minute="*"))
@lock_task("deviceapi-actions-expire")
def actions_expire_task():
    """Every minute: open actions past their deadline become Expired."""
    return services.actions_expire()


@db_periodic_task(crontab(minute="*"))
@lock_task("deviceapi-last-seen-flush")
def last_seen_flush_task():
    """Every minute: Last Connected Times still queued by idle check-ins are written (a fleet gone quiet)."""
    from entryway.deviceapi import devicecache

    return devicecache.flush_seen()


@db_task()
def last_seen_flush_now_task():
    """Last Connected Times queued by idle check-ins, written when a check-in found the interval passed
    (devicecache.note_seen): at most once per LAST_SEEN_FLUSH_INTERVAL."""
    from entryway.deviceapi import devicecache

    return devicecache.flush_seen()


@db_task(retries=5, retry_delay=30)
def mqtt_device_provision_task(device_id: int):
    """Give one device its own broker credentials (dynamic security); does nothing without MQTT_DYNSEC."""
    return services.mqtt_device_provision(device_id=device_id)


@db_task(retries=5, retry_delay=30)
def mqtt_device_revoke_task(mac: str):
    """Remove a deleted device's broker credentials; does nothing without MQTT_DYNSEC."""
    return services.mqtt_device_revoke(mac=mac)
