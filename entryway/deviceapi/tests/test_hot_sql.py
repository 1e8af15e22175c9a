"""The device hot paths' SQL written once (entryway.core.rawsql) gives what the ORM gives."""
from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from entryway.core import rawsql
from entryway.deviceapi.autop import _load, current_file, file_base, render_autop
from entryway.deviceapi.choices import ActionKind, ActionStatus
from entryway.deviceapi.models import DeviceAction
from entryway.deviceapi.protocol import AUTOP_DEVICE_FIELDS, CHECKIN_FIELDS, device_for_credentials
from entryway.deviceapi.services import action_create, device_checkin
from entryway.devices.models import IntercomDevice
from entryway.residents.choices import CallType
from entryway.sip.models import SipAccount

pytestmark = pytest.mark.django_db


def test_instances_convert_as_the_orm_does(device):
    last_seen = timezone.now().replace(microsecond=0) - datetime.timedelta(minutes=3)
    IntercomDevice.objects.filter(pk=device.pk).update(last_seen_at=last_seen, ip_address="10.0.0.7")
    names = ("last_seen_at", "mac", "device_secret", "id", "ip_address")  # any order: the model's is used
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {rawsql.columns(IntercomDevice, names)} FROM {rawsql.table(IntercomDevice)}"
                       " WHERE id = %s", [device.pk])
        rows = cursor.fetchall()
    (made,) = rawsql.instances(IntercomDevice, names, rows)
    orm = IntercomDevice.objects.only(*names).get(pk=device.pk)
    for name in names:
        assert getattr(made, name) == getattr(orm, name), name
    assert made.device_secret == device.device_secret and made.device_secret  # decrypted, not the token
    assert made.last_seen_at == last_seen and made.last_seen_at.tzinfo is not None
    assert made.get_deferred_fields() == orm.get_deferred_fields()


def test_json_fields_come_back_as_python_values(device, installer):
    action = action_create(device=device, kind=ActionKind.AUTOP, payload={"lines": ["Config.A.B.C = 1"]},
                           acting_user=installer)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {rawsql.columns(DeviceAction, ('id', 'payload'))} FROM {rawsql.table(DeviceAction)}"
                       " WHERE id = %s", [action.pk])
        (made,) = rawsql.instances(DeviceAction, ("id", "payload"), cursor.fetchall())
    assert made.payload == {"lines": ["Config.A.B.C = 1"]}


@pytest.mark.parametrize("fields", [CHECKIN_FIELDS, AUTOP_DEVICE_FIELDS])
def test_device_for_credentials_checks_the_secret_in_one_query(device, fields, django_assert_num_queries):
    with django_assert_num_queries(1):
        found = device_for_credentials(device.mac, device.device_secret, fields=fields)
    assert found.pk == device.pk and found.mac == device.mac and found.installer_id == device.installer_id
    assert device_for_credentials(device.mac.lower(), device.device_secret, fields=fields).pk == device.pk
    assert device_for_credentials(device.mac, device.device_secret + "x", fields=fields) is None
    assert device_for_credentials("0C11DAFFFFFF", device.device_secret, fields=fields) is None


def _orm_file(device_id: int) -> str:
    return render_autop(IntercomDevice.objects.select_related("device_model", "owner", "installer").get(pk=device_id))


def test_the_file_made_from_the_two_query_load_is_the_orm_file(device, settings, django_assert_num_queries):
    settings.MQTT_URL = "mqtt://broker.example.com:1883"
    with django_assert_num_queries(3):  # the row with its type, owner, installer and SIP account; relays; actions
        made = current_file(device.pk, mac=device.mac)
    assert made == _orm_file(device.pk)
    assert "Config.DoorSetting.RELAY.NameA = Front door" in made and "Config.Account1.GENERAL.Enable = 1" in made
    assert "Config.Settings.SNTP.Name = Europe/Berlin" in made


