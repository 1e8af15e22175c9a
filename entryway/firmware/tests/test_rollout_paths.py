"""The cheap paths of a large rollout: target rows made in the database, progress reports as single
updates, the strategy evaluated only when something can be decided, firmware downloads with ETag
and ranges answered before Django."""
from __future__ import annotations

import hashlib
import io
import os
import threading
from unittest import mock

import pytest
from django.db import connection

from entryway.deviceapi.models import DeviceAction
from entryway.deviceapi.services import action_record_result
from entryway.firmware import download, services
from entryway.firmware.choices import StrategyStatus, TargetState
from entryway.firmware.models import UpdateStrategy, UpgradeTarget
from entryway.firmware.tests.test_report_race import hold_strategy_row
from entryway.firmware.tests.test_services import _staged


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql" and not os.environ.get("CI"):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")


def _actions(strategy):
    return [t.action for t in UpgradeTarget.objects.filter(strategy=strategy).select_related("action").order_by("pk")]


# --------------------------------------------------------------------------- creation

def test_waves_numbered_as_before(make_firmware, make_device, installer):
    """Target rows (one INSERT … SELECT on PostgreSQL, a bulk insert elsewhere) get _wave_of's waves."""
    fw = make_firmware()
    devices = [make_device(installer, location="x" * 64) for _ in range(7)]
    strategy = services.strategy_create(acting_user=installer, firmware=fw, device_ids=[d.pk for d in devices],
                                        upgrade_right_now=True, waves="10, 50")
    rows = list(UpgradeTarget.objects.filter(strategy=strategy).order_by("device_id")
                .values_list("device_id", "wave", "mac", "from_version", "state", "active", "attempts"))
    assert [r[1] for r in rows] == [services._wave_of(i, 7, [10, 50, 100]) for i in range(7)] == [0, 1, 1, 1, 2, 2, 2]
    assert [(r[0], r[2]) for r in rows] == [(d.pk, d.mac) for d in sorted(devices, key=lambda d: d.pk)]
    assert {r[3:] for r in rows} == {("29.30.2.800", TargetState.WAITING, True, 0)}
    assert strategy.device_count == 7


# --------------------------------------------------------------------------- reports

def test_progress_reports_move_the_state_and_keep_the_autop_file(make_firmware, make_device, installer):
    strategy = _staged(make_firmware, make_device, installer, n=1)
    action = _actions(strategy)[0]
    target = UpgradeTarget.objects.get(strategy=strategy)
    with mock.patch("entryway.deviceapi.services.forget_files") as forget:
        action_record_result(action=action, status="proceeding", stage="downloading", detail="10%")
        target.refresh_from_db()
        assert (target.state, target.detail) == (TargetState.DOWNLOADING, "10%")
        action_record_result(action=action, status="proceeding", stage="installing")
        target.refresh_from_db()
        assert target.state == TargetState.INSTALLING
        assert not forget.called  # the file still names the firmware while the action is open
        action_record_result(action=action, status="success", detail="upgraded")
        forget.assert_called_once_with([action.device_id])  # now it does not
    target.refresh_from_db()
    assert target.state == TargetState.SUCCEEDED and not target.active
    action.refresh_from_db()
    assert action.status == "success" and action.finished_at is not None
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.EXECUTED


def test_a_second_final_report_changes_nothing(make_firmware, make_device, installer):
    strategy = _staged(make_firmware, make_device, installer, n=1)
    action = _actions(strategy)[0]
    action_record_result(action=action, status="success")
    again = action_record_result(action=DeviceAction.objects.get(pk=action.pk), status="failure", detail="late")
    assert again.status == "success"
    target = UpgradeTarget.objects.get(strategy=strategy)
    assert target.state == TargetState.SUCCEEDED and target.detail == ""


def test_reports_in_the_last_wave_lock_the_strategy_only_at_the_end(make_firmware, make_device, installer):
    strategy = _staged(make_firmware, make_device, installer, n=4)
    actions = _actions(strategy)
    with mock.patch.object(services, "strategy_evaluate", wraps=services.strategy_evaluate) as evaluate:
        for action in actions[:3]:
            action_record_result(action=action, status="success")
        assert not evaluate.called
        action_record_result(action=actions[3], status="failure", detail="flash write error")
        assert evaluate.call_count == 1
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.EXECUTED


def _report(action, status, stage="", detail="", device_id=None):
    from entryway.deviceapi.services import Report

    return Report(action_id=action.pk, device_id=device_id or action.device_id, status=status, stage=stage,
                  detail=detail)


