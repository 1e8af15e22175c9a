"""The Update module in a real browser: create a strategy at a specific time, then edit it."""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from entryway.firmware.choices import StrategyStatus
from entryway.firmware.models import UpdateStrategy, UpgradeTarget
from entryway.testing.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_at_a_specific_time_then_edit(login_page, live_server, installer, make_firmware, make_device):
    fw = make_firmware("29.30.2.805")
    newer = make_firmware("29.30.2.806")
    make_firmware("82.30.2.622", models=("IT82",))
    gates = [make_device(installer, location=f"Gate {i}", version="29.30.2.800") for i in range(3)]
    make_device(installer, model="IT82", location="Hall monitor")
    page = login_page(installer)
    page.goto(f"{live_server.url}/updates/")
    page.get_by_role("link", name="New").click()
    page.wait_for_selector("h1:has-text('Update Strategy Creation')")

    page.get_by_label("Model").select_option(label="R29")
    page.wait_for_selector(f"text={gates[0].mac}")  # the device table arrived for the model
    page.get_by_label("Version").select_option(label="29.30.2.805")
    body = page.locator("#strategy-choices").inner_text()
    for text in ("Location", "Owner", "MAC", "Current Version", "Status", "Gate 0", "29.30.2.800", "Online"):
        assert text in body, text
    assert "Hall monitor" not in body
    page.get_by_label("Select all devices shown").check()
    assert page.locator("[data-selected-count='devices']").inner_text() == "3"

    page.get_by_label("Specific Time").check()
    when = timezone.localtime(timezone.now() + datetime.timedelta(days=2),
                              timezone=datetime.timezone(datetime.timedelta(hours=8))).replace(hour=3, minute=30)
    page.get_by_label("Upgrade Time").fill(when.strftime("%Y-%m-%dT%H:%M"))
    assert "Asia/Singapore" in page.locator("#id_scheduled_at_help").inner_text()
    screenshot(page, "update-strategy-new")
    page.get_by_role("button", name="Submit").click()

    page.wait_for_selector("h1:has-text('Update 29.30.2.805')")
    strategy = UpdateStrategy.objects.get()
    assert strategy.status == StrategyStatus.PENDING and strategy.device_count == 3
    assert strategy.scheduled_at == when.replace(second=0, microsecond=0)
    assert "Pending" in page.locator("main").inner_text()

    # Edit: a newer version, one device less, an hour later
    page.get_by_role("link", name="Edit").click()
    page.wait_for_selector("h1:has-text('Edit Update Strategy')")
    assert page.get_by_label("Specific Time").is_checked()
    page.get_by_label("Version").select_option(label="29.30.2.806")
    page.get_by_label(f"Select Gate 2 ({gates[2].mac})").uncheck()
    later = when + datetime.timedelta(hours=1)
    page.get_by_label("Upgrade Time").fill(later.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("h1:has-text('Update 29.30.2.806')")
    strategy.refresh_from_db()
    assert strategy.version == newer.version and strategy.device_count == 2
    assert strategy.scheduled_at == later.replace(second=0, microsecond=0)
    assert set(UpgradeTarget.objects.values_list("device_id", flat=True)) == {gates[0].pk, gates[1].pk}

    page.get_by_role("link", name="Back").click()
    page.wait_for_selector("table.strategy-table")
    row = page.locator("table.strategy-table tbody tr").first.inner_text()
    assert "29.30.2.806" in row and "R29 · 2 devices" in row and "Pending" in row
    assert later.strftime("%Y-%m-%d %H:%M") in row  # shown in the installer's time zone
    screenshot(page, "update-strategy")
    assert fw.strategies.count() == 0


def test_running_update_shows_progress(login_page, live_server, installer, make_firmware, make_device):
    from entryway.deviceapi.services import action_record_result
    from entryway.firmware import services

    fw = make_firmware("29.30.2.805")
    devices = [make_device(installer, location=f"Gate {i}") for i in range(10)]
    strategy = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[d.pk for d in devices],
                                        upgrade_right_now=True, waves="50", success_threshold=80,
                                        error_threshold=40)
    services.strategy_start(strategy_id=strategy.pk)
    first = list(UpgradeTarget.objects.filter(strategy=strategy, wave=0).order_by("pk"))
    for target in first[:3]:
        for status, stage in (("proceeding", "downloading"), ("proceeding", "installing"), ("success", "")):
            action_record_result(action=target.action, status=status, stage=stage)
    action_record_result(action=first[3].action, status="failure", detail="sha256 mismatch")
    action_record_result(action=first[4].action, status="proceeding", stage="installing")

    page = login_page(installer)
    page.goto(f"{live_server.url}/updates/{strategy.pk}/")
    main = page.locator("main").inner_text()
    for text in ("Processing", "4 of 10 devices done", "Succeeded", "sha256 mismatch", "Installing", "Pause",
                 "Cancel update", "Retry failed devices", "50 % → 100 %"):
        assert text in main, text
    assert page.locator("progress#strategy-bar").get_attribute("value") == "40"
    # the last device of the wave succeeds: 4 of 5 reach the success threshold, the second wave starts
    for status, stage in (("proceeding", "downloading"), ("success", "")):
        action_record_result(action=first[4].action, status=status, stage=stage)
    # the page refreshes itself (htmx, every 5 s)
    page.wait_for_selector("#strategy-progress:has-text('5 of 10 devices done')", timeout=12_000)
    assert page.locator("progress#strategy-bar").get_attribute("value") == "50"
    screenshot(page, "update-strategy-detail")
    page.get_by_role("button", name="Pause").click()
    page.wait_for_selector("text=Paused by")
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.PAUSED and strategy.current_wave == 1
