from django.apps import AppConfig


class DeviceApiConfig(AppConfig):
    name = "entryway.deviceapi"
    label = "deviceapi"

    def ready(self) -> None:
        from entryway.deviceapi import signals
        from entryway.deviceapi.mqtt import publish_checkin
        from entryway.deviceapi.services import register_pusher

        signals.connect()
        # Publishes only while settings.MQTT_URL is set; without a broker devices poll.
        register_pusher(publish_checkin)
