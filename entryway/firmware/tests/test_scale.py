"""A strategy for 10,000 devices is created in one request with a fixed number of queries."""
from __future__ import annotations

import secrets

import pytest
from django.db import connection
from django.utils import timezone

from entryway.firmware import services
from entryway.firmware.models import UpgradeTarget

pytestmark = pytest.mark.django_db

N = 10_000


@pytest.fixture
def big_fleet(installer, make_resident, device_model):
    from entryway.devices.models import IntercomDevice, MacLibraryEntry

    owner = make_resident(installer, name="Fleet owner")
    model = device_model("R29")
    now = timezone.now()
    entries = MacLibraryEntry.objects.bulk_create(
        [MacLibraryEntry(mac=f"BF{i:010X}", installer=installer) for i in range(N)], batch_size=2000)
    IntercomDevice.objects.bulk_create([
        IntercomDevice(installer=installer, owner=owner, device_model=model, mac=e.mac, mac_entry=e,
                       location=f"Gate {i}", sip_number=f"79{i:08d}", device_secret=secrets.token_hex(8),
                       firmware_version="29.30.2.800", last_seen_at=now)
        for i, e in enumerate(entries)
    ], batch_size=2000)
    return list(IntercomDevice.objects.filter(installer=installer).values_list("pk", flat=True))


def _query_limit() -> int:
    # PostgreSQL inserts 2,000 rows a statement; Django's SQLite backend caps a statement at 999
    # parameters (about 70 rows here). Either way far below one query per device.
    return 40 if connection.vendor == "postgresql" else 250


def test_ten_thousand_devices_in_one_request(api, big_fleet, make_firmware, django_assert_max_num_queries):
    fw = make_firmware()
    # The 2 s target is measured by bench/bench_rollout.py; here: one request, bulk statements.
    with django_assert_max_num_queries(_query_limit()):
        response = api.post("/api/v1/update-strategies", {
            "firmware_id": fw.pk, "device_ids": big_fleet, "upgrade_right_now": True, "waves": [10, 50]})
    assert response.status_code == 201, response.content[:500]
    assert response.json()["device_count"] == N
    assert UpgradeTarget.objects.filter(wave=0).count() == N // 10

    # starting it gives the first wave its actions in bulk too
    with django_assert_max_num_queries(_query_limit()):
        services.strategy_start(strategy_id=response.json()["id"])
    assert UpgradeTarget.objects.filter(wave=0, action__isnull=False).count() == N // 10
