"""The search lists' trigram indexes (entryway.core.trigram) on PostgreSQL: on ``UPPER(…)``, so that the
searches use them and a lookup by value (a MAC) never does: it takes the B-tree, whatever GIN's pending
list holds."""
from __future__ import annotations

import os

import pytest
from django.db import connection, transaction

INDEXES = {
    "devices_location_trgm": 'upper((location)::text)',
    "devices_mac_trgm": 'upper((mac)::text)',
    "devices_sip_trgm": 'upper((sip_number)::text)',
    "residents_name_trgm": 'upper((name)::text)',
    "residents_email_trgm": 'upper((email)::text)',
    "residents_mobile_trgm": 'upper((mobile_number)::text)',
}


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("CI runs the tests on PostgreSQL (DATABASE_URL)")
        pytest.skip("needs PostgreSQL (DATABASE_URL)")


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few rows: make the planner show its index choice
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_trigram_indexes_are_on_upper_case_expressions(postgres):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(%s)", [list(INDEXES)])
        found = dict(cursor.fetchall())
    assert set(found) == set(INDEXES)
    for name, expression in INDEXES.items():
        assert f"gin ({expression} gin_trgm_ops)" in found[name], found[name]


@pytest.mark.django_db
def test_searches_use_the_trigram_indexes_and_lookups_by_value_do_not(postgres, installer, make_resident,
                                                                      make_device):
    from entryway.devices.models import IntercomDevice
    from entryway.devices.selectors import device_list

    device = make_device(make_resident(installer))
    # The Device list's search matches as these do (icontains: UPPER(column::text) LIKE UPPER(…)).
    assert "UPPER" in str(device_list(installer, q=device.mac[-6:]).query)
    assert "devices_mac_trgm" in _plan(IntercomDevice.objects.filter(mac__icontains=device.mac[-6:]))
    # A whole MAC is matched by value (the unique index), not as a substring (the trigram index).
    whole = str(device_list(installer, q=":".join(device.mac[i:i + 2] for i in range(0, 12, 2)).lower()).query)
    assert f'"devices_intercomdevice"."mac" = {device.mac}' in whole
    assert 'UPPER("devices_intercomdevice"."mac"' not in whole, whole
    assert [d.pk for d in device_list(installer, q=device.mac.lower())] == [device.pk]
    assert "devices_sip_trgm" in _plan(IntercomDevice.objects.filter(sip_number__icontains="800"))
    for lookup in (IntercomDevice.objects.filter(mac=device.mac),
                   IntercomDevice.objects.filter(mac__in=[device.mac, "0C1105000000"]),
                   IntercomDevice.objects.filter(sip_number=device.sip_number or "8000000001")):
        assert "trgm" not in _plan(lookup)
