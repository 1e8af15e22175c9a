"""A Huey consumer that stops dead inside a rollout: after the first wave's device actions are
written, and before that transaction commits, it writes ENTRYWAY_FAULT_PAUSE_FILE and sleeps, so
that the test can SIGKILL it exactly there. Run as ``python -m entryway.core.tests.fault_consumer``."""
import os
import pathlib
import time

import django

django.setup()

from entryway.firmware import services

_original = services.actions_bulk_create


def _pause_after_writing(*args, **kwargs):
    result = _original(*args, **kwargs)
    pathlib.Path(os.environ["ENTRYWAY_FAULT_PAUSE_FILE"]).write_text("actions written, not committed")
    time.sleep(600)
    return result


services.actions_bulk_create = _pause_after_writing

from django.utils.module_loading import autodiscover_modules
from huey.contrib.djhuey import HUEY

autodiscover_modules("tasks")  # as run_huey does: every app's periodic tasks
HUEY.create_consumer(workers=1, periodic=True, check_worker_health=False).run()
