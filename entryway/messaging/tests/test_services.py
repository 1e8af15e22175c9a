from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from entryway.core.models import AuditLog
from entryway.deviceapi.choices import ActionStatus
from entryway.deviceapi.models import DeviceAction
from entryway.deviceapi.services import action_record_result, actions_expire
from entryway.messaging.choices import DeliveryStatus, ReceiverType
from entryway.messaging.models import InboxItem, Message, MessageReceiver, MonitorDelivery
from entryway.messaging.services import inbox_item_mark_read, message_create, message_delete, message_emails_send

pytestmark = pytest.mark.django_db


def send(installer, receivers, **kw):
    kw.setdefault("title", "Water off")
    kw.setdefault("body", "The water is off on Monday from 9 to 12.")
    kw.setdefault("receiver_type", ReceiverType.BOTH)
    return message_create(acting_user=installer, receivers=receivers, **kw)


def test_both_reaches_each_indoor_monitor_and_each_app_login(installer, household):
    ryan = household["resident"]
    message = send(installer, [ryan])
    actions = DeviceAction.objects.filter(kind="message").order_by("id")
    # one display action per indoor monitor; the door phone gets none
    assert {a.device_id for a in actions} == {household["kitchen"].pk, household["hall"].pk}
    for action in actions:
        assert action.payload == {"title": "Water off", "body": "The water is off on Monday from 9 to 12.",
                                  "message_id": message.pk}
        assert action.status == ActionStatus.PENDING
        left = action.expires_at - timezone.now()
        assert datetime.timedelta(days=6, hours=23) < left <= datetime.timedelta(days=7)
    deliveries = MonitorDelivery.objects.filter(message=message)
    assert sorted(d.location for d in deliveries) == ["Hall", "Kitchen"]
    assert {d.action_id for d in deliveries} == {a.pk for a in actions}
    # host and the family member with a login; Max has none
    inbox = InboxItem.objects.filter(message=message).order_by("-is_host")
    assert [(i.name, i.is_host, i.account_id) for i in inbox] == [
        ("Ryan", True, ryan.account_id), ("Lily", False, household["lily"].account_id)]
    assert (message.receiver_count, message.monitor_count, message.app_count) == (1, 2, 2)
    assert message.receiver_names == "Ryan"
    receiver = MessageReceiver.objects.get(message=message)
    assert (receiver.name, receiver.uid) == ("Ryan", ryan.family_sip)
    log = AuditLog.objects.get(action="message.create")
    assert log.installer_id == installer.pk and log.after["receivers"] == [ryan.pk]


def test_expiry_comes_from_settings(installer, household, settings):
    settings.MESSAGE_DEVICE_EXPIRY_SECONDS = 3600
    send(installer, [household["resident"]], receiver_type=ReceiverType.INDOOR_MONITOR)
    action = DeviceAction.objects.filter(kind="message").first()
    assert datetime.timedelta(minutes=59) < action.expires_at - timezone.now() <= datetime.timedelta(hours=1)


def test_monitor_only_and_app_only(installer, household):
    ryan = household["resident"]
    m1 = send(installer, [ryan], receiver_type=ReceiverType.INDOOR_MONITOR)
    assert m1.deliveries.count() == 2 and m1.inbox_items.count() == 0
    m2 = send(installer, [ryan], receiver_type=ReceiverType.APP)
    assert m2.deliveries.count() == 0 and m2.inbox_items.count() == 2
    assert DeviceAction.objects.filter(kind="message").count() == 2


def test_device_results_mark_delivered_failed_expired(installer, household):
    message = send(installer, [household["resident"]], receiver_type=ReceiverType.INDOOR_MONITOR)
    kitchen = message.deliveries.get(location="Kitchen")
    hall = message.deliveries.get(location="Hall")
    action_record_result(action=kitchen.action, status="success", detail="displayed")
    kitchen.refresh_from_db()
    assert kitchen.status == DeliveryStatus.DELIVERED and kitchen.delivered_at is not None
    # a repeated report changes nothing
    action_record_result(action=kitchen.action, status="failure")
    kitchen.refresh_from_db()
    assert kitchen.status == DeliveryStatus.DELIVERED
    # the hall monitor stays away past the deadline
    assert actions_expire(now=timezone.now() + datetime.timedelta(days=8)) == 1
    hall.refresh_from_db()
    assert hall.status == DeliveryStatus.EXPIRED and hall.delivered_at is None


