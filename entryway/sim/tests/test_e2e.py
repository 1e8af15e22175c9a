"""End to end: the real platform (live server) and simulated devices, driven from the installer portal.

Each test adds devices through the services an installer's pages use, starts the simulator against
the live server, and acts through the portal's own views (Reboot, Once Autop) with a logged-in client.
"""
from __future__ import annotations

import time

import pytest
from django.urls import reverse

from entryway.deviceapi.tests.test_mqtt import dynsec_broker  # noqa: F401 - a fixture: Mosquitto with dynamic security

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("e2e_settings")]

WAIT = 12  # seconds: every wait in these tests is far shorter in practice


def wait_for(predicate, timeout=WAIT, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def test_devices_provision_check_in_and_show_online(add_device, fleet_for, installer, client):
    from entryway.devices.models import IntercomDevice

    devices = [add_device(f"Gate {i}") for i in range(3)]
    runner = fleet_for(devices)
    assert runner.wait_until(lambda f: all(d.online for d in f.devices.values()), timeout=WAIT), [
        d.last_error for d in runner.fleet.devices.values()]

    for device in devices:
        sim = runner.fleet.device(device.mac)
        # Provisioned with the installer's credentials; the file gave it its own secret and settings.
        assert sim.secret == IntercomDevice.objects.get(pk=device.pk).device_secret
        assert sim.config["Config.DoorSetting.DEVICENODE.Location"] == device.location
        assert sim.config["Config.Account1.GENERAL.UserName"] == device.sip_number
    assert wait_for(lambda: IntercomDevice.objects.filter(pk__in=[d.pk for d in devices],
                                                         last_seen_at__isnull=False).count() == 3)
    stored = IntercomDevice.objects.get(pk=devices[0].pk)
    assert stored.is_online and stored.firmware_version == "29.30.2.805"
    assert stored.ip_address == runner.fleet.device(stored.mac).ip

    client.force_login(installer)
    page = client.get(reverse("deviceapi:device_info", kwargs={"pk": stored.pk}))
    assert page.status_code == 200
    assert "29.30.2.805" in page.content.decode()


def test_reboot_and_once_autop_from_the_portal_are_confirmed(add_device, fleet_for, installer, client):
    from entryway.deviceapi.models import DeviceAction
    from entryway.devices.models import IntercomDevice

    device = add_device("Front gate")
    other = add_device("Back gate")
    runner = fleet_for([device, other])
    assert runner.wait_until(lambda f: f.device(device.mac).online and f.device(other.mac).online, timeout=WAIT)
    sim = runner.fleet.device(device.mac)
    uptime_before = sim.uptime

    client.force_login(installer)
    info = reverse("deviceapi:device_info", kwargs={"pk": device.pk})
    response = client.post(reverse("deviceapi:device_reboot", kwargs={"pk": device.pk}))
    assert response.status_code == 302 and response["Location"] == info
    response = client.post(reverse("deviceapi:device_once_autop", kwargs={"pk": device.pk}), {
        "connect_type": "udp",
        "autop_commands": "# one time\nConfig.Settings.DATETIME.DateFormat = 2\nConfig.Settings.LCD.Brightness = 40",
    })
    assert response.status_code == 302 and response["Location"] == info

    reboot = DeviceAction.objects.get(device=device, kind="reboot")
    once = DeviceAction.objects.get(device=device, kind="autop")
    assert once.payload == {"lines": ["Config.Settings.DATETIME.DateFormat = 2", "Config.Settings.LCD.Brightness = 40"]}

    def done():
        return set(DeviceAction.objects.filter(pk__in=[reboot.pk, once.pk]).values_list("status", flat=True)) == {
            "success"}

    assert wait_for(done), list(DeviceAction.objects.filter(device=device).values("kind", "status", "detail"))
    # The simulated device restarted once and applied the One Time AutoP lines.
    assert sim.boots == 1 and sim.uptime < uptime_before
    assert sim.final == {reboot.pk: "success", once.pk: "success"}
    assert sim.config["Config.Settings.DATETIME.DateFormat"] == "2"
    assert sim.config["Config.Settings.LCD.Brightness"] == "40"
    # The other device got nothing.
    assert runner.fleet.device(other.mac).results == [] and runner.fleet.device(other.mac).boots == 0
    # It is back, checking in after the reboot.
    assert runner.wait_until(lambda f: f.device(device.mac).online, timeout=WAIT)
    assert IntercomDevice.objects.get(pk=device.pk).is_online

    # The portal shows both as succeeded, and the One Time lines are gone from the AutoP file.
    page = client.get(info).content.decode()
    assert "Success" in page
    assert runner.wait_until(lambda f: f.device(device.mac).autop_fetches >= 3, timeout=WAIT)
    from entryway.deviceapi.autop import render_autop

    assert "DateFormat" not in render_autop(IntercomDevice.objects.get(pk=device.pk))


def test_once_autop_with_a_line_the_device_cannot_apply_fails_and_changes_nothing(
        add_device, fleet_for, installer):
    """The portal refuses such lines; a device that still gets one reports it, naming the line."""
    from entryway.deviceapi.services import action_create

    device = add_device()
    runner = fleet_for([device])
    assert runner.wait_until(lambda f: f.device(device.mac).online, timeout=WAIT)
    action = action_create(device=device, kind="autop", acting_user=installer,
                           payload={"lines": ["Config.Settings.DATETIME.DateFormat = 3", "Config.Broken = x y"]})
    action.refresh_from_db()

    def final():
        action.refresh_from_db()
        return action.status in ("success", "failure")

    assert wait_for(final)
    assert action.status == "failure" and action.detail == "line 2: Config.Broken = x y"
    assert not any(key.startswith("Config.Broken") for key in runner.fleet.device(device.mac).config)


@pytest.mark.mqtt
def test_push_over_mqtt_reaches_the_device_long_before_its_poll_interval(
        add_device, fleet_for, installer, client, settings):
    """With a broker configured, a Reboot from the portal is carried out within seconds, not a poll interval."""
    import os
    import socket

    from entryway.deviceapi.models import DeviceAction
    from entryway.sim.mqtt import broker_address

    url = os.environ.get("TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    host, port, _tls = broker_address(url)
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail(f"the MQTT broker {url} is required in CI")
        pytest.skip(f"no MQTT broker at {url}")
    settings.MQTT_URL = url
    settings.DEVICE_POLL_INTERVAL = 60

    device = add_device()
    runner = fleet_for([device], poll_interval=None, mqtt=True)

    def subscribed(f):
        sim = f.device(device.mac)
        return sim.online and sim.mqtt is not None and sim.mqtt.subscribed

    assert runner.wait_until(subscribed, timeout=WAIT), runner.fleet.device(device.mac).last_error
    sim = runner.fleet.device(device.mac)
    assert sim.poll_interval == 60
    assert sim.mqtt.topic == f"entryway/device/{device.mac}/cmd"
    time.sleep(0.5)
    checkins = sim.checkins

    client.force_login(installer)
    start = time.monotonic()
    client.post(reverse("deviceapi:device_reboot", kwargs={"pk": device.pk}))
    action = DeviceAction.objects.get(device=device, kind="reboot")
    assert runner.wait_until(lambda f: f.device(device.mac).final.get(action.pk) == "success", timeout=WAIT)
    assert time.monotonic() - start < 10
    assert sim.checkins >= checkins + 1
    assert runner.wait_until(lambda f: f.device(device.mac).boots == 1, timeout=WAIT)
    assert runner.fleet.counters["pushes"] >= 1
    action.refresh_from_db()
    assert action.status == "success"


@pytest.mark.mqtt
def test_per_device_broker_credentials_from_the_autop_file(add_device, fleet_for, installer, client, settings,
                                                           dynsec_broker):  # noqa: F811 - the imported fixture
    """With Mosquitto's dynamic security, each simulated device logs in with the credentials its AutoP file
    gave it, receives pushes on its own topic, and is refused another device's topic."""
    from entryway.deviceapi.models import DeviceAction

    settings.MQTT_URL = dynsec_broker
    settings.MQTT_DYNSEC = True
    settings.DEVICE_POLL_INTERVAL = 60
    alice, bob = add_device("Alice gate"), add_device("Bob gate")
    runner = fleet_for([alice, bob], poll_interval=None, mqtt=True)

    def subscribed(f):
        return all(d.online and d.mqtt is not None and d.mqtt.subscribed for d in f.devices.values())

    assert runner.wait_until(subscribed, timeout=WAIT), [d.last_error for d in runner.fleet.devices.values()]
    sim = runner.fleet.device(alice.mac)
    assert sim.config["Config.Entryway.MQTT.Username"] == alice.mac
    assert sim.config["Config.Entryway.MQTT.Url"] == "mqtt://" + dynsec_broker.rsplit("@", 1)[1]

    client.force_login(installer)
    client.post(reverse("deviceapi:device_reboot", kwargs={"pk": alice.pk}))
    action = DeviceAction.objects.get(device=alice, kind="reboot")
    assert runner.wait_until(lambda f: f.device(alice.mac).final.get(action.pk) == "success", timeout=WAIT)
    assert runner.fleet.device(bob.mac).results == []

    # A device that tries another device's topic is refused by the broker.
    from entryway.sim import run_sync
    from entryway.sim.mqtt import MqttListener

    async def snoop():
        listener = MqttListener(url=sim.config["Config.Entryway.MQTT.Url"], username=bob.mac,
                                password=runner.fleet.device(bob.mac).config["Config.Entryway.MQTT.Password"],
                                topic=f"entryway/device/{alice.mac}/cmd", client_id=f"{bob.mac}-snoop",
                                on_message=lambda topic, payload: None)
        listener.start()
        try:
            await listener.wait_subscribed(5)
        finally:
            listener.stop()
        return listener

    listener = run_sync(snoop())
    assert listener.refused and not listener.subscribed


@pytest.mark.mqtt
def test_results_published_over_mqtt_are_recorded_by_the_report_consumer(
        add_device, fleet_for, installer, client, settings, dynsec_broker):  # noqa: F811 - the imported fixture
    """With MQTT_RESULTS, the AutoP file names the device's status topic; the device publishes its results
    there and the report consumer records them: the portal shows the Reboot confirmed as over HTTP."""
    from entryway.deviceapi.models import DeviceAction
    from entryway.deviceapi.reports import CLIENT_ID
    from entryway.deviceapi.tests.test_mqtt_reports import Running

    settings.MQTT_URL = dynsec_broker
    settings.MQTT_DYNSEC = True
    settings.MQTT_RESULTS = True
    settings.DEVICE_POLL_INTERVAL = 60
    device = add_device("Front gate")
    with Running(dynsec_broker, CLIENT_ID) as consumer:
        runner = fleet_for([device], poll_interval=None, mqtt=True)
        assert runner.wait_until(lambda f: f.device(device.mac).mqtt is not None
                                 and f.device(device.mac).mqtt.subscribed, timeout=WAIT)
        sim = runner.fleet.device(device.mac)
        assert sim.config["Config.Entryway.MQTT.ResultTopic"] == f"entryway/device/{device.mac}/status"

        client.force_login(installer)
        client.post(reverse("deviceapi:device_reboot", kwargs={"pk": device.pk}))
        action = DeviceAction.objects.get(device=device, kind="reboot")
        assert runner.wait_until(lambda f: f.device(device.mac).final.get(action.pk) == "success", timeout=WAIT)
        assert wait_for(lambda: DeviceAction.objects.get(pk=action.pk).status == "success")
        # At least the "rebooting" report went over the broker (the final one follows the restart, over the
        # broker once the device is connected again, else by HTTP), and the consumer recorded what it got.
        published = runner.fleet.counters["mqtt_results"]
        assert published >= 1
        assert wait_for(lambda: consumer.totals["recorded"] == published)
        assert consumer.totals["refused"] == 0
