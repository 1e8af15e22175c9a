from django.apps import AppConfig


class SipConfig(AppConfig):
    name = "entryway.sip"
    label = "sip"
