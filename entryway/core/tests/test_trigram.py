"""The search lists' trigram indexes (entryway.core.trigram) on PostgreSQL: made without GIN's pending list,
so an equality lookup that the planner answers from them (a MAC) does not read through a list of updates."""
from __future__ import annotations

import os

import pytest
from django.db import connection

INDEXES = ("devices_location_trgm", "devices_mac_trgm", "devices_sip_trgm", "residents_name_trgm",
           "residents_email_trgm", "residents_mobile_trgm")


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("CI runs the tests on PostgreSQL (DATABASE_URL)")
        pytest.skip("needs PostgreSQL (DATABASE_URL)")


@pytest.mark.django_db
def test_trigram_indexes_have_no_pending_list(postgres):
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)", [list(INDEXES)])
        options = dict(cursor.fetchall())
    assert set(options) == set(INDEXES)
    assert all("fastupdate=off" in (value or []) for value in options.values()), options
