"""Test settings. DATABASE_URL selects PostgreSQL (CI); SQLite otherwise."""
import os
import tempfile

os.environ.setdefault("ENTRYWAY_VAR_DIR", tempfile.mkdtemp(prefix="entryway-test-"))

from config.settings.base import *  # noqa: E402,F401,F403
from config.settings.base import HUEY  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
HUEY = {**HUEY, "immediate": True}

# A file database (not SQLite's in-memory one), so that outside processes such as Kamailio
# can read what the tests write.
from config.settings.base import DATABASES, VAR_DIR  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
