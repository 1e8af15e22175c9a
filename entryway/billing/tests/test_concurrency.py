"""Two webhooks for the same payment at the same moment: the order takes effect exactly once (PostgreSQL)."""
from __future__ import annotations

import os
import threading

import pytest
from django.db import connection
from django.test import Client

from entryway.billing import services
from entryway.billing.choices import OrderStatus
from entryway.billing.models import Order, PaymentEvent
from entryway.billing.tests.stripe_helpers import post_event, session_event, signed
from entryway.core.models import AuditLog

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def needs_postgres():
    if connection.vendor != "postgresql" and not os.environ.get("CI"):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")


@pytest.mark.parametrize("same_event", [True, False], ids=["same-event-twice", "two-events"])
def test_concurrent_webhooks_fulfil_once(stripe_keys, installer, make_resident, activate, same_event):
    host = activate(make_resident(installer, name="Host"))
    order = services.order_create(acting_user=installer, order_type="additional_app", resident_ids=[host.pk],
                                  apps_per_user=1)
    order = services.order_checkout(acting_user=installer, order=order, payment_method="stripe")
    payloads = [session_event(order, event_id="evt_same" if same_event else f"evt_{i}") for i in range(4)]
    barrier = threading.Barrier(len(payloads))
    outcomes: list[str] = []

    def deliver(payload):
        from django.db import connections

        try:
            client = Client()
            header = signed(payload)
            barrier.wait()
            response = post_event(client, payload, header)
            outcomes.append(f"{response.status_code} {response.json()['outcome']}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("200 paid") == 1, outcomes
    expected_other = "200 duplicate" if same_event else "200 already paid"
    assert outcomes.count(expected_other) == 3, outcomes
    host.refresh_from_db()
    assert host.family_member_limit == 4
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SUCCEED
    assert AuditLog.objects.filter(action="billing.order_fulfil").count() == 1
    assert PaymentEvent.objects.count() == (1 if same_event else 4)