def test_reports_recorded_together_move_each_device_as_one_by_one(make_firmware, make_device, installer):
    """``actions_report`` (the reports that arrive together over MQTT): the same outcome as each report
    recorded by itself, in order."""
    from entryway.deviceapi.services import actions_report
    from entryway.devices.models import IntercomDevice

    strategy = _staged(make_firmware, make_device, installer, n=6)
    a = _actions(strategy)
    with mock.patch.object(services, "strategy_evaluate", wraps=services.strategy_evaluate) as evaluate:
        actions, counted = actions_report([
            _report(a[0], "proceeding", "downloading", "10%"),
            _report(a[1], "proceeding", "downloading", "50%"),
            _report(a[2], "proceeding", "installing"),
            _report(a[1], "proceeding", "installing", "flashing"),
            _report(a[2], "success", detail="upgraded"),
            _report(a[3], "failure", detail="sha256 mismatch"),
            _report(a[4], "success"),
            _report(a[4], "failure", detail="late"),  # after its final: does not count
            _report(a[5], "success", device_id=a[0].device_id),  # not that device's action
        ])
        assert not evaluate.called  # devices are still open in the last wave
    assert counted == [True, True, True, True, True, True, True, False, False]
    assert sorted(x.pk for x in actions) == sorted(x.pk for x in a[:5])
    targets = {t.action_id: t for t in UpgradeTarget.objects.filter(strategy=strategy)}
    assert [(targets[x.pk].state, targets[x.pk].detail) for x in a] == [
        (TargetState.DOWNLOADING, "10%"), (TargetState.INSTALLING, "flashing"), (TargetState.SUCCEEDED, "upgraded"),
        (TargetState.FAILED, "sha256 mismatch"), (TargetState.SUCCEEDED, ""), (TargetState.WAITING, "")]
    assert [DeviceAction.objects.get(pk=x.pk).status for x in a] == [
        "proceeding", "proceeding", "success", "failure", "success", a[5].status]
    versions = dict(IntercomDevice.objects.filter(pk__in=[x.device_id for x in a]).values_list("pk", "firmware_version"))
    assert versions[a[2].device_id] == versions[a[4].device_id] == strategy.firmware.version
    assert versions[a[3].device_id] == "29.30.2.800"
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.PROCESSING

    # The rest together: the strategy is evaluated once, and is Executed.
    with mock.patch.object(services, "strategy_evaluate", wraps=services.strategy_evaluate) as evaluate:
        _actions_done, counted = actions_report([_report(a[0], "success"), _report(a[1], "success"),
                                                _report(a[5], "failure", detail="no space")])
        assert evaluate.call_count == 1
    assert counted == [True, True, True]
    strategy.refresh_from_db()
    assert strategy.status == StrategyStatus.EXECUTED
    assert services.strategy_counts(strategy)["succeeded"] == 4


def test_reports_recorded_together_take_the_same_statements_for_more_devices(make_firmware, make_device,
                                                                              installer):
    from django.test.utils import CaptureQueriesContext

    from entryway.deviceapi.services import actions_report

    def statements(n):
        strategy = _staged(lambda: make_firmware(version=f"29.30.2.{900 + n}"), make_device, installer, n=n)
        a = _actions(strategy)
        with CaptureQueriesContext(connection) as progress:
            actions_report([_report(x, "proceeding", "downloading") for x in a])
        with CaptureQueriesContext(connection) as final:
            actions_report([_report(x, "success") for x in a])
        strategy.refresh_from_db()
        assert strategy.status == StrategyStatus.EXECUTED
        return len(progress), len(final)

    assert statements(3) == statements(25)


