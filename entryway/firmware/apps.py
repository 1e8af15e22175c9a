from django.apps import AppConfig


class FirmwareConfig(AppConfig):
    name = "entryway.firmware"
    label = "firmware"

    def ready(self) -> None:
        from entryway.deviceapi.services import register_result_handler
        from entryway.firmware.services import upgrade_result_record, upgrade_results_record

        register_result_handler("upgrade", upgrade_result_record, many=upgrade_results_record)
