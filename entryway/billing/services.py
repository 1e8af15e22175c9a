"""Billing writes: settings, prices, coupons, orders, payments and their effects on users."""
from __future__ import annotations

import datetime
import secrets
import string
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from entryway.accounts.models import Account
from entryway.billing import pricing
from entryway.billing.choices import (
    OPEN_STATUSES, ChargeMode, CouponFee, Currency, OrderStatus, OrderType,
)
from entryway.billing.models import (
    BillingSetting, Coupon, Order, OrderItem, PaymentEvent, PriceList,
)
from entryway.core.audit import audit, changed, snapshot
from entryway.residents.models import Resident

BILLING_INFO_FIELDS = ("company", "attn", "address", "tel", "fax", "email")
SETTING_FIELDS = ("charge_mode", "send_expiration_email", "send_renew_email")
PRICE_FIELDS = ("currency", "activation_fee", "renewal_fee", "additional_app_fee", "premium_plan_fee")
MAX_APPS_PER_USER = 10
COUPON_ALPHABET = string.ascii_letters + string.digits


# ---------------------------------------------------------------- Setting


def billing_setting_for(installer: Account) -> BillingSetting:
    """The installer's setting (the defaults, unsaved, until they submit the form once)."""
    found = BillingSetting.objects.filter(installer=installer).first()
    return found or BillingSetting(installer=installer)


@transaction.atomic
def billing_setting_update(*, acting_user: Account, installer: Account, charge_mode: str,
                           send_expiration_email: bool, send_renew_email: bool) -> BillingSetting:
    if acting_user.role != "admin" and acting_user.pk != installer.pk:
        raise PermissionDenied("Only the installer changes their Setting.")
    if charge_mode not in ChargeMode.values:
        raise ValidationError({"charge_mode": [_("Choose Pay By End User or Pay By Installer.")]})
    setting, _created = BillingSetting.objects.select_for_update().get_or_create(installer=installer)
    before = snapshot(setting, SETTING_FIELDS)
    setting.charge_mode = charge_mode
    setting.send_expiration_email = bool(send_expiration_email)
    setting.send_renew_email = bool(send_renew_email)
    setting.full_clean()
    setting.save()
    old, new = changed(before, snapshot(setting, SETTING_FIELDS))
    audit(acting_user=acting_user, action="billing.setting_update", obj=setting, before=old, after=new,
          object_repr=str(_("Setting")))
    return setting


def _clean_billing_info(billing: dict | None) -> dict:
    billing = billing or {}
    info, errors = {}, {}
    limits = {"company": 128, "attn": 128, "address": 255, "tel": 32, "fax": 32, "email": 254}
    for field in BILLING_INFO_FIELDS:
        value = billing.get(field) or ""
        if not isinstance(value, str):
            errors[field] = [_("Enter text.")]
            continue
        value = value.strip()
        if "\x00" in value:
            errors[field] = [_("Null characters are not allowed.")]
            continue
        if len(value) > limits[field]:
            errors[field] = [_("At most %(n)s characters.") % {"n": limits[field]}]
            continue
        info[field] = value
    if info.get("email"):
        try:
            validate_email(info["email"])
        except ValidationError:
            errors["email"] = [_("Enter a valid email address.")]
    if errors:
        raise ValidationError(errors)
    return info


# ---------------------------------------------------------------- Prices


def _parse_money(value, field: str, errors: dict) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        errors[field] = [_("Enter an amount such as 2.50.")]
        return None
    if not amount.is_finite() or amount < 0:
        errors[field] = [_("Enter an amount of 0 or more.")]
        return None
    if amount >= Decimal("10000000000"):
        errors[field] = [_("This amount is too large.")]
        return None
    if amount != pricing.money(amount):
        errors[field] = [_("Use at most two decimal places.")]
        return None
    return pricing.money(amount)


