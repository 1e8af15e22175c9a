"""Idle check-ins and AutoP files answered from the cache, and everything that must send them to the database."""
from __future__ import annotations

import base64
import io
import json

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction

from entryway.deviceapi import devicecache
from entryway.deviceapi.autop import render_autop
from entryway.deviceapi.services import action_create, device_settings_update
from entryway.deviceapi.tests.conftest import basic
from entryway.deviceapi.tests.test_protocol import REPORT, checkin, report
from entryway.devices.models import IntercomDevice

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached(client, device, device_headers):
    """The device checked in once: its entry and config version are cached."""
    assert checkin(client, device_headers).status_code == 200
    entry, _generation, _version = devicecache.lookup(device.mac)
    assert entry is not None and entry.quiet and entry.id == device.pk
    return entry


def test_cache_keeps_a_keyed_digest_of_the_secret_not_the_secret(cached, device):
    assert device.device_secret.encode() not in repr(cached).encode()
    assert cached.digest == devicecache.secret_digest(device.device_secret)
    assert cached.digest != devicecache.secret_digest(device.device_secret + "x")


def test_wrong_secret_is_refused_although_the_device_is_cached(client, cached, device):
    assert checkin(client, basic(device.mac, "not-the-secret")).status_code == 401


def test_new_action_reaches_the_next_checkin(client, cached, device, device_headers, installer):
    reboot = action_create(device=device, kind="reboot", acting_user=installer)
    assert [a["id"] for a in checkin(client, device_headers).json()["actions"]] == [reboot.pk]


def test_entry_made_before_an_action_commits_does_not_hide_it(client, device, device_headers, installer):
    # A check-in read the generation and the database before the action's transaction committed,
    # and stored its (quiet) entry afterwards: the generation written after commit outdates it.
    _entry, generation, _version = devicecache.lookup(device.mac)
    with transaction.atomic():
        reboot = action_create(device=device, kind="reboot", acting_user=installer)
        device.refresh_from_db()
    devicecache.store(device.mac, device, generation=generation, quiet=True)
    assert [a["id"] for a in checkin(client, device_headers).json()["actions"]] == [reboot.pk]


def test_changed_report_is_written_at_once(client, cached, device, device_headers):
    checkin(client, device_headers, {**REPORT, "ip": "192.168.1.77"})
    assert IntercomDevice.objects.get(pk=device.pk).ip_address == "192.168.1.77"
    entry, _generation, _version = devicecache.lookup(device.mac)
    assert entry.ip == "192.168.1.77"


def test_deleted_device_is_refused_at_its_next_checkin(client, cached, device, device_headers):
    device.delete()
    assert checkin(client, device_headers).status_code == 401


def test_device_given_a_new_secret_is_known_by_it_only(client, cached, device, device_headers):
    old_headers = device_headers
    device.device_secret = "a-new-secret-for-new-hardware-0123"
    device.save()
    assert checkin(client, old_headers).status_code == 401
    assert checkin(client, basic(device.mac, "a-new-secret-for-new-hardware-0123")).status_code == 200


def test_old_secret_cannot_report_results_after_a_new_one(client, cached, device, device_headers, installer):
    reboot = action_create(device=device, kind="reboot", acting_user=installer)
    checkin(client, device_headers)  # the action is sent; the device's entry is cached again
    device.device_secret = "a-new-secret-for-new-hardware-0123"
    device.save()
    answer = report(client, device_headers, reboot.pk, {"status": "success"})
    assert answer.status_code == 401
    answer = report(client, basic(device.mac, "a-new-secret-for-new-hardware-0123"), reboot.pk, {"status": "success"})
    assert answer.status_code == 200


