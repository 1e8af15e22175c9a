from django.apps import AppConfig


class RemoteConfig(AppConfig):
    name = "entryway.remote"
    label = "remote"

    def ready(self) -> None:
        from entryway.deviceapi.services import register_result_handler
        from entryway.remote.services import session_action_result

        register_result_handler("remote_control", session_action_result)
