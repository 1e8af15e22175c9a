"""The operator's documents name every setting the code reads from the environment."""
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


def test_remote_controls_waits_are_sent_to_their_own_server():
    """The web server runs few threads per worker (bench/RESULTS.md, "Threads per worker"); the requests that
    wait for a device (the relay and the tunnel's long poll) go to a server with room for them."""
    from django.conf import settings
    from django.urls import reverse

    web, remote = _unit_command("entryway-web.service"), _unit_command("entryway-remote.service")
    web_port, remote_port = _option(web, "--port"), _option(remote, "--port")
    token = "a" * 24
    waiting = [reverse("remote:relay", args=[token, "index.html"]),
               reverse("remote_device:tunnel_next", args=[token]),
               reverse("remote_device:tunnel_reply", args=[token, 1])]
    others = [reverse("deviceapi:checkin"), "/autop/0C1105000001.cfg", "/users/", "/devices/", "/login/"]
    servers = _nginx_routes()
    assert set(servers) == {"80", "443"}
    for path in waiting:
        assert _port_for(servers["443"], path) == remote_port, path
    for path in others:
        assert _port_for(servers["443"], path) == web_port, path
    # Plain HTTP serves devices only: their tunnel goes to the remote server, the rest to the web server.
    assert _port_for(servers["80"], waiting[1]) == remote_port
    assert _port_for(servers["80"], others[0]) == web_port
    # The web server holds fewer waits than it has threads; the remote server has room for the default.
    assert _option(web, "REMOTE_MAX_WAITING") < _option(web, "--blocking-threads") == 4
    assert _option(remote, "--blocking-threads") > settings.REMOTE_MAX_WAITING
    assert "REMOTE_MAX_WAITING" not in remote