def test_failure_report(installer, household):
    message = send(installer, [household["resident"]], receiver_type=ReceiverType.INDOOR_MONITOR)
    d = message.deliveries.first()
    action_record_result(action=d.action, status="failure", detail="screen off")
    d.refresh_from_db()
    assert d.status == DeliveryStatus.FAILED


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 65}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"body": ""}, "body"),
        ({"body": "x" * 1001}, "body"),
        ({"body": "line\x00"}, "body"),
        ({"receiver_type": "pager"}, "receiver_type"),
        ({"receiver_type": ""}, "receiver_type"),
        ({"receivers": []}, "receivers"),
        ({"receivers": ["abc"]}, "receivers"),
        ({"receivers": [0]}, "receivers"),
        ({"receivers": [2**70]}, "receivers"),
        ({"receiver_type": ReceiverType.INDOOR_MONITOR, "send_email": True}, "send_email"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_sent(installer, household, changes, field):
    data = {"receivers": [household["resident"].pk], **changes}
    with pytest.raises(ValidationError) as exc:
        send(installer, **data)
    assert field in exc.value.message_dict
    assert exc.value.message_dict[field][0]
    assert not Message.objects.exists()
    assert not DeviceAction.objects.exists()
    assert not InboxItem.objects.exists()


def test_limits_are_exact(installer, household):
    message = send(installer, [household["resident"]], title="t" * 64, body="b" * 1000)
    assert len(message.title) == 64 and len(message.body) == 1000


def test_another_installers_user_is_refused(installer, other_installer, household, make_resident):
    theirs = make_resident(other_installer, name="Not yours", email="x@example.com")
    with pytest.raises(ValidationError) as exc:
        send(installer, [household["resident"].pk, theirs.pk])
    assert str(theirs.pk) in exc.value.message_dict["receivers"][0]
    assert not Message.objects.exists() and not DeviceAction.objects.exists()


def test_nothing_to_deliver_is_refused(installer, make_resident):
    no_login = make_resident(installer, name="Lucía")  # no e-mail: no app login, no devices
    for receiver_type in ReceiverType.values:
        with pytest.raises(ValidationError) as exc:
            send(installer, [no_login], receiver_type=receiver_type)
        assert "nothing would be delivered" in exc.value.message_dict["receiver_type"][0]
    assert not Message.objects.exists()


def test_resident_reading_marks_read_once(installer, household):
    message = send(installer, [household["resident"]], receiver_type=ReceiverType.APP)
    item = InboxItem.objects.get(message=message, is_host=True)
    account = household["resident"].account
    inbox_item_mark_read(account=account, item=item)
    first = item.read_at
    assert first is not None
    inbox_item_mark_read(account=account, item=item)
    item.refresh_from_db()
    assert item.read_at == first
    assert InboxItem.objects.get(message=message, is_host=False).read_at is None


def test_email_copy_in_each_recipients_language(installer, household, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = send(installer, [household["resident"]], receiver_type=ReceiverType.APP, send_email=True,
                       title="Ascenseur", body="L'ascenseur est en maintenance.")
    assert sorted(m.to[0] for m in mail.outbox) == ["lily@example.com", "ryan@example.com"]
    ryan_mail = next(m for m in mail.outbox if m.to == ["ryan@example.com"])
    # the household's language is French
    assert "Ascenseur" in ryan_mail.subject
    assert "Bonjour Ryan" in ryan_mail.body
    assert "L'ascenseur est en maintenance." in ryan_mail.body
    assert f"/resident/messages/{message.pk}/" in ryan_mail.body
    # running the task again sends nothing more
    assert message_emails_send(message_id=message.pk) == 0
    assert len(mail.outbox) == 2


def test_no_email_unless_asked(installer, household, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send(installer, [household["resident"]])
    assert mail.outbox == []


def test_delete_cancels_undelivered_monitor_actions(installer, household):
    message = send(installer, [household["resident"]])
    kitchen = message.deliveries.get(location="Kitchen")
    action_record_result(action=kitchen.action, status="success")
    message_delete(acting_user=installer, message=message)
    assert not Message.objects.exists() and not InboxItem.objects.exists()
    statuses = dict(DeviceAction.objects.values_list("device__location", "status"))
    assert statuses == {"Kitchen": ActionStatus.SUCCESS, "Hall": ActionStatus.CANCELLED}
    assert AuditLog.objects.filter(action="message.delete").count() == 1


def test_many_receivers_in_few_queries(installer, make_resident, make_device, django_assert_max_num_queries):
    residents = [make_resident(installer, name=f"R{i}", email=f"r{i}@example.com") for i in range(30)]
    for r in residents:
        make_device(r)
    with django_assert_max_num_queries(16):
        message = send(installer, residents)
    assert message.deliveries.count() == 30 and message.inbox_items.count() == 30
    assert message.receiver_names.startswith("R0, R1")


@pytest.mark.parametrize("names", [
    ["R" + str(i) for i in range(200)],
    ["x" * 60] * 10,
    ["y" * 64, "z" * 64, "w" * 64, "v" * 64],
    ["a" * 251, "b"],
    ["c" * 300],
])
def test_receiver_names_fit_the_list_column(names):
    from entryway.messaging.services import RECEIVER_NAMES_LENGTH, _summary

    out = _summary(names)
    assert len(out) <= RECEIVER_NAMES_LENGTH
    assert out.startswith(names[0][:10])
    if len(", ".join(names)) > RECEIVER_NAMES_LENGTH:
        assert out.endswith("…")
