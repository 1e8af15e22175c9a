from __future__ import annotations

import pytest

from entryway.deviceapi.models import DeviceAction
from entryway.deviceapi.services import action_record_result
from entryway.messaging.choices import ReceiverType
from entryway.messaging.models import InboxItem, Message
from entryway.messaging.services import message_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(installer, household):
    return message_create(acting_user=installer, title="Lift maintenance", body="The lift stops on Friday.",
                          receiver_type=ReceiverType.BOTH, receivers=[household["resident"]])


def bearer(account):
    from entryway.accounts.services import api_token_create

    acting = account
    _token, raw = api_token_create(acting_user=acting, name="tests")
    return {"Authorization": f"Bearer {raw}"}


def test_anonymous_gets_401(client, sent):
    assert client.get("/api/v1/messages").status_code == 401
    assert client.post("/api/v1/messages", {}, content_type="application/json").status_code == 401
    assert client.get(f"/api/v1/messages/{sent.pk}").status_code == 401
    assert client.delete(f"/api/v1/messages/{sent.pk}").status_code == 401
    assert client.get("/api/v1/me/messages").status_code == 401
    assert client.get(f"/api/v1/me/messages/{sent.pk}").status_code == 401
    assert client.post(f"/api/v1/me/messages/{sent.pk}/read").status_code == 401


def test_resident_token_cannot_use_installer_routes(client, sent, household):
    headers = bearer(household["resident"].account)
    assert client.get("/api/v1/messages", headers=headers).status_code == 401
    assert client.get(f"/api/v1/messages/{sent.pk}", headers=headers).status_code == 401


def test_list_and_search(api, sent, installer, make_resident):
    zoe = make_resident(installer, name="Zoe", email="zoe@example.com")
    message_create(acting_user=installer, title="Parking", body="New rules", receiver_type="app", receivers=[zoe])
    body = api.get("/api/v1/messages").json()
    assert body["count"] == 2 and [m["title"] for m in body["items"]] == ["Parking", "Lift maintenance"]
    item = body["items"][1]
    assert item["receiver_type"] == "both" and item["receiver_type_display"] == "Both indoor monitor and app"
    assert item["receiver_names"] == "Ryan" and item["monitor_count"] == 2 and item["app_count"] == 2
    assert [m["title"] for m in api.get("/api/v1/messages", {"q": "lift"}).json()["items"]] == ["Lift maintenance"]
    found = api.get("/api/v1/messages", {"q": "zoe", "field": "receiver"}).json()["items"]
    assert [m["title"] for m in found] == ["Parking"]
    assert api.get("/api/v1/messages", {"field": "nonsense"}).status_code == 422
    assert api.get("/api/v1/messages", {"per_page": 1, "page": 2}).json()["items"][0]["title"] == "Lift maintenance"


def test_create_and_read_with_delivery_states(api, household):
    ryan = household["resident"]
    response = api.post("/api/v1/messages", {"title": "Fire drill", "body": "At 10:00.", "receiver_type": "both",
                                             "receivers": [ryan.pk], "send_email": False})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["title"] == "Fire drill" and created["receiver_count"] == 1
    [receiver] = created["receivers"]
    assert receiver["uid"] == ryan.family_sip and receiver["resident_id"] == ryan.pk
    assert sorted((m["location"], m["status"]) for m in receiver["monitors"]) == [("Hall", "pending"),
                                                                                  ("Kitchen", "pending")]
    assert [(a["name"], a["is_host"], a["read"]) for a in receiver["app"]] == [("Ryan", True, False),
                                                                               ("Lily", False, False)]
    # the kitchen monitor displays it, Ryan reads it
    action = DeviceAction.objects.get(kind="message", device=household["kitchen"])
    action_record_result(action=action, status="success")
    InboxItem.objects.filter(account=ryan.account).update(read_at="2026-11-24T10:00:00Z")
    receiver = api.get(f"/api/v1/messages/{created['id']}").json()["receivers"][0]
    assert {m["location"]: m["status"] for m in receiver["monitors"]} == {"Kitchen": "delivered", "Hall": "pending"}
    assert [a["read"] for a in receiver["app"]] == [True, False]


@pytest.mark.parametrize("data, field", [
    ({"title": ""}, "title"),
    ({"title": "x" * 65}, "title"),
    ({"body": ""}, "body"),
    ({"body": "x" * 1001}, "body"),
    ({"receiver_type": "pager"}, "receiver_type"),
    ({"receivers": []}, "receivers"),
    ({"title": "nul\x00"}, "title"),
])
def test_bad_input_is_422_with_the_field_and_nothing_sent(api, household, data, field):
    payload = {"title": "t", "body": "b", "receiver_type": "both", "receivers": [household["resident"].pk], **data}
    response = api.post("/api/v1/messages", payload)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(field in d["loc"] and d["msg"] for d in detail), detail
    assert not Message.objects.exists() and not DeviceAction.objects.exists()


