"""Settings of a real Huey consumer started by the fault tests: the test's own database, a queue file."""
import os

from config.settings.test import *
from config.settings.test import DATABASES, HUEY

DATABASES["default"]["NAME"] = os.environ["ENTRYWAY_FAULT_DB_NAME"]
DATABASES["default"]["CONN_MAX_AGE"] = 0
HUEY = {key: value for key, value in HUEY.items() if key != "url"}
HUEY.update({"huey_class": "huey.SqliteHuey", "filename": os.environ["ENTRYWAY_FAULT_QUEUE"], "immediate": False})