@transaction.atomic
def price_list_set(*, acting_user: Account, distributor: Account | None, currency: str, activation_fee,
                   renewal_fee, additional_app_fee, premium_plan_fee) -> PriceList:
    """Set a distributor's price list (the platform default when ``distributor`` is None)."""
    if acting_user.role == "distributor":
        if distributor is None or distributor.pk != acting_user.pk:
            raise PermissionDenied("A distributor sets only their own prices.")
    elif acting_user.role != "admin":
        raise PermissionDenied("Only the platform admin or a distributor sets prices.")
    if distributor is not None and distributor.role != "distributor":
        raise ValidationError({"distributor": [_("Choose a distributor.")]})
    errors: dict = {}
    values = {name: _parse_money(value, name, errors) for name, value in (
        ("activation_fee", activation_fee), ("renewal_fee", renewal_fee),
        ("additional_app_fee", additional_app_fee), ("premium_plan_fee", premium_plan_fee))}
    if currency not in Currency.values:
        errors["currency"] = [_("Choose a currency from the list.")]
    if errors:
        raise ValidationError(errors)
    found = PriceList.objects.select_for_update()
    prices = (found.filter(distributor=distributor) if distributor else found.filter(distributor__isnull=True)).first()
    before = snapshot(prices, PRICE_FIELDS) if prices else {}
    prices = prices or PriceList(distributor=distributor)
    prices.currency = currency
    for name, value in values.items():
        setattr(prices, name, value)
    prices.full_clean(validate_unique=False, validate_constraints=False)
    prices.save()
    old, new = changed(before, snapshot(prices, PRICE_FIELDS))
    audit(acting_user=acting_user, action="billing.price_list_set", obj=prices, before=old, after=new,
          installer=None)
    return prices


@transaction.atomic
def price_list_reset(*, acting_user: Account, distributor: Account) -> None:
    """A distributor's installers go back to the platform default prices."""
    if acting_user.role != "admin" and acting_user.pk != distributor.pk:
        raise PermissionDenied("Only the platform admin or the distributor does this.")
    prices = PriceList.objects.filter(distributor=distributor).first()
    if prices is None:
        return
    audit(acting_user=acting_user, action="billing.price_list_reset", obj=prices,
          before=snapshot(prices, PRICE_FIELDS))
    prices.delete()


# ---------------------------------------------------------------- Coupons


def _new_coupon_code() -> str:
    return "".join(secrets.choice(COUPON_ALPHABET) for _ in range(16))


@transaction.atomic
def coupon_create(*, acting_user: Account, amount, valid_from: datetime.datetime, valid_until: datetime.datetime,
                  fee_type: str = CouponFee.ALL, currency: str = "", installer: Account | None = None,
                  code: str = "") -> Coupon:
    """Issue a coupon. Given an installer it lands in their account; otherwise they exchange its code."""
    if acting_user.role not in ("admin", "distributor"):
        raise PermissionDenied("Only the platform admin or a distributor issues coupons.")
    errors: dict = {}
    value = _parse_money(amount, "amount", errors)
    if value is not None and value <= 0:
        errors["amount"] = [_("A coupon is worth more than 0.")]
    if fee_type not in CouponFee.values:
        errors["fee_type"] = [_("Choose a fee from the list.")]
    currency = currency or settings.BILLING_CURRENCY
    if currency not in Currency.values:
        errors["currency"] = [_("Choose a currency from the list.")]
    if not valid_from or not valid_until:
        errors["valid_until"] = [_("Enter the validity window.")]
    elif valid_until <= valid_from:
        errors["valid_until"] = [_("The end of the validity window comes after its start.")]
    code = (code or "").strip()
    if code:
        if not (4 <= len(code) <= 32) or any(c not in COUPON_ALPHABET + "-_" for c in code):
            errors["code"] = [_("A code has 4 to 32 letters, digits, - or _.")]
        elif Coupon.objects.filter(code=code).exists():
            errors["code"] = [_("This code is already in use.")]
    else:
        code = _new_coupon_code()
    if installer is not None:
        if installer.role != "installer":
            errors["installer"] = [_("Choose an installer.")]
        elif acting_user.role == "distributor" and installer.parent_id != acting_user.pk:
            errors["installer"] = [_("Choose one of your installers.")]
    if errors:
        raise ValidationError(errors)
    coupon = Coupon(code=code, fee_type=fee_type, currency=currency, amount=value, balance=value,
                    valid_from=valid_from, valid_until=valid_until, issued_by=acting_user, installer=installer,
                    exchanged_at=timezone.now() if installer else None)
    coupon.full_clean(validate_constraints=False)
    coupon.save()
    audit(acting_user=acting_user, action="billing.coupon_create", obj=coupon, installer=installer,
          after=snapshot(coupon, ["code", "fee_type", "currency", "amount", "valid_from", "valid_until", "installer"]))
    return coupon