# --------------------------------------------------------------------------- concurrent reports (PostgreSQL)

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_devices_reporting_at_once_reach_executed_once(installer, make_firmware, make_device, postgres_only):
    strategy = _staged(make_firmware, make_device, installer, n=12)
    actions = _actions(strategy)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def device_reports(chunk):
        from django.db import connections

        try:
            barrier.wait()
            for action in chunk:
                action_record_result(action=action, status="proceeding", stage="downloading")
                action_record_result(action=action, status="proceeding", stage="installing")
                action_record_result(action=action, status="success")
                # a repeated final report (e.g. after a lost answer) is refused, not recorded twice
                assert action_record_result(action=action, status="failure").status == "success"
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=device_reports, args=(actions[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    strategy = UpdateStrategy.objects.get(pk=strategy.pk)
    assert strategy.status == StrategyStatus.EXECUTED
    assert services.strategy_counts(strategy)["succeeded"] == 12
    assert DeviceAction.objects.filter(kind="upgrade").count() == 12  # nobody got a second upgrade


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_wave_end_reported_while_the_row_is_held_still_starts_the_next_wave(installer, make_firmware, make_device,
                                                                          postgres_only):
    strategy = _staged(make_firmware, make_device, installer, n=4, waves="50", success_threshold=100)
    first, second = _actions(strategy)[:2]
    action_record_result(action=first, status="success")
    thread = hold_strategy_row(strategy.pk)
    action_record_result(action=second, status="success")  # the wave's last device, while the row is held
    thread.join(10)
    strategy = UpdateStrategy.objects.get(pk=strategy.pk)
    assert strategy.current_wave == 1 and DeviceAction.objects.filter(kind="upgrade").count() == 4


# --------------------------------------------------------------------------- downloads

@pytest.fixture
def firmware_file(make_firmware):
    content = bytes(range(256)) * 80
    fw = make_firmware(content=content)
    path = services.firmware_file_url(fw).removeprefix("http://testserver")
    return fw, content, path


def _wsgi(path, **headers):
    environ = {"REQUEST_METHOD": headers.pop("method", "GET"), "PATH_INFO": path, "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(b""), "SERVER_NAME": "testserver", "SERVER_PORT": "80"}
    environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    answer = download.wsgi_download(environ)
    if answer is None:
        return None
    status, header_list, body = answer
    return int(status.split()[0]), dict(header_list), b"".join(body)


def test_download_answered_before_django_with_etag_and_ranges(firmware_file, settings):
    settings.SECURE_SSL_REDIRECT = False
    fw, content, path = firmware_file
    status, headers, body = _wsgi(path)
    assert status == 200 and body == content and hashlib.sha256(body).hexdigest() == fw.sha256
    assert headers["ETag"] == f'"{fw.sha256}"' and headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Length"] == str(len(content)) and headers["X-Firmware-SHA256"] == fw.sha256
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Request-ID"]
    assert _wsgi(path, if_none_match=f'"{fw.sha256}"')[0] == 304
    status, headers, body = _wsgi(path, range="bytes=100-199")
    assert (status, body, headers["Content-Range"]) == (206, content[100:200], f"bytes 100-199/{len(content)}")
    status, _headers, body = _wsgi(path, range="bytes=20000-")
    assert (status, body) == (206, content[20000:])
    status, _headers, body = _wsgi(path, range="bytes=-10")
    assert (status, body) == (206, content[-10:])
    assert _wsgi(path, range=f"bytes={len(content)}-")[0] == 416
    assert _wsgi(path, range="bytes=0-1", if_range='"other"')[0] == 200
    assert _wsgi(path, range="bytes=0-1,5-6")[0] == 200
    status, headers, body = _wsgi(path, method="HEAD")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len(content))
    # what it cannot answer goes to the view (which answers 404 or redirects)
    token = path.split("/")[3]
    assert _wsgi(f"/firmware/files/{token}/other.rom") is None
    assert _wsgi(f"/firmware/files/{token}x/{fw.filename}") is None
    assert _wsgi(path, method="POST") is None
    (settings.MEDIA_ROOT / fw.file.name).unlink()
    assert _wsgi(path) is None  # deleted: the view answers 404


def test_view_answers_ranges_and_etag_the_same_way(client, firmware_file):
    fw, content, path = firmware_file
    response = client.get(path)
    assert response.status_code == 200 and b"".join(response.streaming_content) == content
    assert response["ETag"] == f'"{fw.sha256}"' and response["Accept-Ranges"] == "bytes"
    response = client.get(path, headers={"Range": "bytes=10-19"})
    assert response.status_code == 206 and response.content == content[10:20]
    assert response["Content-Range"] == f"bytes 10-19/{len(content)}"
    assert client.get(path, headers={"If-None-Match": f'"{fw.sha256}"'}).status_code == 304
    assert client.get(path, headers={"Range": f"bytes={len(content) + 5}-"}).status_code == 416


def test_device_route_dispatch_serves_downloads(firmware_file, settings):
    """config.wsgi's dispatcher hands firmware paths to the lean download before the full application."""
    from entryway.deviceapi.wsgi import with_device_routes

    settings.SECURE_SSL_REDIRECT = False
    _fw, content, path = firmware_file
    full = mock.Mock(return_value=[b"full"])
    app = with_device_routes(full)
    seen = {}
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
               "SERVER_NAME": "testserver", "SERVER_PORT": "80"}
    body = b"".join(app(environ, lambda status, headers: seen.update(status=status)))
    assert seen["status"] == "200 OK" and body == content and not full.called
    environ = dict(environ, PATH_INFO="/firmware/files/garbage/x.rom")
    assert app(environ, lambda status, headers: None) == [b"full"]
