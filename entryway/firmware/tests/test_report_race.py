"""The last device's report arrives while another report holds the strategy row: the strategy still finishes."""
from __future__ import annotations

import threading

import pytest
from django.db import transaction

from entryway.deviceapi.models import DeviceAction
from entryway.deviceapi.services import action_record_result
from entryway.firmware import services
from entryway.firmware.choices import StrategyStatus
from entryway.firmware.models import UpdateStrategy
from entryway.firmware.tests.test_concurrency import needs_postgres  # noqa: F401 (row locks need PostgreSQL)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def hold_strategy_row(strategy_pk: int, seconds: float = 0.3) -> threading.Thread:
    """Another report holding the strategy's row lock: taken now (in a thread), released ``seconds`` later."""
    locked, release = threading.Event(), threading.Event()

    def other_report_holding_the_row():
        from django.db import connections

        try:
            with transaction.atomic():
                UpdateStrategy.objects.select_for_update().get(pk=strategy_pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=other_report_holding_the_row)
    holder.start()
    assert locked.wait(10)
    threading.Timer(seconds, release.set).start()
    return holder


def test_last_report_while_strategy_row_is_locked(installer, make_firmware, make_device):
    fw = make_firmware()
    first, last = make_device(installer), make_device(installer)
    strategy = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[first.pk, last.pk],
                                        upgrade_right_now=True)
    assert UpdateStrategy.objects.get(pk=strategy.pk).status == StrategyStatus.PROCESSING
    actions = {a.device_id: a for a in DeviceAction.objects.filter(kind="upgrade")}
    action_record_result(action=actions[first.pk], status="success")

    holder = hold_strategy_row(strategy.pk)
    # The last device's report cannot evaluate now (the row is held) and must not be forgotten:
    # its evaluation after commit waits for the holder, then finds every device final.
    action_record_result(action=actions[last.pk], status="failure", detail="flash write error")
    holder.join(10)

    strategy = UpdateStrategy.objects.get(pk=strategy.pk)
    assert strategy.status == StrategyStatus.EXECUTED
    counts = services.strategy_counts(strategy)
    assert (counts["succeeded"], counts["failed"], counts["final"]) == (1, 1, 2)
