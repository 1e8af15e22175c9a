"""Signed Stripe events built with stripe's own signing helper, and a recording HTTP client."""
from __future__ import annotations

import json
import time
import urllib.parse

import stripe

SECRET = "whsec_entryway_test_secret"


def session_event(order, *, event_id="evt_1", event_type="checkout.session.completed", amount=None,
                  currency=None, payment_status="paid") -> str:
    minor = amount if amount is not None else int(order.final_price * 100)
    return json.dumps({
        "id": event_id, "object": "event", "type": event_type, "api_version": "2024-06-20",
        "created": int(time.time()),
        "data": {"object": {
            "id": f"cs_test_{order.number}", "object": "checkout.session", "client_reference_id": order.number,
            "metadata": {"order_number": order.number}, "amount_total": minor,
            "currency": (currency or order.currency).lower(), "payment_status": payment_status,
            "payment_intent": f"pi_{event_id}",
        }},
    })


def signed(payload: str, *, secret: str = SECRET, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)


def post_event(client, payload: str, header: str):
    return client.post("/billing/webhooks/stripe", data=payload, content_type="application/json",
                       headers={"Stripe-Signature": header})


class RecordingHTTPClient(stripe.HTTPClient):
    """Answers Stripe API calls locally and remembers them (no network)."""

    name = "recording"

    def __init__(self):
        super().__init__()
        self.calls: list[dict] = []

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        params = urllib.parse.parse_qs(post_data.decode() if isinstance(post_data, bytes) else (post_data or ""))
        self.calls.append({"method": method, "url": url, "headers": dict(headers or {}), "params": params})
        body = {"id": "cs_test_recorded", "object": "checkout.session",
                "url": "https://checkout.stripe.com/c/pay/cs_test_recorded",
                "client_reference_id": params.get("client_reference_id", [""])[0]}
        return json.dumps(body), 200, {"request-id": "req_local"}
