"""Production: the same code, stricter transport settings. Everything else comes from the environment."""
from config.settings.base import *  # noqa: F401,F403
from config.env import env

DEBUG = False
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
# Load balancers and Prometheus talk to the web processes directly, devices may not do TLS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$", r"^autop/", r"^device/"]
SESSION_COOKIE_SAMESITE = "Strict"
LOG_JSON = True
LOGGING["handlers"]["console"]["formatter"] = "json"  # noqa: F405

if SECRET_KEY == "entryway-embedded-default-not-for-production":  # noqa: F405
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("Set SECRET_KEY (and ENCRYPTION_KEY) in the environment for production.")