def _coupon_refusal(coupon: Coupon, installer: Account, now) -> str:
    if now >= coupon.valid_until:
        return _("The coupon %(code)s expired on %(when)s.") % {
            "code": coupon.code, "when": timezone.localtime(coupon.valid_until).strftime("%Y-%m-%d %H:%M")}
    if now < coupon.valid_from:
        return _("The coupon %(code)s is valid from %(when)s.") % {
            "code": coupon.code, "when": timezone.localtime(coupon.valid_from).strftime("%Y-%m-%d %H:%M")}
    if coupon.balance <= 0:
        return _("The coupon %(code)s has no balance left.") % {"code": coupon.code}
    return ""


@transaction.atomic
def coupon_exchange(*, acting_user: Account, code: str) -> Coupon:
    """Exchange Coupon: add a coupon code to the installer's account."""
    if acting_user.role != "installer":
        raise PermissionDenied("Only an installer exchanges coupons.")
    code = (code or "").strip()
    not_found = ValidationError({"code": [_("No coupon has this code.")]})
    if not code or len(code) > 32:
        raise not_found
    coupon = Coupon.objects.select_for_update().select_related("issued_by").filter(code=code).first()
    if coupon is None:
        raise not_found
    if coupon.installer_id == acting_user.pk:
        raise ValidationError({"code": [_("This coupon is already in your account.")]})
    # Another installer's coupon, or one a distributor issued for other installers, is not for you.
    if coupon.installer_id is not None or (
            coupon.issued_by.role == "distributor" and coupon.issued_by_id != acting_user.parent_id):
        raise not_found
    refusal = _coupon_refusal(coupon, acting_user, timezone.now())
    if refusal:
        raise ValidationError({"code": [refusal]})
    coupon.installer = acting_user
    coupon.exchanged_at = timezone.now()
    coupon.save(update_fields=["installer", "exchanged_at"])
    audit(acting_user=acting_user, action="billing.coupon_exchange", obj=coupon, installer=acting_user,
          after={"code": coupon.code, "balance": coupon.balance})
    return coupon


def _release_coupon(order: Order) -> None:
    """Give an order's reserved coupon money back (the order did not go through)."""
    if order.coupon_id and order.coupon_amount > 0:
        coupon = Coupon.objects.select_for_update().get(pk=order.coupon_id)
        coupon.balance = min(coupon.amount, coupon.balance + order.coupon_amount)
        coupon.save(update_fields=["balance"])


# ---------------------------------------------------------------- Orders


def _new_order_number() -> str:
    return f"{int(timezone.now().timestamp() * 1000)}{secrets.randbelow(10_000):04d}"[-17:]


def _eligibility_refusal(order_type: str, resident: dict, now) -> str:
    if order_type == OrderType.ACTIVATION and resident["activated_at"] is not None:
        return _("%(name)s is already activated: choose Renew.")
    if order_type == OrderType.SUBSCRIPTION and resident["activated_at"] is None:
        return _("%(name)s is not activated yet: choose Active.")
    if order_type == OrderType.ADDITIONAL_APP and (
            resident["activated_at"] is None or (resident["expires_at"] and resident["expires_at"] <= now)):
        return _("%(name)s needs an active service for Additional App.")
    return ""


def eligible_residents(queryset, order_type: str, now=None):
    """The users an order of this type can be made for."""
    now = now or timezone.now()
    if order_type == OrderType.ACTIVATION:
        return queryset.filter(activated_at__isnull=True)
    if order_type == OrderType.SUBSCRIPTION:
        return queryset.filter(activated_at__isnull=False)
    return queryset.filter(activated_at__isnull=False).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def _clean_ids(resident_ids) -> list[int]:
    try:
        ids = [int(i) for i in resident_ids]
    except (TypeError, ValueError):
        raise ValidationError({"resident_ids": [_("Choose users from the list.")]})
    if any(i <= 0 or i > 2**62 for i in ids):
        raise ValidationError({"resident_ids": [_("Choose users from the list.")]})
    return list(dict.fromkeys(ids))


