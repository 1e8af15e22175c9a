import datetime

import pytest
from django.core import mail
from django.utils import timezone

from entryway.dashboard.models import Alert, AlertPreference
from entryway.dashboard.services import alerts_evaluate

pytestmark = pytest.mark.django_db


def test_offline_device_raises_an_alert_that_clears_when_it_is_back(installer, resident, make_device):
    now = timezone.now()
    device = make_device(resident, last_seen=now - datetime.timedelta(hours=2))
    make_device(resident, last_seen=None)  # never seen: not an alert
    assert alerts_evaluate(now=now)["raised"] == 1
    alert = Alert.objects.get()
    assert alert.kind == "device_offline" and device.mac in alert.message and alert.installer == installer
    assert alerts_evaluate(now=now)["raised"] == 0  # idempotent
    device.last_seen_at = now
    device.save(update_fields=["last_seen_at"])
    assert alerts_evaluate(now=now)["cleared"] == 1
    alert.refresh_from_db()
    assert alert.cleared_at is not None


def test_threshold_follows_the_installers_preference(installer, resident, make_device):
    now = timezone.now()
    make_device(resident, last_seen=now - datetime.timedelta(minutes=45))
    AlertPreference.objects.create(installer=installer, device_offline_minutes=60)
    assert alerts_evaluate(now=now)["raised"] == 0
    AlertPreference.objects.filter(installer=installer).update(device_offline_minutes=30)
    assert alerts_evaluate(now=now)["raised"] == 1


def test_expiring_subscription_alert_and_email(installer, resident, activate):
    activate(resident, days=3)
    AlertPreference.objects.create(installer=installer, email_enabled=True, expiring_days=7)
    result = alerts_evaluate()
    assert result == {"raised": 1, "cleared": 0, "emailed": 1}
    assert len(mail.outbox) == 1 and resident.name in mail.outbox[0].body
    assert alerts_evaluate()["emailed"] == 0  # each alert is mailed once
    activate(resident, days=300)  # renewed
    assert alerts_evaluate()["cleared"] == 1


def test_failed_upgrade_alert_clears_after_a_later_success(installer, resident, make_device):
    from entryway.deviceapi.services import action_create, action_record_result

    device = make_device(resident, last_seen=timezone.now())
    failed = action_create(device=device, kind="upgrade", payload={"version": "29.30.2.806"})
    action_record_result(action=failed, status="failure", detail="sha256 mismatch")
    alerts_evaluate()
    alert = Alert.objects.get(kind="upgrade_failed")
    assert "sha256 mismatch" in alert.message and "29.30.2.806" in alert.message
    retry = action_create(device=device, kind="upgrade", payload={"version": "29.30.2.806"})
    action_record_result(action=retry, status="success")
    alerts_evaluate()
    alert.refresh_from_db()
    assert alert.cleared_at is not None


def test_dashboard_counts_and_access(client, installer, other_installer, distributor, make_resident, activate,
                                     make_device, django_assert_max_num_queries):
    now = timezone.now()
    r1 = activate(make_resident(installer, name="Normal One"), days=10)
    make_resident(installer, name="Never Activated")
    expired = activate(make_resident(installer, name="Lapsed"), days=1)
    expired.expires_at = now - datetime.timedelta(days=1)
    expired.save(update_fields=["expires_at"])
    make_device(r1, last_seen=now)
    make_device(r1, last_seen=now - datetime.timedelta(hours=1), version="29.30.2.700")
    make_resident(other_installer, name="Not Mine")

    client.force_login(installer)
    with django_assert_max_num_queries(14):
        page = client.get("/dashboard/")
    assert page.status_code == 200
    ctx = page.context
    assert ctx["users"] == {"inactivated": 1, "normal": 1, "expired": 1, "expiring": 1}
    assert ctx["fleet"] == {"online": 1, "total": 2, "offline": 1}
    bars = ctx["firmware"][0]["bars"]
    assert {b["label"]: b["value"] for b in bars} == {"29.30.2.805": 1, "29.30.2.700": 1}
    assert all(b["width"] == 100.0 for b in bars)  # one scale for the whole fleet
    assert b"Not Mine" not in page.content and b"Normal One" in page.content

    client.force_login(distributor)
    assert client.get("/dashboard/").status_code == 403
    client.logout()
    assert client.get("/dashboard/").status_code == 302


def test_alert_settings_are_validated_and_audited(client, installer):
    from entryway.core.models import AuditLog

    client.force_login(installer)
    bad = client.post("/alerts/", {"device_offline_minutes": "1", "expiring_days": "7"})
    assert bad.status_code == 200 and not AlertPreference.objects.exists()
    ok = client.post("/alerts/", {"email_enabled": "on", "device_offline_minutes": "15", "expiring_days": "10"})
    assert ok.status_code == 302
    pref = AlertPreference.objects.get(installer=installer)
    assert (pref.email_enabled, pref.device_offline_minutes, pref.expiring_days) == (True, 15, 10)
    assert AuditLog.objects.filter(action="alert_preference.update", installer=installer).exists()


def test_open_alerts_show_in_the_menu_on_every_page(client, installer, other_installer, resident, make_device):
    from django.core.cache import cache

    cache.clear()
    now = timezone.now()
    device = make_device(resident, last_seen=now - datetime.timedelta(hours=2))
    make_device(resident, last_seen=now - datetime.timedelta(hours=3))
    alerts_evaluate(now=now)
    client.force_login(installer)
    page = client.get("/users/").content.decode()
    assert '<span class="visually-hidden">Alerts: </span>2</span>' in page
    client.force_login(other_installer)
    assert "Alerts: " not in client.get("/users/").content.decode()

    # The cause goes away: the badge follows at the next evaluation.
    type(device).objects.filter(pk=device.pk).update(last_seen_at=now)
    alerts_evaluate(now=now)
    client.force_login(installer)
    assert "Alerts: </span>1</span>" in client.get("/devices/").content.decode()
    type(device).objects.update(last_seen_at=now)
    alerts_evaluate(now=now)
    assert "Alerts: " not in client.get("/devices/").content.decode()


def test_dashboard_says_when_calling_is_off(client, installer, settings):
    client.force_login(installer)
    notice = "No SIP server is configured (SIP_SERVER): numbers are allocated, calls do not ring."
    settings.SIP_ENABLED = False
    assert notice in client.get("/dashboard/").content.decode()
    settings.SIP_ENABLED = True
    assert notice not in client.get("/dashboard/").content.decode()
