"""Keeping device credentials and cached AutoP versions in step with the data they come from."""
from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save

from entryway.deviceapi import devicecache
from entryway.deviceapi.autop import forget_files, forget_versions


def _dynsec_on() -> bool:
    return bool(settings.MQTT_URL and settings.MQTT_DYNSEC)


def _household(device) -> list[int]:
    """The device and its owner's other devices: with IP call, each one's AutoP file lists the others."""
    return [device.pk, *type(device).objects.filter(owner_id=device.owner_id).exclude(pk=device.pk)
            .values_list("pk", flat=True)]


def _device_saving(sender, instance, raw=False, **kwargs):
    """Remember the MAC, device secret and broker password the row had."""
    if raw or instance.pk is None:
        return
    old = sender.objects.filter(pk=instance.pk).only("mac", "device_secret", "mqtt_password", "owner_id").first()
    instance._deviceapi_broker_before = (old.mac, old.mqtt_password) if old else None
    instance._deviceapi_secret_before = (old.mac, old.device_secret) if old else None
    instance._deviceapi_owner_before = old.owner_id if old else None


def _device_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    from entryway.deviceapi.services import device_credentials_ensure

    device_credentials_ensure(device=instance)
    forget_versions(_household(instance))
    owner_before = getattr(instance, "_deviceapi_owner_before", None)
    if owner_before is not None and owner_before != instance.owner_id:
        # Moved to another user (the admin site can): the old household's files listed it.
        forget_versions(type(instance).objects.filter(owner_id=owner_before).values_list("pk", flat=True))
    secret_before = getattr(instance, "_deviceapi_secret_before", None)
    if secret_before is not None and secret_before != (instance.mac, instance.device_secret):
        # New hardware (a new MAC) or a new secret: the old credentials' cache entry proves nothing now.
        devicecache.forget([secret_before[0]])
    if not _dynsec_on():
        return
    from entryway.deviceapi.tasks import mqtt_device_provision_task, mqtt_device_revoke_task

    before = getattr(instance, "_deviceapi_broker_before", None)
    device_id, mac = instance.pk, instance.mac
    if created or before is None or before != (instance.mac, instance.mqtt_password):
        transaction.on_commit(lambda: mqtt_device_provision_task(device_id))
    if before is not None and before[0] != mac:
        old_mac = before[0]
        transaction.on_commit(lambda: mqtt_device_revoke_task(old_mac))


def _device_deleted(sender, instance, **kwargs):
    forget_versions(_household(instance))
    devicecache.forget([instance.mac])
    if settings.MQTT_URL and settings.MQTT_DYNSEC:
        from entryway.deviceapi.tasks import mqtt_device_revoke_task

        mac = instance.mac
        transaction.on_commit(lambda: mqtt_device_revoke_task(mac))


def _relay_changed(sender, instance, raw=False, **kwargs):
    if not raw:
        forget_versions([instance.device_id])


def _action_changed(sender, instance, raw=False, **kwargs):
    from entryway.deviceapi.services import FILE_KINDS

    if not raw and instance.kind in FILE_KINDS:
        forget_files([instance.device_id])


def _sip_account_changed(sender, instance, raw=False, **kwargs):
    from entryway.devices.models import IntercomDevice

    if raw:
        return
    forget_versions(IntercomDevice.objects.filter(sip_number=instance.number).values_list("pk", flat=True))


def _resident_changed(sender, instance, created=False, raw=False, **kwargs):
    if raw or created:
        return
    forget_versions(list(instance.devices.values_list("pk", flat=True)))


def connect() -> None:
    from entryway.deviceapi.models import DeviceAction
    from entryway.devices.models import IntercomDevice, Relay
    from entryway.residents.models import Resident
    from entryway.sip.models import SipAccount

    pre_save.connect(_device_saving, sender=IntercomDevice, dispatch_uid="deviceapi.device_saving")
    post_save.connect(_device_saved, sender=IntercomDevice, dispatch_uid="deviceapi.device_saved")
    post_delete.connect(_device_deleted, sender=IntercomDevice, dispatch_uid="deviceapi.device_deleted")
    post_save.connect(_relay_changed, sender=Relay, dispatch_uid="deviceapi.relay_saved")
    post_delete.connect(_relay_changed, sender=Relay, dispatch_uid="deviceapi.relay_deleted")
    post_save.connect(_action_changed, sender=DeviceAction, dispatch_uid="deviceapi.action_saved")
    post_save.connect(_sip_account_changed, sender=SipAccount, dispatch_uid="deviceapi.sip_saved")
    post_save.connect(_resident_changed, sender=Resident, dispatch_uid="deviceapi.resident_saved")
