"""Stripe Checkout: sessions created with an idempotency key; signed webhooks (valid, tampered, replayed, stale)."""
from __future__ import annotations

import time

import pytest

from entryway.billing import providers, services
from entryway.billing.choices import OrderStatus
from entryway.billing.models import Order, PaymentEvent
from entryway.billing.tests.stripe_helpers import RecordingHTTPClient, post_event, session_event, signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_order(stripe_keys, installer, make_resident, activate, make_order):
    host = activate(make_resident(installer, name="Host"))
    order = make_order([host], order_type="additional_app", apps_per_user=1)
    return services.order_checkout(acting_user=installer, order=order, payment_method="stripe"), host


def test_checkout_session_is_created_with_an_idempotency_key(stripe_order, monkeypatch):
    order, _host = stripe_order
    recorder = RecordingHTTPClient()
    monkeypatch.setattr(providers, "stripe_http_client", recorder)
    checkout = providers.get_provider("stripe").begin(order, base_url="https://portal.example/")
    assert checkout.redirect_url == "https://checkout.stripe.com/c/pay/cs_test_recorded"
    call = recorder.calls[0]
    assert call["method"] == "post" and call["url"].endswith("/v1/checkout/sessions")
    assert call["headers"]["Idempotency-Key"] == f"entryway-order-{order.number}"
    assert call["params"]["line_items[0][price_data][unit_amount]"] == ["100"]
    assert call["params"]["line_items[0][price_data][currency]"] == ["usd"]
    assert call["params"]["client_reference_id"] == [order.number]
    order.refresh_from_db()
    assert order.provider_reference == "cs_test_recorded"
    assert order.status == OrderStatus.PROCESSING  # only the webhook fulfils


def test_valid_signed_webhook_fulfils_once(client, stripe_order):
    order, host = stripe_order
    payload = session_event(order)
    response = post_event(client, payload, signed(payload))
    assert response.status_code == 200 and response.json()["outcome"] == "paid"
    order.refresh_from_db()
    host.refresh_from_db()
    assert order.status == OrderStatus.SUCCEED and order.provider_reference == "pi_evt_1"
    assert host.family_member_limit == 4
    # the same event again (a replay): nothing more happens
    response = post_event(client, payload, signed(payload))
    assert response.status_code == 200 and response.json()["outcome"] == "duplicate"
    # another event for the same order (Stripe retries with a new id): still only once
    second = session_event(order, event_id="evt_2")
    assert post_event(client, second, signed(second)).json()["outcome"] == "already paid"
    host.refresh_from_db()
    assert host.family_member_limit == 4
    assert PaymentEvent.objects.count() == 2


def test_tampered_body_is_refused(client, stripe_order):
    order, host = stripe_order
    payload = session_event(order, amount=1)
    header = signed(payload)
    tampered = payload.replace('"amount_total": 1', '"amount_total": 100')
    response = post_event(client, tampered, header)
    assert response.status_code == 400
    order.refresh_from_db()
    assert order.status == OrderStatus.PROCESSING and not PaymentEvent.objects.exists()


def test_forged_and_stale_signatures_are_refused(client, stripe_order):
    order, _host = stripe_order
    payload = session_event(order)
    assert post_event(client, payload, signed(payload, secret="whsec_someone_else")).status_code == 400
    assert post_event(client, payload, signed(payload, timestamp=int(time.time()) - 3600)).status_code == 400
    assert post_event(client, payload, "").status_code == 400
    assert post_event(client, "not json", signed("not json")).status_code == 400
    order.refresh_from_db()
    assert order.status == OrderStatus.PROCESSING


def test_signed_event_with_the_wrong_amount_does_not_fulfil(client, stripe_order):
    order, host = stripe_order
    payload = session_event(order, amount=1)
    assert post_event(client, payload, signed(payload)).json()["outcome"] == "amount mismatch"
    order.refresh_from_db()
    assert order.status == OrderStatus.PROCESSING


def test_unpaid_and_expired_sessions(client, stripe_order):
    order, _host = stripe_order
    waiting = session_event(order, event_id="evt_w", payment_status="unpaid")
    assert post_event(client, waiting, signed(waiting)).json()["outcome"] == "awaiting payment"
    expired = session_event(order, event_id="evt_x", event_type="checkout.session.expired")
    assert post_event(client, expired, signed(expired)).json()["outcome"] == "expired"
    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED


def test_unknown_order_and_unhandled_events(client, stripe_keys):
    import json

    payload = json.dumps({"id": "evt_9", "type": "customer.created", "data": {"object": {}}})
    assert post_event(client, payload, signed(payload)).json()["outcome"] == "ignored"
    payload = json.dumps({"id": "evt_10", "type": "checkout.session.completed",
                          "data": {"object": {"client_reference_id": "999", "payment_status": "paid"}}})
    assert post_event(client, payload, signed(payload)).json()["outcome"] == "unknown order"


def test_webhook_routes(client, stripe_keys, settings):
    assert client.get("/billing/webhooks/stripe").status_code == 405
    assert client.post("/billing/webhooks/test", data="{}", content_type="application/json").status_code == 404
    assert client.post("/billing/webhooks/paypal", data="{}", content_type="application/json").status_code == 404
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert client.post("/billing/webhooks/stripe", data="{}", content_type="application/json").status_code == 404
    assert not Order.objects.exists()