@transaction.atomic
def order_create(*, acting_user: Account, order_type: str, resident_ids, months: int = 0, apps_per_user: int = 0,
                 installer: Account | None = None) -> Order:
    """Purchase Details → a pending order (Processing) priced on the server.

    An installer orders for their own users; a resident (Pay By End User) orders for their own household.
    """
    now = timezone.now()
    if order_type not in OrderType.values:
        raise ValidationError({"order_type": [_("Choose Active, Renew or Additional App.")]})
    if acting_user.role == "installer":
        installer = acting_user
    elif acting_user.role == "resident":
        resident = Resident.objects.filter(account_id=acting_user.pk).select_related("installer").first()
        if resident is None:
            raise PermissionDenied("Only a household's host pays for it.")
        installer = resident.installer
        if billing_setting_for(installer).charge_mode != ChargeMode.END_USER:
            raise ValidationError({"order_type": [_("Your installer pays for your service.")]})
        if order_type == OrderType.ADDITIONAL_APP:
            raise ValidationError({"order_type": [_("Ask your installer for additional apps.")]})
        if [int(i) for i in resident_ids if str(i).isdigit()] != [resident.pk]:
            raise ValidationError({"resident_ids": [_("You pay for your own household only.")]})
    else:
        raise PermissionDenied("Only an installer or a resident orders.")

    ids = _clean_ids(resident_ids)
    if not ids:
        raise ValidationError({"resident_ids": [_("Select at least one user.")]})
    limit = settings.BILLING_MAX_USERS_PER_ORDER
    if len(ids) > limit:
        raise ValidationError({"resident_ids": [
            _("At most %(limit)s users at a time: %(n)s were selected.") % {"limit": limit, "n": len(ids)}]})
    months, apps_per_user = int(months or 0), int(apps_per_user or 0)
    if order_type == OrderType.SUBSCRIPTION:
        if not 1 <= months <= settings.BILLING_MAX_RENEWAL_MONTHS:
            raise ValidationError({"months": [_("Choose 1 to %(n)s months.") % {
                "n": settings.BILLING_MAX_RENEWAL_MONTHS}]})
    elif order_type == OrderType.ACTIVATION:
        months = settings.BILLING_ACTIVATION_MONTHS
    else:
        months = 0
    if order_type == OrderType.ADDITIONAL_APP:
        if not 1 <= apps_per_user <= MAX_APPS_PER_USER:
            raise ValidationError({"apps_per_user": [_("Choose 1 to %(n)s additional apps per user.") % {
                "n": MAX_APPS_PER_USER}]})
    else:
        apps_per_user = 0

    rows = list(Resident.objects.filter(installer=installer, pk__in=ids).values(
        "pk", "name", "email", "activated_at", "expires_at", "premium_plan"))
    if len(rows) != len(ids):
        # Another installer's user, or one that no longer exists: the same answer for both.
        raise ValidationError({"resident_ids": [_("%(n)s of the selected users are not among your users.") % {
            "n": len(ids) - len(rows)}]})
    refusals = [_eligibility_refusal(order_type, r, now) % {"name": r["name"]} for r in rows]
    refusals = [r for r in refusals if r]
    if refusals:
        raise ValidationError({"resident_ids": refusals[:10]})
    busy = list(OrderItem.objects.filter(
        resident_id__in=ids, order__order_type=order_type, order__status__in=list(OPEN_STATUSES),
        order__installer=installer).values_list("name", "order__number")[:10])
    if busy:
        raise ValidationError({"resident_ids": [
            _("%(name)s is already in the unpaid order %(number)s: pay or cancel it first.") % {
                "name": name, "number": number} for name, number in busy]})

    prices = pricing.price_list_for(installer)
    unit = {premium: pricing.unit_price(prices, order_type, months=months, apps=apps_per_user, premium=premium)
            for premium in (False, True)}
    total = sum((unit[r["premium_plan"]] for r in rows), Decimal("0.00"))
    payer_name = acting_user.display_name if acting_user.role == "installer" else rows[0]["name"]
    order = Order(
        installer=installer, number=_new_order_number(), order_type=order_type, status=OrderStatus.PROCESSING,
        households=len(rows), months=months, apps_per_user=apps_per_user, currency=prices.currency,
        total_price=pricing.money(total), final_price=pricing.money(total), payer=acting_user,
        payer_name=payer_name[:128],
        expires_at=now + datetime.timedelta(minutes=settings.BILLING_ORDER_TIMEOUT_MINUTES),
    )
    for _attempt in range(5):
        try:
            with transaction.atomic():
                order.save()
            break
        except IntegrityError:
            order.number = _new_order_number()
    else:
        raise ValidationError({"order_type": [_("Try again in a moment.")]})
    OrderItem.objects.bulk_create(
        [OrderItem(order=order, resident_id=r["pk"], name=r["name"], email=r["email"] or "",
                   price=unit[r["premium_plan"]]) for r in rows],
        batch_size=1000,
    )
    audit(acting_user=acting_user, action="billing.order_create", obj=order, after={
        "number": order.number, "type": order_type, "households": order.households, "months": months,
        "apps_per_user": apps_per_user, "total_price": order.total_price, "currency": order.currency})
    return order


