"""Billing at scale: one order for 3,000 users, created through the API and fulfilled by a signed Stripe webhook.

    python -m bench.bench_billing                     # a fresh PostgreSQL database entryway_billing
    DATABASE_URL=sqlite:////tmp/billing.sqlite3 python -m bench.bench_billing

For each purchase type (Active, Renew, Additional App) it seeds BENCH_BILLING_USERS users (default 3,000),
then times: ``POST /api/v1/orders`` (validation, server-side pricing, one row per user) and the
``checkout.session.completed`` webhook (signature check, event id stored, the users' service changed in a
handful of statements, one audit row). A replay of the same event is timed too (it must do nothing).
The target is creation + fulfilment within 2 s.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
import time

from bench import common

N_USERS = int(os.environ.get("BENCH_BILLING_USERS", "3000"))
WEBHOOK_SECRET = "whsec_bench_" + secrets.token_hex(8)


def _setup_django() -> str:
    url = os.environ.get("DATABASE_URL") or os.environ.get("BENCH_BILLING_DATABASE_URL")
    if not url:
        url = common.database_url().rsplit("/", 1)[0] + "/entryway_billing"
        common.reset_database(url)
    var_dir = tempfile.mkdtemp(prefix="entryway-bench-billing-")
    env = common.server_env(url, var_dir, ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
                            STRIPE_SECRET_KEY="sk_test_bench", STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                            HUEY_IMMEDIATE="false")
    os.environ.update(env)
    sys.path.insert(0, str(common.ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def _seed(order_type: str):
    import datetime

    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from entryway.accounts.models import Account
    from entryway.accounts.services import api_token_create
    from entryway.residents.models import Resident

    tag = secrets.token_hex(3)
    installer = Account.objects.create(username=f"bench-billing-{tag}", role="installer", time_zone="UTC",
                                       password=make_password(None), email=f"billing-{tag}@example.com")
    now = timezone.now()
    active = order_type != "activation"
    base = int(tag, 16) % 900 * 10_000
    Resident.objects.bulk_create([
        Resident(installer=installer, name=f"Bench user {i}", time_zone="UTC", family_sip=f"7{base + i:09d}",
                 personal_sip=f"6{base + i:09d}", activated_at=now if active else None,
                 expires_at=now + datetime.timedelta(days=1 + i % 300) if active else None)
        for i in range(N_USERS)], batch_size=2000)
    _token, raw = api_token_create(acting_user=installer, name="bench")
    ids = list(Resident.objects.filter(installer=installer).values_list("pk", flat=True))
    return installer, raw, ids


def _event(order: dict, event_id: str) -> str:
    return json.dumps({"id": event_id, "object": "event", "type": "checkout.session.completed",
                       "data": {"object": {"id": f"cs_{order['number']}", "client_reference_id": order["number"],
                                           "amount_total": int(round(float(order["final_price"]) * 100)),
                                           "currency": order["currency"].lower(), "payment_status": "paid",
                                           "payment_intent": f"pi_{event_id}"}}})


def run(order_type: str) -> dict:
    import stripe
    from django.test import Client

    from entryway.billing.models import Order

    installer, token, ids = _seed(order_type)
    body = {"order_type": order_type, "resident_ids": ids, "payment_method": "stripe",
            "months": 12 if order_type == "subscription" else 0,
            "apps_per_user": 1 if order_type == "additional_app" else 0}
    from entryway.billing import providers

    class LocalStripe(stripe.HTTPClient):
        name = "bench"

        def request(self, method, url, headers, post_data=None, *, _usage=None):
            return json.dumps({"id": f"cs_bench_{secrets.token_hex(4)}", "object": "checkout.session",
                               "url": "https://checkout.stripe.com/c/pay/bench"}), 200, {}

    providers.stripe_http_client = LocalStripe()
    client = Client()
    # a running server has its API routes loaded: warm them up outside the measurement
    client.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"})
    start = time.perf_counter()
    response = client.post("/api/v1/orders", data=body, content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    created = time.perf_counter() - start
    if response.status_code != 201:
        raise RuntimeError(f"creation failed: {response.status_code} {response.content[:300]!r}")
    order = response.json()
    payload = _event(order, "evt_bench_" + secrets.token_hex(6))
    header = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    start = time.perf_counter()
    answer = client.post("/billing/webhooks/stripe", data=payload, content_type="application/json",
                         headers={"Stripe-Signature": header})
    fulfilled = time.perf_counter() - start
    start = time.perf_counter()
    replay = client.post("/billing/webhooks/stripe", data=payload, content_type="application/json",
                         headers={"Stripe-Signature": header})
    replayed = time.perf_counter() - start
    status = Order.objects.get(number=order["number"]).status
    return {"type": order_type, "users": len(ids), "create_s": created, "fulfil_s": fulfilled,
            "total_s": created + fulfilled, "replay_s": replayed, "status": status,
            "outcomes": (answer.json()["outcome"], replay.json()["outcome"])}


def main() -> int:
    url = _setup_django()
    print(f"database: {url.split('@')[-1]}  users per order: {N_USERS}")
    ok = True
    for order_type in ("activation", "subscription", "additional_app"):
        r = run(order_type)
        ok &= r["status"] == "succeed" and r["outcomes"] == ("paid", "duplicate") and r["total_s"] <= 2.0
        print(f"{r['type']:<15} create {r['create_s']:.3f} s  fulfil {r['fulfil_s']:.3f} s  "
              f"total {r['total_s']:.3f} s  replay {r['replay_s']:.3f} s  -> {r['status']} {r['outcomes']}")
    print("within 2 s:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