def test_autop_file_served_from_the_cache_is_the_current_file(client, cached, device, device_headers, installer,
                                                               django_assert_num_queries):
    fresh = render_autop(IntercomDevice.objects.get(pk=device.pk))
    with django_assert_num_queries(0):
        served = client.get(f"/autop/{device.mac}.cfg", headers=device_headers)
    assert served.status_code == 200 and served.content.decode() == fresh
    device_settings_update(acting_user=installer, device=device, connect_type="tls",
                           autop_commands="Config.Settings.GENERAL.Foo = 1")
    changed = client.get(f"/autop/{device.mac}.cfg", headers=device_headers).content.decode()
    assert "Config.Settings.GENERAL.Foo = 1" in changed and changed != fresh
    # and the check-in hands out the new file's version
    version = checkin(client, device_headers).json()["config_version"]
    assert version == devicecache_version(device)


def devicecache_version(device) -> str:
    from entryway.deviceapi.autop import version_of

    return version_of(render_autop(IntercomDevice.objects.get(pk=device.pk)))


def test_cached_file_is_encrypted(cached, device):
    from django.core.cache import cache

    from entryway.deviceapi.autop import file_key

    token = cache.get(file_key(device.pk))
    assert token and device.device_secret not in token


# --- the WSGI application: device routes without the portal's middleware -----------------------------


