from django.conf import settings
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog, set_language

handler500 = "entryway.core.errors.server_error"

urlpatterns = [
    path("", include("entryway.web.urls")),
    path("", include("entryway.accounts.urls")),
    path("users/", include("entryway.residents.urls")),
    path("", include("entryway.devices.urls")),
    path("", include("entryway.firmware.urls")),
    path("", include("entryway.messaging.urls")),
    path("", include("entryway.billing.urls")),
    path("", include("entryway.portals.urls")),
    path("", include("entryway.deviceapi.urls")),
    path("", include("entryway.sip.urls")),
    path("", include("entryway.dashboard.urls")),
    path("", include("entryway.remote.urls")),
    path("", include("entryway.remote.device_urls")),
    path("api/", include("entryway.api.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
