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
