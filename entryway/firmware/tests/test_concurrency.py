"""Two installers' sessions creating overlapping updates at the same moment: one wins, no device gets two."""
from __future__ import annotations

import os
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from entryway.firmware import services
from entryway.firmware.models import UpgradeTarget

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def needs_postgres():
    if connection.vendor != "postgresql" and not os.environ.get("CI"):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")


def test_concurrent_overlapping_creations(installer, make_firmware, make_device):
    fw = make_firmware()
    devices = [make_device(installer) for _ in range(200)]
    ids = [d.pk for d in devices]
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def create(offset: int):
        from django.db import connections

        try:
            barrier.wait()
            # each request overlaps the others on at least half of its devices
            chosen = ids[offset * 25: offset * 25 + 120]
            services.strategy_create(acting_user=installer, firmware=fw, device_ids=chosen, upgrade_right_now=True)
            outcomes.append("created")
        except ValidationError as exc:
            outcomes.append("refused: " + " ".join(exc.messages))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("created") == 1, outcomes
    assert all("strategy" in o for o in outcomes if o != "created")
    active = list(UpgradeTarget.objects.filter(active=True).values_list("device_id", flat=True))
    assert len(active) == len(set(active)) == 120
