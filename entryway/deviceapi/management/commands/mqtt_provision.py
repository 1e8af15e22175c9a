"""Give every device (or the given MACs) its broker credentials, e.g. after configuring a broker."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from entryway.core.validators import normalize_mac
from entryway.deviceapi.services import mqtt_device_provision
from entryway.devices.models import IntercomDevice


class Command(BaseCommand):
    help = "Create the per-device MQTT credentials (Mosquitto dynamic security) of existing devices."

    def add_arguments(self, parser):
        parser.add_argument("macs", nargs="*", help="only these MACs (default: every device)")

    def handle(self, *args, macs, **options):
        if not (settings.MQTT_URL and settings.MQTT_DYNSEC):
            raise CommandError("Set MQTT_URL and MQTT_DYNSEC=true first.")
        devices = IntercomDevice.objects.order_by("pk")
        if macs:
            devices = devices.filter(mac__in=[normalize_mac(m) for m in macs])
        count = 0
        for pk in devices.values_list("pk", flat=True).iterator():
            mqtt_device_provision(device_id=pk)
            count += 1
        self.stdout.write(f"{count} device(s) provisioned on the broker.")
