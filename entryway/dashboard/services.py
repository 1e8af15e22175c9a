"""Raising and clearing alerts. Run by a periodic task; safe to run any number of times."""
from __future__ import annotations

import datetime
from collections import defaultdict

from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from entryway.accounts.models import Account
from entryway.dashboard.choices import AlertKind
from entryway.dashboard.models import Alert, AlertPreference

DEFAULT_PREFERENCE = AlertPreference(email_enabled=False, device_offline_minutes=30, expiring_days=7)


def _preferences() -> dict[int, AlertPreference]:
    return {p.installer_id: p for p in AlertPreference.objects.all()}


def _wanted(now: datetime.datetime) -> dict[tuple[int, str, str], tuple[str, str]]:
    """Every alert that should be open now: (installer, kind, subject) → (message, link)."""
    from entryway.deviceapi.models import DeviceAction
    from entryway.devices.models import IntercomDevice
    from entryway.residents.models import Resident

    prefs = _preferences()
    wanted: dict[tuple[int, str, str], tuple[str, str]] = {}
    # each alert is written in its installer's language (this runs without a request)
    languages = dict(Account.objects.filter(role="installer").values_list("pk", "language"))

    def in_language(installer_id):
        return translation.override(languages.get(installer_id) or "en")

    # Devices offline for longer than the installer's limit (only devices that were ever seen).
    shortest = min([p.device_offline_minutes for p in prefs.values()] + [DEFAULT_PREFERENCE.device_offline_minutes])
    offline = IntercomDevice.objects.filter(last_seen_at__lt=now - datetime.timedelta(minutes=shortest)).values_list(
        "id", "installer_id", "mac", "location", "last_seen_at")
    for device_id, installer_id, mac, location, last_seen in offline.iterator(chunk_size=5000):
        limit = prefs.get(installer_id, DEFAULT_PREFERENCE).device_offline_minutes
        if last_seen < now - datetime.timedelta(minutes=limit):
            with in_language(installer_id):
                message = (_("Device %(mac)s (%(location)s) has been offline since %(since)s UTC.")
                           % {"mac": mac, "location": location, "since": last_seen.strftime("%Y-%m-%d %H:%M")})
            wanted[(installer_id, AlertKind.DEVICE_OFFLINE, f"device:{device_id}")] = (
                message,
                f"/devices/{device_id}/info/",
            )

    # Failed firmware upgrades not followed by a successful one.
    failed = DeviceAction.objects.filter(kind="upgrade", status="failure",
                                         finished_at__gte=now - datetime.timedelta(days=7))
    later_success = DeviceAction.objects.filter(kind="upgrade", status="success")
    succeeded_after = defaultdict(lambda: None)
    for device_id, finished in later_success.values_list("device_id", "finished_at"):
        if finished and (succeeded_after[device_id] is None or finished > succeeded_after[device_id]):
            succeeded_after[device_id] = finished
    for action in failed.select_related("device").only("id", "installer_id", "device_id", "finished_at", "detail",
                                                        "payload", "device__mac"):
        ok = succeeded_after[action.device_id]
        if ok is not None and ok > action.finished_at:
            continue
        with in_language(action.installer_id):
            message = (_("Firmware upgrade of %(mac)s to %(version)s failed: %(detail)s")
                       % {"mac": action.device.mac, "version": action.payload.get("version", "?"),
                          "detail": action.detail or _("no detail")})
        wanted[(action.installer_id, AlertKind.UPGRADE_FAILED, f"device:{action.device_id}")] = (
            message,
            f"/devices/{action.device_id}/info/",
        )

    # Subscriptions expiring soon (or just expired and not yet renewed).
    longest = max([p.expiring_days for p in prefs.values()] + [DEFAULT_PREFERENCE.expiring_days])
    expiring = Resident.objects.filter(activated_at__isnull=False, expires_at__lte=now + datetime.timedelta(days=longest),
                                       expires_at__gt=now - datetime.timedelta(days=30))
    for resident_id, installer_id, name, expires in expiring.values_list("id", "installer_id", "name", "expires_at"):
        days = prefs.get(installer_id, DEFAULT_PREFERENCE).expiring_days
        if expires <= now + datetime.timedelta(days=days):
            with in_language(installer_id):
                message = (_("The subscription of %(name)s expires on %(date)s UTC.")
                           % {"name": name, "date": expires.strftime("%Y-%m-%d")}
                           if expires > now else
                           _("The subscription of %(name)s expired on %(date)s UTC.")
                           % {"name": name, "date": expires.strftime("%Y-%m-%d")})
            wanted[(installer_id, AlertKind.SUBSCRIPTION_EXPIRING, f"resident:{resident_id}")] = (
                message,
                "/subscription/",
            )
    return wanted