def usable_coupons(order: Order, now=None):
    """The installer's coupons that can pay part of this order."""
    now = now or timezone.now()
    return (Coupon.objects.filter(installer_id=order.installer_id, currency=order.currency)
            .filter(Q(fee_type=CouponFee.ALL) | Q(fee_type=order.order_type)).usable(now))


@transaction.atomic
def order_checkout(*, acting_user: Account, order: Order, payment_method: str, coupon_id: int | None = None,
                   billing: dict | None = None, expected_total=None) -> Order:
    """Payment Information → Pay: apply the coupon, keep the billing information, fix the payment method.

    Returns the order; when the coupon covers everything the order has already succeeded.
    """
    from entryway.billing.providers import get_provider

    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.payer_id != acting_user.pk and not (acting_user.role == "installer"
                                                  and order.installer_id == acting_user.pk):
        raise PermissionDenied("Only the payer pays an order.")
    if order.status != OrderStatus.PROCESSING:
        raise ValidationError({"order": [_("Order %(number)s is %(status)s and can no longer be paid.") % {
            "number": order.number, "status": order.get_status_display()}]})
    now = timezone.now()
    if order.expires_at <= now:
        raise ValidationError({"order": [_("Order %(number)s timed out: start a new one.") % {
            "number": order.number}]})
    if expected_total not in (None, ""):
        claimed = None
        try:
            claimed = pricing.money(expected_total)
        except (InvalidOperation, TypeError, ValueError):
            pass
        if claimed is None or claimed != order.total_price:
            raise ValidationError({"expected_total": [
                _("The total price is %(total)s %(currency)s, not %(claimed)s: the price is set by the platform.") % {
                    "total": order.total_price, "currency": order.currency, "claimed": expected_total}]})
    if order.checkout_started_at is not None:
        if payment_method != order.payment_method:
            raise ValidationError({"payment_method": [
                _("Payment with %(method)s has already started for this order: finish it, or cancel the order.") % {
                    "method": order.payment_method}]})
        return order
    info = _clean_billing_info(billing)

    coupon = None
    if coupon_id not in (None, "", 0, "0"):
        if acting_user.role != "installer":
            raise ValidationError({"coupon": [_("Coupons are for installers.")]})
        try:
            coupon_pk = int(coupon_id)
        except (TypeError, ValueError):
            raise ValidationError({"coupon": [_("Choose one of your coupons.")]})
        coupon = Coupon.objects.select_for_update().filter(pk=coupon_pk, installer_id=order.installer_id).first()
        if coupon is None:
            raise ValidationError({"coupon": [_("Choose one of your coupons.")]})
        refusal = _coupon_refusal(coupon, acting_user, now)
        if not refusal and not coupon.covers(order.order_type):
            refusal = _("The coupon %(code)s pays for %(fee)s only.") % {
                "code": coupon.code, "fee": coupon.get_fee_type_display()}
        if not refusal and coupon.currency != order.currency:
            refusal = _("The coupon %(code)s is in %(currency)s.") % {"code": coupon.code,
                                                                    "currency": coupon.currency}
        if refusal:
            raise ValidationError({"coupon": [refusal]})

    split = pricing.split_with_coupon(order.total_price, coupon.balance if coupon else None)
    provider = None
    if split.should_pay > 0:
        provider = get_provider(payment_method)
        if provider is None or not provider.enabled():
            raise ValidationError({"payment_method": [_("Choose a payment method from the list.")]})
    if coupon is not None and split.coupon_pay > 0:
        coupon.balance = coupon.balance - split.coupon_pay
        coupon.save(update_fields=["balance"])
        order.coupon = coupon
    order.coupon_amount = split.coupon_pay
    order.final_price = split.should_pay
    for field, value in info.items():
        setattr(order, field, value)
    order.payment_method = provider.key if provider else "coupon"
    order.checkout_started_at = now
    order.save()
    if acting_user.role == "installer" and info:
        setting, _created = BillingSetting.objects.get_or_create(installer=order.installer)
        for field, value in info.items():
            setattr(setting, field, value)
        setting.save(update_fields=[*info.keys(), "updated_at"])
    audit(acting_user=acting_user, action="billing.order_checkout", obj=order, after={
        "coupon": coupon.code if coupon else None, "coupon_pay": order.coupon_amount,
        "should_pay": order.final_price, "payment_method": order.payment_method})
    if order.final_price == 0:
        _succeed(order, acting_user=acting_user, reference="", late=False)
    return order


