"""The operator's documents name every setting the code reads from the environment."""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
READ = re.compile(r'env\.(?:str|bool|int|list|path)\(\s*"([A-Z][A-Z0-9_]*)"')


def _variables() -> set[str]:
    names = set()
    for path in (ROOT / "config").rglob("*.py"):
        names |= set(READ.findall(path.read_text()))
    names |= {"DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR"}  # read outside config.env
    return names


def test_settings_read_from_the_environment_are_found():
    names = _variables()
    assert {"DATABASE_URL", "MQTT_DEVICE_URL", "MQTT_DYNSEC", "NTP_SERVER", "SECURE_SSL_REDIRECT"} <= names


def test_every_variable_is_in_the_configuration_table():
    doc = (ROOT / "docs" / "operations.md").read_text()
    table = doc[doc.index("## 3. Configuration"):doc.index("## 4.")]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}
    assert sorted(_variables() - documented) == []
    # Each row gives a default and a meaning.
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 3 and all(cells), row


def test_every_variable_is_in_the_env_example():
    example = (ROOT / "deploy" / "entryway.env.example").read_text()
    listed = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert sorted(_variables() - listed) == []


# -- the web servers as deployed (deploy/systemd, deploy/nginx) ------------------------------------------

def _unit_command(name: str) -> str:
    """The ExecStart command line of a systemd unit in deploy/systemd, continuation lines joined."""
    text = (ROOT / "deploy" / "systemd" / name).read_text().replace("\\\n", " ")
    return next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith("ExecStart="))


def _option(command: str, name: str) -> int:
    return int(re.search(rf"{re.escape(name)}[\s=]+(\d+)", command).group(1))


def _nginx_routes() -> dict[str, dict[str, str]]:
    """For each nginx server (by its listen port), the upstream each location prefix goes to."""
    conf = (ROOT / "deploy" / "nginx" / "entryway.conf").read_text()
    upstreams = {name: int(port) for name, port in re.findall(r"upstream (\w+) \{\s*server 127\.0\.0\.1:(\d+);", conf)}
    servers = {}
    for block in conf.split("server {")[1:]:
        port = re.search(r"listen (\d+)", block).group(1)
        servers[port] = {prefix: upstreams[upstream] for prefix, upstream in
                         re.findall(r"location (/[^\s{]*) \{[^}]*?proxy_pass http://(\w+);", block)}
    return servers


def _port_for(routes: dict[str, int], path: str) -> int | None:
    """nginx's choice among prefix locations: the longest prefix that matches."""
    matching = [prefix for prefix in routes if path.startswith(prefix)]
    return routes[max(matching, key=len)] if matching else None


def test_each_kind_of_request_is_sent_to_its_own_server():
    """Three servers (bench/RESULTS.md, "Threads per worker" and "A server for the devices"): the portal and
    the API on 4 threads per worker, the devices' own requests on 2, and the requests that wait for a device
    (the relay and the tunnel's long poll) on a server with room for them."""
    from django.conf import settings
    from django.urls import reverse

    web, devices, remote = (_unit_command(f"entryway-{name}.service") for name in ("web", "devices", "remote"))
    web_port, devices_port, remote_port = (_option(unit, "--port") for unit in (web, devices, remote))
    assert len({web_port, devices_port, remote_port}) == 3
    token = "a" * 24
    waiting = [reverse("remote:relay", args=[token, "index.html"]),
               reverse("remote_device:tunnel_next", args=[token]),
               reverse("remote_device:tunnel_reply", args=[token, 1])]
    device_paths = [reverse("deviceapi:checkin"), reverse("deviceapi:action_result", args=[7]),
                    "/autop/0C1105000001.cfg", reverse("firmware:file", args=[token, "R29-29.30.2.900.bin"])]
    portal = ["/users/", "/devices/", "/devices/autop/", "/firmware/", "/login/", "/api/v1/devices", "/metrics"]
    servers = _nginx_routes()
    assert set(servers) == {"80", "443"}
    for path in waiting:
        assert _port_for(servers["443"], path) == remote_port, path
    for path in device_paths:
        assert _port_for(servers["443"], path) == devices_port, path
    for path in portal:
        assert _port_for(servers["443"], path) == web_port, path
    # Plain HTTP serves devices only: their tunnel goes to the remote server, the rest to the device server.
    assert _port_for(servers["80"], waiting[1]) == remote_port
    for path in device_paths[:3]:
        assert _port_for(servers["80"], path) == devices_port, path
    # What the device server answers before Django is what nginx sends it.
    from entryway.deviceapi.wsgi import DEVICE_PATH_RE
    from entryway.firmware.download import PREFIX

    assert all(DEVICE_PATH_RE.match(path) for path in device_paths[:3]) and device_paths[3].startswith(PREFIX)
    # Threads: the portal's 4 (slow pages wait on the database), the devices' 2 (short requests, less waiting
    # for the interpreter lock). Neither holds more than one wait for a device; the remote server has room.
    assert _option(web, "--blocking-threads") == 4 and _option(devices, "--blocking-threads") == 2
    for unit in (web, devices):
        assert _option(unit, "REMOTE_MAX_WAITING") < _option(unit, "--blocking-threads")
    assert _option(remote, "--blocking-threads") > settings.REMOTE_MAX_WAITING
    assert "REMOTE_MAX_WAITING" not in remote


def _compose_command(service: str) -> str:
    """A service's command in deploy/docker-compose.yml (a flow sequence of quoted strings, as JSON)."""
    text = (ROOT / "deploy" / "docker-compose.yml").read_text()
    block = re.search(rf"^  {service}:\n(.*?)(?=^  \w)", text, re.M | re.S).group(1)
    return " ".join(json.loads(re.search(r"command: (\[.*?\])", block, re.S).group(1)))


def test_the_container_services_match_the_units():
    """deploy/docker-compose.yml and the Dockerfile run the same three servers as deploy/systemd."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text().replace("\\\n", " ")
    commands = {"web": " ".join(json.loads(re.search(r"^CMD (\[.*?\])", dockerfile, re.M | re.S).group(1))),
                "devices": _compose_command("devices"), "remote": _compose_command("remote")}
    for name, command in commands.items():
        unit = _unit_command(f"entryway-{name}.service")
        for option in ("--port", "--workers", "--blocking-threads"):
            assert _option(command, option) == _option(unit, option), (name, option)
        assert ("REMOTE_MAX_WAITING=1" in command) == ("REMOTE_MAX_WAITING=1" in unit), name
