import pytest

from entryway.core.models import AuditLog
from entryway.sip.models import SipTrunk

pytestmark = pytest.mark.django_db


def test_only_the_platform_admin_manages_the_trunk(client, installer, distributor, admin_account):
    assert client.get("/admin-portal/sip/").status_code == 302
    for account in (installer, distributor):
        client.force_login(account)
        assert client.get("/admin-portal/sip/").status_code == 403
        assert client.post("/admin-portal/sip/", {"name": "x", "host": "h", "port": 5060,
                                                  "transport": "udp", "enabled": "on"}).status_code == 403
    assert not SipTrunk.objects.exists()


def test_admin_adds_edits_and_deletes_a_trunk(client, admin_account):
    client.force_login(admin_account)
    page = client.get("/admin-portal/sip/")
    assert page.status_code == 200 and b"Off" in page.content
    bad = client.post("/admin-portal/sip/", {"name": "Carrier", "host": "bad host!", "port": 70000,
                                             "transport": "udp"})
    assert bad.status_code == 200 and b"Enter a host name" in bad.content
    assert not SipTrunk.objects.exists()
    ok = client.post("/admin-portal/sip/", {"name": "Carrier", "host": "trunk.example.net", "port": 5060,
                                            "transport": "udp", "enabled": "on"})
    assert ok.status_code == 302
    trunk = SipTrunk.objects.get()
    client.post(f"/admin-portal/sip/trunks/{trunk.pk}/", {"name": "Carrier", "host": "10.0.0.5", "port": 5080,
                                                          "transport": "tcp", "enabled": "on"})
    trunk.refresh_from_db()
    assert (trunk.host, trunk.port, trunk.transport) == ("10.0.0.5", 5080, "tcp")
    assert client.get(f"/admin-portal/sip/trunks/{trunk.pk}/delete/").status_code == 200
    client.post(f"/admin-portal/sip/trunks/{trunk.pk}/delete/")
    assert not SipTrunk.objects.exists()
    actions = list(AuditLog.objects.filter(action__startswith="sip_trunk").values_list("action", flat=True))
    assert sorted(actions) == ["sip_trunk.create", "sip_trunk.delete", "sip_trunk.update"]