@transaction.atomic
def order_set_reference(*, order: Order, reference: str, expires_at: datetime.datetime | None = None) -> Order:
    """Keep the provider's checkout reference; a provider session may extend the time-out."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    order.provider_reference = reference[:255]
    fields = ["provider_reference", "updated_at"]
    if expires_at and expires_at > order.expires_at:
        order.expires_at = expires_at
        fields.append("expires_at")
    order.save(update_fields=fields)
    return order


def _extend_running(residents: list[tuple[int, datetime.datetime]], months: int, now: datetime.datetime) -> int:
    """Each running service gets ``months`` more from its own expiry: one prepared statement, many rows."""
    if not residents:
        return 0
    table = connection.ops.quote_name(Resident._meta.db_table)
    expires, updated, pk = (connection.ops.quote_name(Resident._meta.get_field(f).column)
                            for f in ("expires_at", "updated_at", "id"))
    adapt = connection.ops.adapt_datetimefield_value
    stamp = adapt(now)
    rows = [(adapt(pricing.add_months(expires_at, months)), stamp, pk) for pk, expires_at in residents]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET {expires} = v.e, {updated} = %s "
                f"FROM UNNEST(%s::bigint[], %s::timestamptz[]) AS v(i, e) WHERE {table}.{pk} = v.i",
                [stamp, [r[2] for r in rows], [r[0] for r in rows]])
        else:
            cursor.executemany(f"UPDATE {table} SET {expires} = %s, {updated} = %s WHERE {pk} = %s", rows)
    return len(rows)


def _fulfil(order: Order, *, acting_user) -> int:
    """The order's effect on its users, in a handful of statements whatever the number of users."""
    now = timezone.now()
    resident_ids = list(order.items.exclude(resident_id=None).values_list("resident_id", flat=True))
    residents = Resident.objects.filter(installer_id=order.installer_id, pk__in=resident_ids)
    if order.order_type == OrderType.ADDITIONAL_APP:
        count = residents.update(family_member_limit=F("family_member_limit") + order.apps_per_user, updated_at=now)
    else:
        # Activation: Normal until now + the period; renewal: from the later of now and the current expiry.
        fresh_until = pricing.add_months(now, order.months)
        running = list(residents.filter(expires_at__gt=now).values_list("pk", "expires_at"))
        from_now = residents.filter(Q(expires_at__isnull=True) | Q(expires_at__lte=now))
        count = from_now.filter(activated_at__isnull=True).update(
            activated_at=now, expires_at=fresh_until, updated_at=now)
        count += from_now.update(expires_at=fresh_until, updated_at=now)
        count += _extend_running(running, order.months, now)
        residents.filter(activated_at__isnull=True).update(activated_at=now)
        residents.filter(landline_service=True).update(
            landline_activated_at=Coalesce("landline_activated_at", Value(now)), landline_expires_at=F("expires_at"))
    audit(acting_user=acting_user, action="billing.order_fulfil", obj=order, after={
        "type": order.order_type, "households": len(resident_ids), "months": order.months,
        "apps_per_user": order.apps_per_user})
    return count


def _succeed(order: Order, *, acting_user, reference: str, late: bool) -> None:
    now = timezone.now()
    before_status = order.status
    order.status = OrderStatus.SUCCEED
    order.paid_at = now
    order.closed_at = now
    if reference:
        order.provider_reference = reference[:255]
    if late:
        order.note = _("Paid after it was %(status)s.") % {"status": OrderStatus(before_status).label}
    order.invoice_number = f"INV-{now:%Y}-{order.number}"
    order.fulfilled_at = now
    order.save()
    _fulfil(order, acting_user=acting_user)
    audit(acting_user=acting_user, action="billing.order_paid", obj=order,
          before={"status": before_status}, after={"status": order.status, "reference": order.provider_reference})
    if order.order_type in (OrderType.ACTIVATION, OrderType.SUBSCRIPTION):
        from entryway.billing.tasks import send_renewal_emails

        order_id = order.pk
        transaction.on_commit(lambda: send_renewal_emails(order_id))


