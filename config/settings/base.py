"""Settings shared by every configuration. Values come from the environment (config.env)."""
from __future__ import annotations

import base64
import hashlib

import dj_database_url
from django.utils.translation import gettext_lazy as _

from config.env import BASE_DIR, env

VAR_DIR = env.path("ENTRYWAY_VAR_DIR", BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env.str("SECRET_KEY", "entryway-embedded-default-not-for-production")
DEBUG = env.bool("DEBUG", False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])

# Key for secrets that must be given back (camera and SIP passwords). Any string; a
# Fernet key is derived from it. Production sets ENCRYPTION_KEY.
ENCRYPTION_KEY = env.str("ENCRYPTION_KEY", SECRET_KEY)
FERNET_KEY = base64.urlsafe_b64encode(hashlib.sha256(ENCRYPTION_KEY.encode()).digest())

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # serves the API docs' Swagger UI from static files (no CDN, no inline script)
    "huey.contrib.djhuey",
    "entryway.core",
    "entryway.accounts",
    "entryway.sip",
    "entryway.residents",
    "entryway.devices",
    "entryway.deviceapi",
    "entryway.firmware",
    "entryway.messaging",
    "entryway.billing",
    "entryway.portals",
    "entryway.dashboard",
    "entryway.remote",
    "entryway.web",
    "entryway.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "entryway.core.middleware.RequestIdMiddleware",
    "entryway.core.metrics.MetricsMiddleware",
    "entryway.core.errors.DatabaseUnavailableMiddleware",
    "entryway.core.middleware.NullCharacterMiddleware",
    "entryway.core.ratelimit.DeviceRateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "entryway.portals.middleware.AccountAccessMiddleware",
    "entryway.accounts.middleware.AccountLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "entryway.web.context_processors.portal",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env.str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'entryway.sqlite3'}"),
        conn_max_age=env.int("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # The device hot paths' SQL (entryway.core.rawsql.cursor) is bound by the server and prepared once per
    # connection after this many uses: PostgreSQL then skips parsing and planning it. Django's own queries
    # keep client-side binding, which never prepares. "off" for a pooler that cannot keep prepared
    # statements (PgBouncer before 1.21 in transaction mode, or without max_prepared_statements).
    _prepare = env.str("DB_PREPARE_THRESHOLD", "2").strip().lower()
    if _prepare not in ("off", "none", "") and not _prepare.isdigit():
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"DB_PREPARE_THRESHOLD must be a number of uses (0 or more) or off, not {_prepare!r}")
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        int(_prepare) if _prepare.isdigit() else None)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.Account"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Redis by URL: redis:// (TCP), rediss:// (TLS) or unix:// (a socket on this machine). Anything else is
# refused at start: a mistyped scheme must not quietly leave each machine with a cache or queue of its own.
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _redis_url(name: str) -> str:
    value = env.str(name, "")
    if value and not value.startswith(REDIS_SCHEMES):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"{name} must start with redis://, rediss:// or unix:// (or be empty for the "
                                   f"embedded default), not {value.split('://', 1)[0]!r}.")
    return value


