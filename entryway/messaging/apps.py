from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "entryway.messaging"
    label = "messaging"

    def ready(self) -> None:
        from entryway.deviceapi.services import register_result_handler
        from entryway.messaging.services import message_delivery_record

        register_result_handler("message", message_delivery_record)
