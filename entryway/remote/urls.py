from django.urls import path, re_path

from entryway.remote import views
from entryway.remote.proxy import TOKEN_RE

app_name = "remote"
urlpatterns = [
    path("devices/<int:pk>/remote-control/", views.session_open, name="open"),
    path("remote-control/", views.session_list, name="session_list"),
    re_path(rf"^remote-control/(?P<token>{TOKEN_RE})/$", views.session_detail, name="session_detail"),
    re_path(rf"^remote-control/(?P<token>{TOKEN_RE})/status/$", views.session_status, name="session_status"),
    re_path(rf"^remote-control/(?P<token>{TOKEN_RE})/close/$", views.session_close, name="session_close"),
    # The device's own web interface, through its tunnel: /remote/<token>/ is the device's "/".
    re_path(rf"^remote/(?P<token>{TOKEN_RE})/(?P<path>.*)$", views.relay, name="relay"),
]