CACHE_URL = _redis_url("CACHE_URL")
if CACHE_URL:
    # Django's backend without its per-operation client construction (entryway/core/cache.py).
    CACHES = {"default": {"BACKEND": "entryway.core.cache.RedisCache", "LOCATION": CACHE_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# The 12 languages of the guide. Django ships translations for all of them.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("zh-hans", _("Simplified Chinese")),
    ("ko", _("Korean")),
    ("ja", _("Japanese")),
    ("tr", _("Turkish")),
    ("pl", _("Polish")),
    ("ru", _("Russian")),
    ("es", _("Spanish")),
    ("bs", _("Bosnian")),
    ("da", _("Danish")),
    ("vi", _("Vietnamese")),
    ("fr", _("French")),
]
LOCALE_PATHS = [BASE_DIR / "entryway" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", VAR_DIR / "static")
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", VAR_DIR / "media")
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

# E-mail: embedded default writes files under var/mail/.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = str(env.path("EMAIL_FILE_PATH", VAR_DIR / "mail"))
EMAIL_HOST = env.str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "entryway <no-reply@entryway.local>")
# Absolute base URL used in e-mailed links and AutoP files.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", "http://127.0.0.1:8000")

# Background work (Huey). Embedded: its own SQLite file, never the app's database.
HUEY_URL = _redis_url("HUEY_URL")
if HUEY_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        # Queue name in Redis: separate platforms sharing one Redis need their own.
        "name": env.str("HUEY_NAME", "entryway"),
        "url": HUEY_URL,
        "immediate": env.bool("HUEY_IMMEDIATE", False),
        "consumer": {"workers": env.int("HUEY_WORKERS", 2), "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "entryway",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": env.bool("HUEY_IMMEDIATE", False),
        "consumer": {"workers": env.int("HUEY_WORKERS", 2), "worker_type": "thread"},
    }

# Platform behaviour
SIP_PREFIX = env.str("SIP_PREFIX", "5926")
SIP_DOMAIN = env.str("SIP_DOMAIN", "sip.entryway.local")
SIP_SERVER = env.str("SIP_SERVER", "")
SIP_PORT = env.int("SIP_PORT", 5060)
MQTT_URL = env.str("MQTT_URL", "")  # e.g. mqtt://user:pass@127.0.0.1:1883
DEVICE_POLL_INTERVAL = env.int("DEVICE_POLL_INTERVAL", 60)
DEVICE_OFFLINE_AFTER = env.int("DEVICE_OFFLINE_AFTER", 180)
DEFAULT_FAMILY_MEMBER_LIMIT = env.int("DEFAULT_FAMILY_MEMBER_LIMIT", 3)
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", 900)

# Security headers (production tightens cookies in production.py)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "entryway.core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if env.bool("LOG_JSON", False) else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

NINJA_PAGINATION_PER_PAGE = 20
METRICS_TOKEN = env.str("METRICS_TOKEN", "")

# sip
SIP_LANDLINE_NO_ANSWER_SECONDS = env.int("SIP_LANDLINE_NO_ANSWER_SECONDS", 20)
SIP_PIKE_DENSITY = env.int("SIP_PIKE_DENSITY", 40)
SIP_TLS_CERTIFICATE = env.str("SIP_TLS_CERTIFICATE", "")
SIP_TLS_PRIVATE_KEY = env.str("SIP_TLS_PRIVATE_KEY", "")
SIP_ENABLED = env.bool("SIP_ENABLED", bool(SIP_SERVER))

# messaging
MESSAGE_DEVICE_EXPIRY_SECONDS = env.int("MESSAGE_DEVICE_EXPIRY_SECONDS", 7 * 24 * 3600)
MESSAGE_MAX_RECEIVERS = env.int("MESSAGE_MAX_RECEIVERS", 10000)

# firmware
FIRMWARE_UPGRADE_DEADLINE_SECONDS = env.int("FIRMWARE_UPGRADE_DEADLINE_SECONDS", 24 * 3600)
FIRMWARE_URL_MAX_AGE_SECONDS = env.int("FIRMWARE_URL_MAX_AGE_SECONDS", 14 * 24 * 3600)
FIRMWARE_MAX_SIZE_MB = env.int("FIRMWARE_MAX_SIZE_MB", 512)

# deviceapi
NTP_SERVER = env.str("NTP_SERVER", "pool.ntp.org")
# Broker address handed to devices in AutoP files (defaults to MQTT_URL without its credentials).
MQTT_DEVICE_URL = env.str("MQTT_DEVICE_URL", "")
# Per-device broker credentials through Mosquitto's dynamic-security plugin (MQTT_URL's user is a dynsec admin).
MQTT_DYNSEC = env.bool("MQTT_DYNSEC", False)
MQTT_TIMEOUT = float(env.str("MQTT_TIMEOUT", "3"))
# Devices publish their action results on entryway/device/<MAC>/status (the AutoP file says so), recorded in
# batches by `manage.py mqtt_reports`; run that consumer before turning this on (docs/device-protocol.md, 5).
MQTT_RESULTS = env.bool("MQTT_RESULTS", False)
# A device's Last Connected Time is written at most this often (seconds); check-ins in between only read.
DEVICE_LAST_SEEN_WRITE_INTERVAL = env.int("DEVICE_LAST_SEEN_WRITE_INTERVAL", 30)
# With a Redis cache, idle check-ins queue their Last Connected Time and one of them writes the queue
# in a single batch at most this often (seconds); see entryway/deviceapi/devicecache.py.
LAST_SEEN_FLUSH_INTERVAL = env.int("LAST_SEEN_FLUSH_INTERVAL", 10)
AUTOP_BATCH_MAX_DEVICES = env.int("AUTOP_BATCH_MAX_DEVICES", 500)
AUTOP_ONCE_EXPIRY_SECONDS = env.int("AUTOP_ONCE_EXPIRY_SECONDS", 30 * 24 * 3600)
REBOOT_EXPIRY_SECONDS = env.int("REBOOT_EXPIRY_SECONDS", 24 * 3600)
AUTOP_RATE_LIMIT = env.int("AUTOP_RATE_LIMIT", 600)
# Per device (its MAC) on /device/ and /autop/, a minute; refused device credentials per address, ten minutes.
DEVICE_RATE_LIMIT = env.int("DEVICE_RATE_LIMIT", 600)
DEVICE_AUTH_FAILURE_LIMIT = env.int("DEVICE_AUTH_FAILURE_LIMIT", 1000)

# devices
MAC_IMPORT_MAX_MB = env.int("MAC_IMPORT_MAX_MB", 20)
# Imports of files up to this size run in the request; larger ones run as a background task.
MAC_IMPORT_INLINE_MAX_BYTES = env.int("MAC_IMPORT_INLINE_MAX_BYTES", 64 * 1024)

# portals
# The manuals read and downloaded in the portal's Help (Markdown files).
MANUALS_DIR = env.path("MANUALS_DIR", BASE_DIR / "docs")

# billing
BILLING_CURRENCY = env.str("BILLING_CURRENCY", "USD")
BILLING_DEFAULT_ACTIVATION_FEE = env.str("BILLING_DEFAULT_ACTIVATION_FEE", "2.00")
BILLING_DEFAULT_RENEWAL_FEE = env.str("BILLING_DEFAULT_RENEWAL_FEE", "1.00")
BILLING_DEFAULT_ADDITIONAL_APP_FEE = env.str("BILLING_DEFAULT_ADDITIONAL_APP_FEE", "1.00")
BILLING_DEFAULT_PREMIUM_PLAN_FEE = env.str("BILLING_DEFAULT_PREMIUM_PLAN_FEE", "0.50")
# An activation buys this many months of service.
BILLING_ACTIVATION_MONTHS = env.int("BILLING_ACTIVATION_MONTHS", 12)
BILLING_MAX_USERS_PER_ORDER = env.int("BILLING_MAX_USERS_PER_ORDER", 3000)
BILLING_MAX_RENEWAL_MONTHS = env.int("BILLING_MAX_RENEWAL_MONTHS", 36)
# An unpaid order times out after this many minutes.
BILLING_ORDER_TIMEOUT_MINUTES = env.int("BILLING_ORDER_TIMEOUT_MINUTES", 60)
# A bank transfer announced by the payer waits this long for the platform admin's confirmation.
BILLING_BANK_TRANSFER_TIMEOUT_DAYS = env.int("BILLING_BANK_TRANSFER_TIMEOUT_DAYS", 14)
BILLING_BANK_TRANSFER_DETAILS = env.str("BILLING_BANK_TRANSFER_DETAILS", "")
BILLING_EXPIRATION_REMINDER_DAYS = env.int("BILLING_EXPIRATION_REMINDER_DAYS", 7)
# The built-in test provider (a checkout page marked TEST MODE); on unless turned off in production.
BILLING_TEST_PROVIDER = env.bool("BILLING_TEST_PROVIDER", True)
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", "")
BILLING_INVOICE_ISSUER = env.str("BILLING_INVOICE_ISSUER", "entryway")
# Unicode fonts for invoices, first found wins; the CJK font is the fallback for Chinese, Japanese, Korean.
BILLING_INVOICE_FONT = env.str("BILLING_INVOICE_FONT", "")
BILLING_INVOICE_CJK_FONT = env.str("BILLING_INVOICE_CJK_FONT", "")

# dashboard: long operations run as background jobs whose progress the portal shows
# Exports of more rows than this run in the background; smaller ones download at once.
EXPORT_INLINE_MAX_ROWS = env.int("EXPORT_INLINE_MAX_ROWS", 5000)
# Orders for more users than this are made in the background.
BILLING_ORDER_INLINE_MAX_USERS = env.int("BILLING_ORDER_INLINE_MAX_USERS", 500)

# remote (Remote Control: a device's own web interface through the platform)
REMOTE_SESSION_MAX_SECONDS = env.int("REMOTE_SESSION_MAX_SECONDS", 600)
# The portal says "the device did not connect" when no tunnel came this long after the button.
REMOTE_CONNECT_TIMEOUT = env.int("REMOTE_CONNECT_TIMEOUT", 90)
# A browser request waits at most this long for the device's answer; a tunnel poll is held at most this long.
REMOTE_REQUEST_TIMEOUT = env.int("REMOTE_REQUEST_TIMEOUT", 20)
REMOTE_POLL_WAIT = env.int("REMOTE_POLL_WAIT", 20)
# Largest request or answer body carried through a tunnel.
REMOTE_MAX_BODY_BYTES = env.int("REMOTE_MAX_BODY_BYTES", 1024 * 1024)
REMOTE_MAX_SESSIONS_PER_INSTALLER = env.int("REMOTE_MAX_SESSIONS_PER_INSTALLER", 3)
# Requests held waiting at once in one web process (tunnel polls and browser requests); more are refused.
REMOTE_MAX_WAITING = env.int("REMOTE_MAX_WAITING", 32)
