import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
application = get_wsgi_application()

# The device protocol's routes skip the portal's middleware (entryway/deviceapi/wsgi.py).
from entryway.deviceapi.wsgi import with_device_routes

application = with_device_routes(application)
