"""Allocating SIP numbers: unique across the platform, never reused, safe under concurrency."""
from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from entryway.sip.choices import COUNTER_OF, KIND_DIGIT, SipKind
from entryway.sip.models import SipAccount, SipCounter

SEQUENCE_DIGITS_TOTAL = 10


def format_number(kind: str, value: int, prefix: str | None = None) -> str:
    prefix = settings.SIP_PREFIX if prefix is None else prefix
    width = max(1, SEQUENCE_DIGITS_TOTAL - len(prefix) - 1)
    return f"{prefix}{KIND_DIGIT[kind]}{value:0{width}d}"


def _next_values(counter: str, count: int) -> range:
    """Reserve ``count`` consecutive values of a counter.

    The row is locked (SELECT … FOR UPDATE on PostgreSQL; SQLite serialises writers), and the
    increment is done by the database, so two transactions never get the same value.
    """
    with transaction.atomic():
        SipCounter.objects.get_or_create(name=counter)
        row = SipCounter.objects.select_for_update().get(name=counter)
        SipCounter.objects.filter(name=counter).update(last_value=F("last_value") + count)
        row.refresh_from_db(fields=["last_value"])
        end = row.last_value
    return range(end - count + 1, end + 1)


def sip_number_allocate(*, kind: str) -> str:
    """A fresh number of a kind, without an account (family numbers)."""
    return format_number(kind, _next_values(COUNTER_OF[kind], 1)[0])


def sip_account_create(*, kind: str, installer=None, family_number: str = "", display_name: str = "") -> SipAccount:
    """Allocate a number and create the account that registers with it, with a generated password."""
    with transaction.atomic():
        number = sip_number_allocate(kind=kind)
        account = SipAccount(
            number=number,
            kind=kind,
            password=SipAccount.generate_password(),
            installer=installer,
            family_number=family_number,
            display_name=display_name[:128],
        )
        account.save()
    return account


def sip_accounts_bulk_create(*, kind: str, installer, specs: list[tuple[str, str]]) -> list[SipAccount]:
    """Many accounts at once (demo data, benchmarks): one counter update, one bulk insert.

    ``specs`` is a list of (family_number, display_name).
    """
    if not specs:
        return []
    with transaction.atomic():
        values = _next_values(COUNTER_OF[kind], len(specs))
        accounts = []
        for value, (family, name) in zip(values, specs):
            number = format_number(kind, value)
            password = SipAccount.generate_password()
            accounts.append(SipAccount(
                number=number, kind=kind, password=password, ha1=SipAccount.compute_ha1(number, password),
                installer=installer, family_number=family, display_name=name[:128],
            ))
        SipAccount.objects.bulk_create(accounts, batch_size=1000)
    return accounts


def sip_account_deactivate(*, number: str) -> None:
    """The account stops registering; its number stays taken forever."""
    SipAccount.objects.filter(number=number, is_active=True).update(is_active=False, deactivated_at=timezone.now())


def sip_account_set_active(*, number: str, active: bool) -> None:
    SipAccount.objects.filter(number=number).update(is_active=active, deactivated_at=None if active else timezone.now())


def sip_trunk_save(*, acting_user, trunk, data: dict):
    """Create or change the SIP trunk landline calls go out through (platform admin)."""
    from entryway.core.audit import audit, changed, snapshot

    with transaction.atomic():
        before = snapshot(trunk) if trunk.pk else {}
        for key, value in data.items():
            setattr(trunk, key, value)
        trunk.full_clean()
        trunk.save()
        b, a = changed(before, snapshot(trunk))
        audit(acting_user=acting_user, action="sip_trunk.update" if before else "sip_trunk.create", obj=trunk,
              before=b or None, after=a)
    return trunk


def sip_trunk_delete(*, acting_user, trunk) -> None:
    from entryway.core.audit import audit, snapshot

    with transaction.atomic():
        audit(acting_user=acting_user, action="sip_trunk.delete", obj=trunk, before=snapshot(trunk))
        trunk.delete()


__all__ = [
    "sip_trunk_save",
    "sip_trunk_delete",
    "SipKind",
    "format_number",
    "sip_number_allocate",
    "sip_account_create",
    "sip_accounts_bulk_create",
    "sip_account_deactivate",
    "sip_account_set_active",
]
