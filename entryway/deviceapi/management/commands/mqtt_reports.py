"""Record the action results devices publish over MQTT (entryway.deviceapi.reports); runs until stopped."""
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from entryway.deviceapi.reports import CLIENT_ID, ReportConsumer


class Command(BaseCommand):
    help = "Record the action results that devices publish on their MQTT status topic (run one, with MQTT_RESULTS)."

    def add_arguments(self, parser):
        parser.add_argument("--client-id", default=CLIENT_ID,
                            help=f"the broker session to use (default {CLIENT_ID}; the broker keeps reports for it)")

    def handle(self, *args, client_id, **options):
        if not settings.MQTT_URL:
            raise CommandError("Set MQTT_URL first (the platform's broker connection).")
        if not settings.MQTT_RESULTS:
            self.stderr.write("MQTT_RESULTS is off: devices are not told to publish their results; "
                              "recording what arrives anyway.")
        consumer = ReportConsumer(client_id=client_id)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: consumer.stop())
        consumer.start()
        self.stdout.write(f"Recording device reports from {consumer.broker.host}:{consumer.broker.port} "
                          f"as {client_id}.")
        self.stdout.flush()
        try:
            consumer.run()
        finally:
            consumer.close()
        totals = consumer.totals
        self.stdout.write(f"Stopped: {totals['recorded']} recorded, {totals['ignored']} ignored, "
                          f"{totals['refused']} refused in {totals['batches']} batch(es).")
