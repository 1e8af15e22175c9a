"""`manage.py sip_server --write`: the Kamailio configuration that production runs, checked by Kamailio."""
from __future__ import annotations

import os
import subprocess

import pytest
from django.core.management import CommandError, call_command

from entryway.sip.kamailio import database_url, kamailio_binary
from entryway.sip.testing import self_signed_certificate

pytestmark = pytest.mark.django_db


def kamailio_accepts(path) -> subprocess.CompletedProcess:
    binary = kamailio_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("kamailio must be installed in CI")
        pytest.skip("kamailio not installed")
    return subprocess.run([binary, "-c", "-f", str(path)], capture_output=True, text=True, check=False)


def test_written_configuration_is_valid_for_this_database(tmp_path, settings):
    settings.SIP_DOMAIN = "sip.example.com"
    settings.SIP_TLS_CERTIFICATE = settings.SIP_TLS_PRIVATE_KEY = ""
    target = tmp_path / "entryway.cfg"
    call_command("sip_server", "--write", str(target), "--listen", "127.0.0.1", "--udp", "18660",
                 "--tcp", "18660", "--ctl-socket", str(tmp_path / "ctl.sock"))
    text = target.read_text()
    module, url = database_url()
    assert f'loadmodule "{module}"' in text and url in text
    assert "listen=udp:127.0.0.1:18660" in text and "listen=tcp:127.0.0.1:18660" in text
    assert 'alias="sip.example.com"' in text and "@@" not in text
    assert "listen=tls:" not in text and not (tmp_path / "entryway-tls.cfg").exists()
    checked = kamailio_accepts(target)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_tls_listener_and_its_certificate_when_configured(tmp_path, settings):
    cert, key = self_signed_certificate(tmp_path, "sip.example.com")
    settings.SIP_DOMAIN = "sip.example.com"
    settings.SIP_TLS_CERTIFICATE, settings.SIP_TLS_PRIVATE_KEY = cert, key
    target = tmp_path / "entryway.cfg"
    call_command("sip_server", "--write", str(target), "--udp", "18661", "--tcp", "18661", "--tls", "18662",
                 "--ctl-socket", str(tmp_path / "ctl.sock"))
    text = target.read_text()
    assert "listen=tls:127.0.0.1:18662" in text and 'loadmodule "tls.so"' in text
    tls = (tmp_path / "entryway-tls.cfg").read_text()
    assert f"certificate = {cert}" in tls and f"private_key = {key}" in tls
    checked = kamailio_accepts(target)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_sip_server_needs_write_or_run():
    with pytest.raises(CommandError):
        call_command("sip_server")