def _call(app, method, path, *, auth=None, body=b""):
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "testserver",
        "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "testserver", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "CONTENT_LENGTH": str(len(body)),
        "wsgi.errors": io.StringIO(),
    }
    if body:
        environ["CONTENT_TYPE"] = "application/json"
    if auth:
        environ["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(auth.encode()).decode()
    answer = {}

    def start_response(status, headers):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    # As Django's test client does: the test's database connection must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        answer["body"] = b"".join(app(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer


@pytest.fixture
def wsgi_app(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    from config.wsgi import application

    return application


def test_device_routes_skip_the_portal_middleware(wsgi_app, device):
    auth = f"{device.mac}:{device.device_secret}"
    first = _call(wsgi_app, "POST", "/device/v1/checkin", auth=auth, body=json.dumps(REPORT).encode())
    assert first["status"] == 200 and json.loads(first["body"])["actions"] == []
    # no session, CSRF, language cookie or page security policy for a device; the request id stays
    assert "Set-Cookie" not in first["headers"] and "Content-Security-Policy" not in first["headers"]
    assert "Vary" not in first["headers"] and first["headers"]["X-Request-ID"]
    autop = _call(wsgi_app, "GET", f"/autop/{device.mac}.cfg", auth=auth)
    assert autop["status"] == 200 and autop["body"].decode() == render_autop(IntercomDevice.objects.get(pk=device.pk))
    assert _call(wsgi_app, "POST", "/device/v1/checkin", auth=f"{device.mac}:wrong")["status"] == 401
    assert _call(wsgi_app, "GET", "/device/v1/checkin", auth=auth)["status"] == 405


def test_other_paths_take_the_full_application(wsgi_app):
    health = _call(wsgi_app, "GET", "/healthz")
    assert health["status"] == 200 and "Content-Security-Policy" in health["headers"]
    assert _call(wsgi_app, "GET", "/device/v1/checkin/extra")["status"] == 404


@pytest.mark.parametrize("backend", ["locmem", "redis"])
def test_a_file_rendered_from_data_changed_meanwhile_is_not_cached(request, backend, installer, make_device):
    from django.core.cache import cache

    if backend == "redis":  # the production backend
        request.getfixturevalue("redis_cache")

    from entryway.deviceapi.autop import (
        cached_version,
        config_version,
        forget_versions,
        remember_version,
        render_autop,
        version_epoch,
    )

    device = make_device(installer)
    cache.clear()
    epoch = version_epoch(device.pk)
    stale = render_autop(device)
    forget_versions([device.pk])  # a change commits while the old data is being rendered
    remember_version(device.pk, stale, epoch=epoch)
    assert cached_version(device.pk) is None
    # rendered after the change: cached as usual
    assert cached_version(device.pk) is None and config_version(device.pk) == cached_version(device.pk)


@pytest.mark.parametrize("backend", ["locmem", "redis"])
def test_files_are_remembered_and_forgotten_with_their_epochs(request, backend, installer, make_device):
    from django.core.cache import cache

    from entryway.deviceapi.autop import (
        CONFIG_VERSION_TTL,
        base_key,
        cached_file,
        cached_version,
        epoch_key,
        file_key,
        forget_files,
        forget_versions,
        remember_version,
        version_epoch,
        version_key,
        version_of,
    )

    if backend == "redis":
        request.getfixturevalue("redis_cache")
    device, other = make_device(installer), make_device(installer)
    cache.clear()
    # No epoch yet: a file made now is cached (the epoch read was "none").
    assert version_epoch(device.pk) is None
    assert remember_version(device.pk, "Config.A.B.C = 1\n", epoch=None, base=("head", "tail"),
                            base_mac=device.mac) == version_of("Config.A.B.C = 1\n")
    assert cached_file(device.pk) == "Config.A.B.C = 1\n"
    assert cached_version(device.pk) == version_of("Config.A.B.C = 1\n")
    assert cache.get(base_key(device.pk)) is not None
    # An action opened: the file and its version go, the base stays, the epoch moves; other devices keep theirs.
    remember_version(other.pk, "Config.X.Y.Z = 2\n")
    with transaction.atomic():
        forget_files([device.pk])
    epoch = version_epoch(device.pk)
    assert isinstance(epoch, int)
    assert cached_file(device.pk) is None and cached_version(device.pk) is None
    assert cache.get(base_key(device.pk)) is not None
    assert cached_file(other.pk) == "Config.X.Y.Z = 2\n"
    # A file made before the epoch moved is not cached; one made after it is.
    remember_version(device.pk, "stale", epoch=None)
    assert cached_version(device.pk) is None
    remember_version(device.pk, "Config.A.B.C = 3\n", epoch=epoch)
    assert cached_file(device.pk) == "Config.A.B.C = 3\n"
    # The device row changed: the base goes too.
    with transaction.atomic():
        forget_versions([device.pk])
    assert version_epoch(device.pk) != epoch
    assert cache.get(base_key(device.pk)) is None and cached_file(device.pk) is None
    if backend == "redis":  # everything written lives CONFIG_VERSION_TTL seconds at most
        remember_version(device.pk, "Config.A.B.C = 4\n", base=("h", "t"), base_mac=device.mac)
        client = cache._cache.get_client(write=True)
        for key in (version_key(device.pk), file_key(device.pk), base_key(device.pk), epoch_key(device.pk)):
            assert 0 < client.ttl(cache.make_key(key)) <= CONFIG_VERSION_TTL


def _upgrade(device, installer, url="https://cloud.example.com/firmware/files/x/R29.rom"):
    return action_create(device=device, kind="upgrade", acting_user=installer,
                         payload={"url": url, "version": "29.30.9.1", "sha256": "0" * 64, "size": 1})


def test_an_action_opening_or_closing_keeps_the_file_s_base(client, cached, device, device_headers, installer,
                                                           django_assert_num_queries):
    from django.core.cache import cache

    from entryway.deviceapi.autop import base_key
    from entryway.deviceapi.services import action_record_result

    client.get(f"/autop/{device.mac}.cfg", headers=device_headers)
    assert cache.get(base_key(device.pk)) is not None
    upgrade = _upgrade(device, installer)
    assert cache.get(base_key(device.pk)) is not None
    with django_assert_num_queries(1):  # the open actions only: the rest of the file is the cached base
        served = client.get(f"/autop/{device.mac}.cfg", headers=device_headers).content.decode()
    assert served == render_autop(IntercomDevice.objects.get(pk=device.pk))
    assert "Config.Firmware.Url = https://cloud.example.com/firmware/files/x/R29.rom" in served
    action_record_result(action=upgrade, status="success")
    with django_assert_num_queries(1):
        after = client.get(f"/autop/{device.mac}.cfg", headers=device_headers).content.decode()
    assert "Firmware.Url" not in after and after == render_autop(IntercomDevice.objects.get(pk=device.pk))


def test_a_change_of_the_device_drops_the_file_s_base(client, cached, device, device_headers, installer):
    from django.core.cache import cache

    from entryway.deviceapi.autop import base_key

    client.get(f"/autop/{device.mac}.cfg", headers=device_headers)
    _upgrade(device, installer)
    device.location = "Side entrance"
    device.save()
    assert cache.get(base_key(device.pk)) is None
    served = client.get(f"/autop/{device.mac}.cfg", headers=device_headers).content.decode()
    assert "Config.DoorSetting.DEVICENODE.Location = Side entrance" in served and "Firmware.Url" in served
    relay = device.relays.get(index=1)
    relay.dtmf_code = "9"
    relay.save()
    served = client.get(f"/autop/{device.mac}.cfg", headers=device_headers).content.decode()
    assert "Config.DoorSetting.RELAY.DTMFA = 9" in served


def test_the_cached_base_is_encrypted(client, cached, device, device_headers):
    from django.core.cache import cache

    from entryway.deviceapi.autop import base_key

    client.get(f"/autop/{device.mac}.cfg", headers=device_headers)
    token = cache.get(base_key(device.pk))
    assert isinstance(token, str) and device.device_secret not in token and "Config." not in token


def test_a_base_made_for_another_mac_is_not_used(client, cached, device, device_headers, installer):
    # A database restored under a running cache: the same id now names another device.
    import json

    from django.core.cache import cache

    from entryway.core.fields import encrypt
    from entryway.deviceapi.autop import CONFIG_VERSION_TTL, base_key

    stranger = ["# another device\nConfig.Entryway.CLOUD.DeviceSecret = not-yours", "", "0C11DAFFFFFF"]
    cache.set(base_key(device.pk), encrypt(json.dumps(stranger)), CONFIG_VERSION_TTL)
    _upgrade(device, installer)  # drops the file, keeps the base
    served = client.get(f"/autop/{device.mac}.cfg", headers=device_headers).content.decode()
    assert "not-yours" not in served and served == render_autop(IntercomDevice.objects.get(pk=device.pk))
    version = checkin(client, device_headers).json()["config_version"]
    assert version == devicecache_version(device)


@pytest.mark.parametrize("backend", ["locmem", "redis"])
def test_files_from_cached_bases_for_many_devices_at_once(request, backend, installer, make_device,
                                                          django_assert_num_queries):
    """``files_from_base`` (a batch of reports closing upgrades): the same files as one by one, one query."""
    from django.core.cache import cache

    from entryway.deviceapi.autop import (
        cached_file,
        current_file,
        files_from_base,
        forget_files,
        remember_versions,
        render_autop,
        version_epoch,
    )
    from entryway.deviceapi.services import action_create

    if backend == "redis":
        request.getfixturevalue("redis_cache")
    devices = [make_device(installer) for _ in range(3)]
    bare = make_device(installer)
    cache.clear()
    for device in devices:
        current_file(device.pk)  # caches its base
    action_create(device=devices[0], kind="autop", payload={"lines": ["Config.Settings.GENERAL.Name = gate"]})
    with transaction.atomic():
        forget_files([d.pk for d in devices] + [bare.pk])
    assert all(cached_file(d.pk) is None for d in devices)
    with django_assert_num_queries(1):
        assert files_from_base([d.pk for d in devices] + [bare.pk]) == 3
    for device in devices:
        assert cached_file(device.pk) == render_autop(device)
    assert "Config.Settings.GENERAL.Name = gate" in cached_file(devices[0].pk)
    assert cached_file(bare.pk) is None  # no base cached: left to its next request
    # A file made from data that changed meanwhile (its epoch moved) is not cached.
    epoch = version_epoch(devices[1].pk)
    with transaction.atomic():
        forget_files([devices[1].pk])
    assert remember_versions({devices[1].pk: ("stale", epoch), devices[2].pk: ("fresh", version_epoch(devices[2].pk))}) == 1
    assert cached_file(devices[1].pk) is None and cached_file(devices[2].pk) == "fresh"
