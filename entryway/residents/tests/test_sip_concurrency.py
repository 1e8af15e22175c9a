"""SIP numbers under concurrency: many requests at once against PostgreSQL never share a number."""
from __future__ import annotations

import os
import threading

import pytest
from django.db import connection

from entryway.sip.choices import SipKind

THREADS = 16
PER_THREAD = 5

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql" and not os.environ.get("CI"):
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://...)")
    assert connection.vendor == "postgresql", "CI runs this test against PostgreSQL"


def run_in_threads(work) -> tuple[list, list]:
    """Start THREADS threads together; each uses (and closes) its own database connection."""
    barrier = threading.Barrier(THREADS)
    results, errors, lock = [], [], threading.Lock()

    def worker(index: int):
        from django.db import connection as thread_connection

        try:
            barrier.wait(timeout=30)
            for step in range(PER_THREAD):
                value = work(index, step)
                with lock:
                    results.append(value)
        except Exception as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(repr(exc))
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


def test_numbers_allocated_from_many_threads_are_unique():
    from entryway.sip.services import sip_number_allocate

    results, errors = run_in_threads(lambda i, s: sip_number_allocate(kind=SipKind.FAMILY))
    assert not errors, errors
    assert len(results) == THREADS * PER_THREAD
    assert len(set(results)) == len(results)
    assert all(len(n) == 10 and n.isdigit() for n in results)


def test_users_created_from_many_threads_get_distinct_numbers(installer):
    from entryway.residents.models import Resident
    from entryway.residents.services import resident_create
    from entryway.sip.models import SipAccount

    def create(index, step):
        r = resident_create(acting_user=installer, installer=installer, name=f"T{index}-{step}")
        return r.family_sip, r.personal_sip

    results, errors = run_in_threads(create)
    assert not errors, errors
    family = [f for f, _p in results]
    personal = [p for _f, p in results]
    assert len(set(family)) == len(family) == THREADS * PER_THREAD
    assert len(set(personal)) == len(personal)
    assert not set(family) & set(personal)
    assert Resident.objects.count() == THREADS * PER_THREAD
    assert SipAccount.objects.filter(number__in=personal).count() == len(personal)
