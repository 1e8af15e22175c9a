"""The shared pieces every app relies on: encryption at rest, MACs, phones, paging, tenancy."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import RequestFactory

from entryway.core.pagination import paginate
from entryway.core.validators import normalize_mac, normalize_phone, validate_time_zone
from entryway.residents.models import Resident
from entryway.sip.models import SipAccount


@pytest.mark.parametrize("raw", ["0C110512BC97", "0C:11:05:12:BC:97", "0c-11-05-12-bc-97", " 0c110512bc97 "])
def test_mac_forms_normalise_to_twelve_upper_hex(raw):
    assert normalize_mac(raw) == "0C110512BC97"


@pytest.mark.parametrize("raw", ["", "0C110512BC9", "0C110512BC977", "0C:11:05-12:BC:97", "GG110512BC97", "0C.11.05.12.BC.97"])
def test_bad_macs_are_refused(raw):
    with pytest.raises(ValidationError):
        normalize_mac(raw)


def test_phone_validated_against_region():
    assert normalize_phone("612345678", "FR") == "+33612345678"
    with pytest.raises(ValidationError):
        normalize_phone("612345678", "US")
    with pytest.raises(ValidationError):
        normalize_phone("+33612345678", "DE")
    with pytest.raises(ValidationError):
        normalize_phone("12", "FR")


def test_time_zone_must_be_iana():
    validate_time_zone("Asia/Singapore")
    with pytest.raises(ValidationError):
        validate_time_zone("Mars/Olympus")


@pytest.mark.django_db
def test_sip_password_is_encrypted_at_rest(make_resident, installer):
    resident = make_resident(installer, name="Ryan")
    account = SipAccount.objects.get(number=resident.personal_sip)
    assert len(account.password) >= 12
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM sip_sipaccount WHERE number = %s", [resident.personal_sip])
        stored = cursor.fetchone()[0]
    assert stored != account.password
    assert account.password not in stored


@pytest.mark.django_db
def test_visible_to_scopes_by_role(make_resident, installer, other_installer, distributor, admin_account):
    mine = make_resident(installer, name="Mine")
    theirs = make_resident(other_installer, name="Theirs")
    assert list(Resident.objects.visible_to(installer)) == [mine]
    assert list(Resident.objects.visible_to(other_installer)) == [theirs]
    assert list(Resident.objects.visible_to(distributor)) == [mine]
    assert set(Resident.objects.visible_to(admin_account)) == {mine, theirs}


@pytest.mark.django_db
def test_pagination_clamps_and_counts(make_resident, installer):
    for i in range(23):
        make_resident(installer, name=f"R{i}")
    request = RequestFactory().get("/users/", {"per_page": "20", "page": "9", "q": "R"})
    info = paginate(request, Resident.objects.order_by("id"))
    assert info.count == 23 and info.per_page == 20 and info.page.number == 2
    assert len(info.object_list) == 3
    assert info.url_for(1) == "?q=R&page=1&per_page=20"
    bad = paginate(RequestFactory().get("/", {"per_page": "7", "page": "x"}), Resident.objects.order_by("id"))
    assert bad.per_page == 10 and bad.page.number == 1


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_and_queue(client):
    body = client.get("/readyz").json()
    assert body["checks"]["database"] == "ok"
    assert body["status"] == "ok"


@pytest.mark.django_db
def test_metrics_exposes_requests_and_fleet_state(client):
    client.get("/healthz")
    body = client.get("/metrics").content.decode()
    assert 'entryway_http_requests_total{method="GET",route="web:healthz",status="200"}' in body
    assert "entryway_devices_online 0.0" in body
    assert "entryway_queue_pending" in body


def test_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})["X-Request-ID"]
    assert generated != "bad id with spaces" and len(generated) == 32
    assert int(generated, 16) >= 0 and generated == generated.lower()
    assert client.get("/healthz")["X-Request-ID"] != client.get("/healthz")["X-Request-ID"]
