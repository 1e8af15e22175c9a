"""Device-facing Remote Control routes (own credentials: MAC + device secret; no session, no CSRF)."""
from django.urls import re_path

from entryway.remote import protocol
from entryway.remote.proxy import TOKEN_RE

app_name = "remote_device"
urlpatterns = [
    re_path(rf"^device/v1/tunnel/(?P<token>{TOKEN_RE})/next$", protocol.tunnel_next, name="tunnel_next"),
    re_path(rf"^device/v1/tunnel/(?P<token>{TOKEN_RE})/reply/(?P<request_id>[0-9]{{1,18}})$", protocol.tunnel_reply,
            name="tunnel_reply"),
]