def _re_reserve_coupon(order: Order) -> None:
    """A late payment for a closed order: take back what its coupon can still give (never below zero)."""
    if order.coupon_id and order.coupon_amount > 0:
        coupon = Coupon.objects.select_for_update().get(pk=order.coupon_id)
        taken = min(coupon.balance, order.coupon_amount)
        coupon.balance -= taken
        coupon.save(update_fields=["balance"])


@transaction.atomic
def order_mark_paid(*, order_id: int, provider: str, reference: str = "", amount: Decimal | None = None,
                    currency: str = "", acting_user=None) -> tuple[Order, str]:
    """The payment arrived: the order takes effect, exactly once. Returns (order, outcome)."""
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status == OrderStatus.SUCCEED:
        return order, "already paid"
    if order.payment_method != provider:
        return order, "wrong provider"
    if amount is not None:
        if currency.upper() != order.currency or pricing.minor_units(amount, order.currency) != \
                pricing.minor_units(order.final_price, order.currency):
            audit(acting_user=acting_user, action="billing.order_amount_mismatch", obj=order,
                  after={"amount": amount, "currency": currency, "expected": order.final_price})
            return order, "amount mismatch"
    late = order.status not in OPEN_STATUSES
    if late:
        _re_reserve_coupon(order)
    _succeed(order, acting_user=acting_user, reference=reference, late=late)
    return order, "paid"


def _close(order: Order, status: str, *, acting_user, reason: str = "") -> Order:
    before = order.status
    _release_coupon(order)
    order.status = status
    order.closed_at = timezone.now()
    if reason:
        order.note = reason[:255]
    order.save(update_fields=["status", "closed_at", "note", "updated_at"])
    audit(acting_user=acting_user, action=f"billing.order_{status}", obj=order, before={"status": before},
          after={"status": status, "reason": reason})
    return order


@transaction.atomic
def order_fail(*, order_id: int, reason: str = "", acting_user=None) -> Order:
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status not in OPEN_STATUSES:
        return order
    return _close(order, OrderStatus.FAILED, acting_user=acting_user, reason=reason)


@transaction.atomic
def order_cancel(*, acting_user: Account, order: Order) -> Order:
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != OrderStatus.PROCESSING:
        raise ValidationError({"order": [_("Only an order in Processing can be cancelled.")]})
    return _close(order, OrderStatus.CANCEL, acting_user=acting_user)


def orders_time_out(*, now: datetime.datetime | None = None) -> int:
    """Unpaid orders past their time-out become Time out and give their coupon money back."""
    now = now or timezone.now()
    ids = list(Order.objects.filter(status__in=list(OPEN_STATUSES), expires_at__lte=now)
               .values_list("pk", flat=True)[:1000])
    done = 0
    for order_id in ids:
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=order_id)
            if order.status in OPEN_STATUSES and order.expires_at <= now:
                _close(order, OrderStatus.TIMEOUT, acting_user=None)
                done += 1
    return done


@transaction.atomic
def order_bank_transfer_announce(*, acting_user: Account, order: Order) -> Order:
    """The payer says the transfer is made: the order waits (System Processing) for the admin's confirmation."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.payment_method != "bank_transfer" or order.status != OrderStatus.PROCESSING:
        raise ValidationError({"order": [_("This order is not waiting for a bank transfer.")]})
    order.status = OrderStatus.SYSTEM_PROCESSING
    order.expires_at = timezone.now() + datetime.timedelta(days=settings.BILLING_BANK_TRANSFER_TIMEOUT_DAYS)
    order.save(update_fields=["status", "expires_at", "updated_at"])
    audit(acting_user=acting_user, action="billing.order_bank_transfer_announce", obj=order,
          before={"status": OrderStatus.PROCESSING}, after={"status": order.status})
    return order


def order_bank_transfer_confirm(*, acting_user: Account, order: Order, reference: str = "") -> Order:
    """The platform admin saw the money arrive."""
    if acting_user.role != "admin":
        raise PermissionDenied("Only the platform admin confirms bank transfers.")
    if order.payment_method != "bank_transfer":
        raise ValidationError({"order": [_("This order is not paid by bank transfer.")]})
    paid, _outcome = order_mark_paid(order_id=order.pk, provider="bank_transfer",
                                     reference=(reference or "").strip()[:255], acting_user=acting_user)
    return paid


def order_bank_transfer_reject(*, acting_user: Account, order: Order, reason: str = "") -> Order:
    if acting_user.role != "admin":
        raise PermissionDenied("Only the platform admin rejects bank transfers.")
    return order_fail(order_id=order.pk, reason=reason or _("The transfer did not arrive."), acting_user=acting_user)


@transaction.atomic
def order_hide(*, acting_user: Account, order: Order) -> Order:
    """Delete in the Payments list: the order leaves the list but stays, with its invoice, for accounting."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.hidden_at is not None:
        return order
    if order.status == OrderStatus.PROCESSING:
        _close(order, OrderStatus.CANCEL, acting_user=acting_user)
    order.hidden_at = timezone.now()
    order.save(update_fields=["hidden_at", "updated_at"])
    audit(acting_user=acting_user, action="billing.order_hide", obj=order, after={"hidden": True})
    return order