def test_the_load_without_an_active_sip_account_and_with_ip_call(device, make_device, installer):
    SipAccount.objects.filter(number=device.sip_number).update(is_active=False)
    loaded, account = _load(device.pk)
    assert account is None
    assert file_base(loaded, sip_account=account) == file_base(IntercomDevice.objects.get(pk=device.pk))
    owner = device.owner
    owner.call_type = CallType.IP
    owner.save()
    monitor = make_device(installer, owner=owner, device_type="indoor_monitor", model="C315", ip_address="10.0.0.9")
    loaded, account = _load(device.pk)
    assert loaded.owner.call_type == CallType.IP and loaded.device_model.device_type == "door_phone"
    text = "\n".join(file_base(loaded, sip_account=account))
    assert f"Address1 = {monitor.ip_address}" in text and text == "\n".join(file_base(
        IntercomDevice.objects.get(pk=device.pk)))


def test_a_deleted_device_has_no_file(device):
    pk = device.pk
    device.delete()
    with pytest.raises(IntercomDevice.DoesNotExist):
        _load(pk)


def test_checkin_marks_pending_actions_sent_and_writes_what_changed(device, installer, django_assert_num_queries):
    first = action_create(device=device, kind=ActionKind.REBOOT, payload={}, acting_user=installer)
    later = action_create(device=device, kind=ActionKind.AUTOP, payload={"lines": []}, acting_user=installer)
    expired = action_create(device=device, kind=ActionKind.REBOOT, payload={}, acting_user=installer)
    DeviceAction.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    row = device_for_credentials(device.mac, device.device_secret)
    reply = device_checkin(device=row, report={"model": "R29", "firmware": "1.2.3", "ip": "10.1.2.3", "uptime": 9})
    assert [a["id"] for a in reply["actions"]] == [first.pk, later.pk]
    statuses = dict(DeviceAction.objects.values_list("pk", "status"))
    assert statuses[first.pk] == statuses[later.pk] == ActionStatus.SENT
    assert statuses[expired.pk] == ActionStatus.PENDING
    saved = IntercomDevice.objects.get(pk=device.pk)
    assert (saved.firmware_version, saved.ip_address, saved.uptime_seconds) == ("1.2.3", "10.1.2.3", 9)
    assert saved.last_seen_at is not None and row.firmware_version == "1.2.3"
    # Again: the actions are still open (sent), nothing is written; only the actions are read.
    with django_assert_num_queries(1):
        again = device_checkin(device=row, report={"model": "R29", "firmware": "1.2.3", "ip": "10.1.2.3"})
    assert [a["id"] for a in again["actions"]] == [first.pk, later.pk]


def _prepared_here() -> list[str]:
    """The statements prepared in this database session (psycopg prepares at the protocol level)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_the_hot_paths_statements_are_prepared_on_postgresql(device, django_assert_num_queries):
    """The hot paths' cursor binds on the server, so a statement run often is parsed and planned once per
    connection (DB_PREPARE_THRESHOLD, 2 by default); Django's own cursors never prepare. Every query still
    goes through Django's wrapper (counted here, logged, errors wrapped)."""
    import os

    if connection.vendor != "postgresql" and not os.environ.get("CI"):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    assert threshold == 2 and connection.connection.prepare_threshold == threshold
    lookup = f"FROM {rawsql.table(IntercomDevice)} WHERE mac = $1"
    with django_assert_num_queries(threshold + 2):
        for _n in range(threshold + 2):
            assert device_for_credentials(device.mac, device.device_secret).pk == device.pk
    assert [s for s in _prepared_here() if lookup in s]
    with connection.cursor() as cursor:  # a like statement through Django's cursor: never prepared
        for _n in range(threshold + 2):
            cursor.execute(f"SELECT id {lookup.replace('$1', '%s')} AND 2 = 2", [device.mac])
    assert not [s for s in _prepared_here() if "2 = 2" in s]


def test_the_hot_paths_cursor_binds_on_the_server_on_postgresql_only():
    import psycopg

    with rawsql.cursor() as cursor, connection.cursor() as plain:
        if connection.vendor == "postgresql":
            assert type(cursor.cursor) is psycopg.Cursor and isinstance(plain.cursor, psycopg.ClientCursor)
        else:
            assert type(cursor.cursor) is type(plain.cursor)


