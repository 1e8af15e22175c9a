import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
application = get_wsgi_application()

# The device protocol's routes skip the portal's middleware (entryway/deviceapi/wsgi.py).
from entryway.deviceapi.wsgi import with_device_routes

application = with_device_routes(application)

# Import every view now rather than on the first request, then move everything loaded so far out of
# the garbage collector's reach: a full collection of the startup heap takes about 35 ms and lands
# in some request's latency (docs/architecture.md, "Garbage collection").
from django.urls import get_resolver

get_resolver().url_patterns
gc.collect()
gc.freeze()