def test_malformed_bodies_are_422(api, household):
    assert api.post("/api/v1/messages", {"title": "t"}).status_code == 422
    assert api.post("/api/v1/messages", {"title": "t", "body": "b", "receiver_type": "app",
                                         "receivers": ["x"]}).status_code == 422
    response = api.post("/api/v1/messages", {"title": "t", "body": "b", "receiver_type": "app",
                                             "receivers": [2**70]})
    assert response.status_code == 422
    assert not Message.objects.exists()


def test_another_installers_user_is_refused(api, other_installer, make_resident, household):
    theirs = make_resident(other_installer, name="Stranger", email="stranger@example.com")
    response = api.post("/api/v1/messages", {"title": "t", "body": "b", "receiver_type": "app",
                                             "receivers": [household["resident"].pk, theirs.pk]})
    assert response.status_code == 422
    assert "not one of your users" in response.json()["detail"][0]["msg"]
    assert not Message.objects.exists()


def test_other_installer_gets_404(client, other_installer, sent):
    headers = bearer(other_installer)
    assert client.get(f"/api/v1/messages/{sent.pk}", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/messages/{sent.pk}", headers=headers).status_code == 404
    assert client.get("/api/v1/messages", headers=headers).json()["count"] == 0
    assert Message.objects.filter(pk=sent.pk).exists()


def test_delete(api, sent):
    assert api.delete(f"/api/v1/messages/{sent.pk}").status_code == 204
    assert not Message.objects.exists()
    assert api.get(f"/api/v1/messages/{sent.pk}").status_code == 404
    assert api.get(f"/api/v1/messages/{2**70}").status_code in (404, 422)


def test_odd_search_text_never_fails(api, sent):
    for q in ("%", "_", "'; drop table x", "a" * 100):
        for field in ("message", "receiver"):
            assert api.get("/api/v1/messages", {"q": q, "field": field}).status_code == 200
    # no field accepts a NUL character: refused with the reason, never passed to the database
    refused = api.get("/api/v1/messages", {"q": "\x00", "field": "message"})
    assert refused.status_code == 422 and "null character" in refused.json()["detail"][0]["msg"]
    assert api.get("/api/v1/messages", {"q": "a" * 101}).status_code == 422


def test_resident_reads_their_messages(client, sent, household):
    headers = bearer(household["resident"].account)
    body = client.get("/api/v1/me/messages", headers=headers).json()
    assert body["count"] == 1
    assert body["items"][0] == {**body["items"][0], "id": sent.pk, "title": "Lift maintenance", "read": False,
                                "sender": "Inst-A"}
    assert client.get("/api/v1/me/messages", {"status": "unread"}, headers=headers).json()["count"] == 1
    assert client.get("/api/v1/me/messages", {"status": "read"}, headers=headers).json()["count"] == 0
    one = client.get(f"/api/v1/me/messages/{sent.pk}", headers=headers).json()
    assert one["body"] == "The lift stops on Friday." and one["read"] is True and one["read_at"]
    assert client.get("/api/v1/me/messages", {"status": "unread"}, headers=headers).json()["count"] == 0
    assert client.get("/api/v1/me/messages", {"status": "bogus"}, headers=headers).status_code == 422


def test_family_member_marks_read_with_post(client, sent, household):
    headers = bearer(household["lily"].account)
    response = client.post(f"/api/v1/me/messages/{sent.pk}/read", headers=headers)
    assert response.status_code == 200 and response.json()["read"] is True
    assert InboxItem.objects.get(account=household["lily"].account).read_at is not None
    assert InboxItem.objects.get(account=household["resident"].account).read_at is None


def test_resident_tenancy(client, installer, sent, make_resident):
    neighbour = make_resident(installer, name="Neighbour", email="neighbour@example.com")
    headers = bearer(neighbour.account)
    assert client.get("/api/v1/me/messages", headers=headers).json()["count"] == 0
    assert client.get(f"/api/v1/me/messages/{sent.pk}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/me/messages/{sent.pk}/read", headers=headers).status_code == 404
    assert not InboxItem.objects.filter(read_at__isnull=False).exists()


def test_installer_token_cannot_read_resident_inbox(api, sent):
    assert api.get("/api/v1/me/messages").status_code == 401