@pytest.mark.django_db(transaction=True)
def test_a_column_retyped_under_a_prepared_statement_answers_503_once_then_heals(device, client):
    """A migration run while the workers serve (docs/operations.md, Upgrades) may change the type of a column
    that a prepared hot statement reads: PostgreSQL then refuses the statement. The device gets 503 with
    Retry-After, not a 500, and the connection is closed, so the next request prepares it again."""
    import os

    import psycopg

    if connection.vendor != "postgresql" and not os.environ.get("CI"):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    from entryway.deviceapi.tests.conftest import basic

    headers, body = basic(device.mac, device.device_secret), '{"model": "R29", "firmware": "29.30.2.805"}'

    def checkin():
        return client.post("/device/v1/checkin", body, content_type="application/json", headers=headers)

    for _n in range(3):  # the device lookup is prepared in this connection (the check-ins' own)
        assert device_for_credentials(device.mac, device.device_secret).pk == device.pk
    table, params = rawsql.table(IntercomDevice), connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "context"}, autocommit=True) as other:
        other.execute(f"ALTER TABLE {table} ALTER COLUMN firmware_version TYPE varchar(40)")  # another process
        try:
            refused = checkin()
            assert refused.status_code == 503 and refused["Retry-After"] == "30", refused.content
            assert checkin().status_code == 200  # a new connection: prepared again, with the new type
        finally:
            connection.close()
            other.execute(f"ALTER TABLE {table} ALTER COLUMN firmware_version TYPE varchar(32)")


@pytest.mark.django_db(transaction=True)
def test_a_checkin_writes_in_one_transaction_that_waits_for_the_disk_only_for_a_report(device, installer):
    """Marking actions sent and a Last Connected Time do not wait for the write-ahead log on PostgreSQL; a
    changed firmware does, and a caller's own transaction keeps its durability."""
    from django.db import transaction

    lazy = ["SET LOCAL synchronous_commit TO OFF"] if connection.vendor == "postgresql" else []
    statements = []  # (SQL, whether it ran in a transaction block)

    def record(execute, sql, params, many, context):
        statements.append((sql, connection.in_atomic_block))
        return execute(sql, params, many, context)

    def settings_set() -> list[str]:
        return [sql for sql, _ in statements if "synchronous_commit" in sql]

    def checkin(firmware: str) -> dict:
        statements.clear()
        row = IntercomDevice.objects.get(pk=device.pk)
        with connection.execute_wrapper(record):
            return device_checkin(device=row, report={"model": "R29", "firmware": firmware})

    IntercomDevice.objects.filter(pk=device.pk).update(firmware_version="1.0", reported_model="R29",
                                                       last_seen_at=None)
    first = action_create(device=device, kind=ActionKind.REBOOT, payload={}, acting_user=installer)
    assert [a["id"] for a in checkin("1.0")["actions"]] == [first.pk]
    assert settings_set() == lazy
    assert [atomic for sql, atomic in statements if sql.startswith("UPDATE")] == [True, True]  # sent, and the row
    assert DeviceAction.objects.get(pk=first.pk).status == ActionStatus.SENT
    assert IntercomDevice.objects.get(pk=device.pk).last_seen_at is not None

    assert [a["id"] for a in checkin("2.0")["actions"]] == [first.pk]  # still open, answered again
    assert not settings_set()  # the new firmware is recorded durably
    assert IntercomDevice.objects.values_list("firmware_version", flat=True).get(pk=device.pk) == "2.0"

    second = action_create(device=device, kind=ActionKind.REBOOT, payload={}, acting_user=installer)
    with transaction.atomic():
        assert [a["id"] for a in checkin("2.0")["actions"]] == [first.pk, second.pk]
    assert not settings_set()
    assert DeviceAction.objects.get(pk=second.pk).status == ActionStatus.SENT