@transaction.atomic
def payment_event_record(*, provider: str, event_id: str, event_type: str, order: Order | None,
                         outcome: str) -> bool:
    """Store a provider event id; False when it was already handled (a replay or a duplicate)."""
    try:
        with transaction.atomic():
            PaymentEvent.objects.create(provider=provider, event_id=event_id[:255], event_type=event_type[:80],
                                        order=order, outcome=outcome[:80])
    except IntegrityError:
        return False
    return True


__all__ = [
    "billing_setting_for", "billing_setting_update", "price_list_set", "price_list_reset", "coupon_create",
    "coupon_exchange", "order_create", "order_checkout", "order_set_reference", "order_mark_paid", "order_fail",
    "order_cancel", "orders_time_out", "order_bank_transfer_announce", "order_bank_transfer_confirm",
    "order_bank_transfer_reject", "order_hide", "payment_event_record", "usable_coupons", "eligible_residents",
]


# ---------------------------------------------------------------- E-mails to residents


def _mail_resident(resident: Resident, template: str, context: dict) -> None:
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override(resident.language or "en"):
        when = timezone.localtime(resident.expires_at, _zone(resident.time_zone)) if resident.expires_at else None
        context = {**context, "name": resident.name, "expires": when.strftime("%Y-%m-%d %H:%M") if when else "",
                   "url": settings.PUBLIC_BASE_URL.rstrip("/") + "/resident/billing/"}
        subject = " ".join(render_to_string(f"billing/email/{template}_subject.txt", context).split())
        body = render_to_string(f"billing/email/{template}_body.txt", context)
    send_mail(subject, body, None, [resident.email])


def _zone(name: str):
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def renewal_emails_send(*, order_id: int) -> int:
    """The renewal confirmation to each user of a paid order, when the installer's Setting says so. Once."""
    order = Order.objects.select_related("installer").filter(pk=order_id, status=OrderStatus.SUCCEED).first()
    if order is None or order.order_type not in (OrderType.ACTIVATION, OrderType.SUBSCRIPTION):
        return 0
    if not billing_setting_for(order.installer).send_renew_email:
        return 0
    if not Order.objects.filter(pk=order.pk, emails_sent_at__isnull=True).update(emails_sent_at=timezone.now()):
        return 0
    sent = 0
    residents = Resident.objects.filter(
        installer_id=order.installer_id, pk__in=order.items.values("resident_id")).exclude(email="")
    installer_name = order.installer.display_name
    for resident in residents.iterator(chunk_size=500):
        _mail_resident(resident, "renewal", {"installer": installer_name, "order": order.number})
        sent += 1
    return sent


def expiration_reminders_send(*, now: datetime.datetime | None = None) -> int:
    """Remind users whose service ends within the configured days, once per expiry date."""
    from entryway.billing.models import ExpirationReminder

    now = now or timezone.now()
    horizon = now + datetime.timedelta(days=settings.BILLING_EXPIRATION_REMINDER_DAYS)
    opted_out = BillingSetting.objects.filter(send_expiration_email=False).values("installer_id")
    due = (Resident.objects.filter(activated_at__isnull=False, expires_at__gt=now, expires_at__lte=horizon)
           .exclude(email="").exclude(installer_id__in=opted_out).select_related("installer"))
    sent = 0
    for resident in due.iterator(chunk_size=500):
        try:
            with transaction.atomic():
                ExpirationReminder.objects.create(resident=resident, expires_at=resident.expires_at)
        except IntegrityError:
            continue
        days = max(0, (resident.expires_at - now).days)
        _mail_resident(resident, "expiration", {"installer": resident.installer.display_name, "days": days})
        sent += 1
    return sent
