"""Payment providers behind one interface.

- ``test``: a checkout page inside the platform, clearly marked TEST MODE, where the payer chooses
  pay, fail or abandon. The default, so that the whole flow runs offline.
- ``stripe``: Stripe Checkout. The session is created with an idempotency key; the order takes effect
  only from a signed ``checkout.session.completed`` webhook, verified on the raw body.
- ``bank_transfer``: the payer transfers the money; the platform admin confirms it arrived.
"""
from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from entryway.billing import pricing, services
from entryway.billing.choices import ZERO_DECIMAL_CURRENCIES
from entryway.billing.models import Order, PaymentEvent

if TYPE_CHECKING:
    import stripe

logger = logging.getLogger(__name__)


class ProviderError(Exception):
    """The provider could not start a payment (its message is shown to the payer)."""


@dataclass
class Checkout:
    redirect_url: str


class PaymentProvider:
    key = ""
    label = ""
    accepts_webhooks = False

    def enabled(self) -> bool:
        return True

    def begin(self, order: Order, *, base_url: str) -> Checkout:
        """Start (or resume) paying ``order``; where to send the payer."""
        raise NotImplementedError

    def handle_webhook(self, request) -> HttpResponse:
        return JsonResponse({"detail": "This provider sends no webhooks."}, status=404)


class TestProvider(PaymentProvider):
    key = "test"
    label = _("Test payment (TEST MODE)")

    def enabled(self) -> bool:
        return settings.BILLING_TEST_PROVIDER

    def begin(self, order: Order, *, base_url: str) -> Checkout:
        if not order.provider_reference:
            services.order_set_reference(order=order, reference=f"test_{order.number}")
        return Checkout(reverse("billing:test_checkout", args=[order.number]))


class BankTransferProvider(PaymentProvider):
    key = "bank_transfer"
    label = _("Bank transfer")

    def begin(self, order: Order, *, base_url: str) -> Checkout:
        return Checkout(reverse("billing:bank_transfer", args=[order.number]))


# Tests (and deployments behind a proxy) may hand the Stripe client their own HTTP client.
stripe_http_client: stripe.HTTPClient | None = None


class StripeProvider(PaymentProvider):
    key = "stripe"
    label = _("Card (Stripe)")
    accepts_webhooks = True

    def enabled(self) -> bool:
        return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET)

    def client(self) -> stripe.StripeClient:
        import stripe  # imported on use: the library is large and most processes never pay by card

        return stripe.StripeClient(settings.STRIPE_SECRET_KEY, http_client=stripe_http_client,
                                   max_network_retries=2)

    def begin(self, order: Order, *, base_url: str) -> Checkout:
        confirmation = base_url.rstrip("/") + reverse("billing:confirmation", args=[order.number])
        payment_info = base_url.rstrip("/") + reverse("billing:payment_information", args=[order.number])
        # Stripe keeps a session open at least 30 minutes; the order waits as long as the session.
        expires = max(order.expires_at, timezone.now() + datetime.timedelta(minutes=31))
        params = {
            "mode": "payment",
            "client_reference_id": order.number,
            "metadata": {"order_number": order.number},
            "line_items": [{
                "quantity": 1,
                "price_data": {
                    "currency": order.currency.lower(),
                    "unit_amount": pricing.minor_units(order.final_price, order.currency),
                    "product_data": {"name": f"{order.transaction_type_label} · {order.number}"[:250]},
                },
            }],
            "success_url": confirmation,
            "cancel_url": payment_info,
            "expires_at": int(expires.timestamp()),
        }
        if order.email:
            params["customer_email"] = order.email
        import stripe

        try:
            session = self.client().v1.checkout.sessions.create(
                params, options={"idempotency_key": f"entryway-order-{order.number}"})
        except stripe.StripeError as exc:
            logger.warning("stripe checkout for order %s failed: %s", order.number, exc)
            raise ProviderError(str(_("The card payment could not be started. Try again in a moment.")))
        services.order_set_reference(order=order, reference=session.id, expires_at=expires)
        return Checkout(session.url)

    def handle_webhook(self, request) -> HttpResponse:
        secret = settings.STRIPE_WEBHOOK_SECRET
        if not secret:
            return JsonResponse({"detail": "Stripe is not configured."}, status=404)
        payload = request.body  # the raw body, verified before anything is parsed
        header = request.headers.get("Stripe-Signature", "")
        import stripe

        try:
            event = stripe.Webhook.construct_event(payload, header, secret)
        except (ValueError, stripe.SignatureVerificationError):
            return JsonResponse({"detail": "Invalid signature."}, status=400)
        data = event.to_dict()
        event_id, event_type = str(data.get("id", "")), str(data.get("type", ""))
        session = (data.get("data") or {}).get("object") or {}
        if not event_id or not isinstance(session, dict):
            return JsonResponse({"detail": "Malformed event."}, status=400)
        handled = {"checkout.session.completed", "checkout.session.async_payment_succeeded",
                   "checkout.session.async_payment_failed", "checkout.session.expired"}
        if event_type not in handled:
            return JsonResponse({"received": True, "outcome": "ignored"})
        number = str(session.get("client_reference_id") or (session.get("metadata") or {}).get("order_number") or "")
        outcome = apply_stripe_event(event_id=event_id, event_type=event_type, number=number, session=session)
        return JsonResponse({"received": True, "outcome": outcome})


def apply_stripe_event(*, event_id: str, event_type: str, number: str, session: dict) -> str:
    """Act on one verified Stripe event, once: the event id and the order change commit together."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(number=number[:20]).first() if number else None
        if not services.payment_event_record(provider="stripe", event_id=event_id, event_type=event_type,
                                             order=order, outcome="received"):
            return "duplicate"
        if order is None:
            outcome = "unknown order"
        elif event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            if session.get("payment_status") not in ("paid", "no_payment_required"):
                outcome = "awaiting payment"
            else:
                try:
                    minor = int(session.get("amount_total"))
                except (TypeError, ValueError):
                    minor = None
                if minor is None:
                    outcome = "amount mismatch"
                else:
                    divisor = 1 if order.currency in ZERO_DECIMAL_CURRENCIES else 100
                    amount = Decimal(minor) / divisor
                    reference = str(session.get("payment_intent") or session.get("id") or "")[:255]
                    _order, outcome = services.order_mark_paid(
                        order_id=order.pk, provider="stripe", reference=reference, amount=amount,
                        currency=str(session.get("currency") or ""))
        elif event_type == "checkout.session.async_payment_failed":
            services.order_fail(order_id=order.pk, reason=str(_("The card payment failed.")))
            outcome = "failed"
        else:
            services.order_fail(order_id=order.pk, reason=str(_("The checkout session expired.")))
            outcome = "expired"
        PaymentEvent.objects.filter(provider="stripe", event_id=event_id).update(outcome=outcome)
        return outcome


PROVIDERS: dict[str, PaymentProvider] = {p.key: p for p in (TestProvider(), StripeProvider(), BankTransferProvider())}


def get_provider(key: str) -> PaymentProvider | None:
    return PROVIDERS.get(key or "")


def enabled_providers() -> list[PaymentProvider]:
    return [p for p in PROVIDERS.values() if p.enabled()]