def alerts_evaluate(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Raise the alerts whose cause holds, clear the ones whose cause went away; e-mail new ones."""
    now = now or timezone.now()
    wanted = _wanted(now)
    with transaction.atomic():
        open_alerts = {(a.installer_id, a.kind, a.subject): a for a in Alert.objects.filter(cleared_at__isnull=True)}
        to_clear = [a.pk for key, a in open_alerts.items() if key not in wanted]
        Alert.objects.filter(pk__in=to_clear).update(cleared_at=now)
        new = [Alert(installer_id=i, kind=k, subject=s, message=m[:255], link=link)
               for (i, k, s), (m, link) in wanted.items() if (i, k, s) not in open_alerts]
        Alert.objects.bulk_create(new, batch_size=2000)
        updated = []
        for key, alert in open_alerts.items():
            if key in wanted and alert.message != wanted[key][0][:255]:
                alert.message = wanted[key][0][:255]
                updated.append(alert)
        Alert.objects.bulk_update(updated, ["message"], batch_size=2000)
    emailed = _email_new_alerts(now)
    _publish_open_counts()
    return {"raised": len(new), "cleared": len(to_clear), "emailed": emailed}


# Each installer's number of open alerts, kept in the cache for the menu badge on every page
# (read without a database query).
OPEN_ALERTS_KEY = "dashboard:open-alerts:{}"
_COUNTED_KEY = "dashboard:open-alerts:installers"


# The menu badge's label (the word the dashboard's Alerts button uses).
OPEN_ALERTS_LABEL = gettext_lazy("Alerts")


def open_alert_count(installer_id: int) -> int:
    return cache.get(OPEN_ALERTS_KEY.format(installer_id)) or 0


def _publish_open_counts() -> None:
    counts = dict(Alert.objects.filter(cleared_at__isnull=True).values_list("installer_id")
                  .annotate(n=Count("id")).order_by())
    gone = [i for i in cache.get(_COUNTED_KEY) or [] if i not in counts]
    cache.set_many({OPEN_ALERTS_KEY.format(i): n for i, n in counts.items()}, timeout=None)
    cache.delete_many([OPEN_ALERTS_KEY.format(i) for i in gone])
    cache.set(_COUNTED_KEY, list(counts), timeout=None)


def _email_new_alerts(now: datetime.datetime) -> int:
    wants_mail = AlertPreference.objects.filter(email_enabled=True).values_list("installer_id", flat=True)
    pending = Alert.objects.filter(cleared_at__isnull=True, emailed_at__isnull=True, installer_id__in=list(wants_mail))
    by_installer: dict[int, list[Alert]] = defaultdict(list)
    for alert in pending:
        by_installer[alert.installer_id].append(alert)
    sent = 0
    for installer in Account.objects.filter(pk__in=by_installer.keys()).exclude(email=""):
        alerts = by_installer[installer.pk]
        with translation.override(installer.language or "en"):
            subject = _("entryway: %(n)s new alert(s)") % {"n": len(alerts)}
            body = "\n".join(f"- {a.message}" for a in alerts)
        send_mail(subject, body, None, [installer.email])
        Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(emailed_at=now)
        sent += 1
    return sent


@transaction.atomic
def alert_preference_update(*, acting_user, email_enabled: bool, device_offline_minutes: int,
                            expiring_days: int) -> AlertPreference:
    from entryway.core.audit import audit

    pref, _created = AlertPreference.objects.get_or_create(installer=acting_user)
    before = {"email_enabled": pref.email_enabled, "device_offline_minutes": pref.device_offline_minutes,
              "expiring_days": pref.expiring_days}
    pref.email_enabled, pref.device_offline_minutes, pref.expiring_days = (
        email_enabled, device_offline_minutes, expiring_days)
    pref.full_clean()
    pref.save()
    audit(acting_user=acting_user, action="alert_preference.update", obj=pref, installer=acting_user, before=before,
          after={"email_enabled": email_enabled, "device_offline_minutes": device_offline_minutes,
                 "expiring_days": expiring_days})
    return pref


def open_alerts_q() -> Q:
    return Q(cleared_at__isnull=True)
