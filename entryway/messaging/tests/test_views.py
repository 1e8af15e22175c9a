from __future__ import annotations

import pytest
from django.urls import reverse

from entryway.deviceapi.models import DeviceAction
from entryway.messaging.choices import ReceiverType
from entryway.messaging.models import InboxItem, Message
from entryway.messaging.services import message_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(installer, household):
    return message_create(acting_user=installer, title="Lift maintenance", body="The lift stops on Friday.",
                          receiver_type=ReceiverType.BOTH, receivers=[household["resident"]])


def installer_urls(message):
    return [
        reverse("messaging:list"),
        reverse("messaging:create"),
        reverse("messaging:receivers"),
        reverse("messaging:detail", args=[message.pk]),
        reverse("messaging:delete", args=[message.pk]),
    ]


def test_anonymous_is_sent_to_login(client, sent):
    for url in installer_urls(sent) + [reverse("messaging:inbox"), reverse("messaging:inbox_detail", args=[sent.pk])]:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_wrong_role_is_forbidden(client, sent, distributor, household):
    client.force_login(distributor)
    for url in installer_urls(sent):
        assert client.get(url).status_code == 403, url
    client.force_login(household["resident"].account)
    for url in installer_urls(sent):
        assert client.get(url).status_code == 403, url


def test_installer_cannot_use_resident_inbox(installer_client, sent):
    assert installer_client.get(reverse("messaging:inbox")).status_code == 403


def test_other_installer_gets_404(client, other_installer, sent):
    client.force_login(other_installer)
    assert client.get(reverse("messaging:detail", args=[sent.pk])).status_code == 404
    assert client.get(reverse("messaging:delete", args=[sent.pk])).status_code == 404
    assert client.post(reverse("messaging:delete", args=[sent.pk])).status_code == 404
    assert Message.objects.filter(pk=sent.pk).exists()
    page = client.get(reverse("messaging:list"))
    assert page.status_code == 200 and b"Lift maintenance" not in page.content


def test_list_shows_the_guides_columns(installer_client, sent, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = installer_client.get(reverse("messaging:list"))
    html = response.content.decode()
    for column in ("Title", "Message", "Receiver", "Receiver Type", "Created Time", "Action", "Info", "Delete"):
        assert column in html
    assert "Lift maintenance" in html and "Ryan" in html and "Both indoor monitor and app" in html
    assert "1 In All" in html


def test_list_query_count_does_not_grow(installer_client, installer, household, django_assert_max_num_queries):
    for i in range(25):
        message_create(acting_user=installer, title=f"Notice {i}", body="Body", receiver_type=ReceiverType.APP,
                       receivers=[household["resident"]])
    with django_assert_max_num_queries(12):
        response = installer_client.get(reverse("messaging:list") + "?per_page=20")
    assert response.content.decode().count("<td>Notice ") == 20
    assert "25 In All" in response.content.decode()


def test_search_by_message_and_by_receiver(installer_client, installer, household, make_resident, sent):
    other = make_resident(installer, name="Zoe", email="zoe@example.com")
    message_create(acting_user=installer, title="Parking", body="New parking rules", receiver_type=ReceiverType.APP,
                   receivers=[other])
    html = installer_client.get(reverse("messaging:list"), {"field": "message", "q": "parking"}).content.decode()
    assert "Parking" in html and "Lift maintenance" not in html
    html = installer_client.get(reverse("messaging:list"), {"field": "receiver", "q": "ryan"}).content.decode()
    assert "Lift maintenance" in html and "Parking" not in html
    html = installer_client.get(reverse("messaging:list"),
                                {"field": "receiver", "q": household["resident"].family_sip}).content.decode()
    assert "Lift maintenance" in html and "Parking" not in html
    # an unknown search field falls back to Message
    assert installer_client.get(reverse("messaging:list"), {"field": "x", "q": "lift"}).status_code == 200


def test_add_message_form_shows_limits_and_receivers(installer_client, household):
    html = installer_client.get(reverse("messaging:create")).content.decode()
    for text in ("Message Title", "64 characters at most.", "1000 characters at most.",
                 "Both indoor monitor and app", "Indoor monitor only", "App only", "UID/Email/Name",
                 "Account", "Also send by e-mail", "Cancel", "Submit", 'data-select-all="receivers"'):
        assert text in html, text
    assert household["resident"].family_sip in html and "ryan@example.com" in html


def test_receiver_search_by_uid_email_name_keeps_selection(installer_client, installer, household, make_resident):
    zoe = make_resident(installer, name="Zoe", email="zoe@example.com")
    ryan = household["resident"]
    url = reverse("messaging:receivers")
    for q in (zoe.family_sip, "zoe@example", "zo"):
        html = installer_client.get(url, {"q": q}).content.decode()
        assert "Zoe" in html and "ryan@example.com" not in html, q
    # Ryan stays selected while searching for Zoe
    html = installer_client.get(url, {"q": "zoe", "receivers": [ryan.pk]}).content.decode()
    assert f'value="{ryan.pk}"' in html and "checked" in html and "Zoe" in html


def test_receiver_search_never_lists_another_installers_users(installer_client, other_installer, make_resident):
    theirs = make_resident(other_installer, name="Stranger", email="stranger@example.com")
    html = installer_client.get(reverse("messaging:receivers"), {"q": "Stranger", "receivers": [theirs.pk]}).content
    assert b"Stranger" not in html


def test_submit_sends_and_opens_details(installer_client, household):
    ryan = household["resident"]
    response = installer_client.post(reverse("messaging:create"), {
        "title": "Fire drill", "body": "Fire drill at 10:00.", "receiver_type": "both",
        "receivers": [ryan.pk], "action": "send",
    })
    message = Message.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("messaging:detail", args=[message.pk])
    assert DeviceAction.objects.filter(kind="message").count() == 2
    assert InboxItem.objects.filter(message=message).count() == 2
    html = installer_client.get(response["Location"]).content.decode()
    for text in ("Message Details", "Fire drill", "Type of receiver", "Both indoor monitor and app",
                 "Fire drill at 10:00.", "Ryan", "Kitchen", "Hall", "Pending", "Lily", "Unread", "Created Time"):
        assert text in html, text


@pytest.mark.parametrize("data, error", [
    ({"title": "", "body": "b", "receiver_type": "both"}, "This field is required."),
    ({"title": "x" * 65, "body": "b", "receiver_type": "both"}, "at most 64 characters"),
    ({"title": "t", "body": "b" * 1001, "receiver_type": "both"}, "at most 1000 characters"),
    ({"title": "t", "body": "b", "receiver_type": "pager"}, "Select a valid choice"),
    ({"title": "t", "body": "b", "receiver_type": "both", "receivers": []}, "Select at least one receiver."),
])
def test_bad_input_is_shown_and_nothing_sent(installer_client, household, data, error):
    data = {"receivers": [household["resident"].pk], "action": "send", **data}
    response = installer_client.post(reverse("messaging:create"), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Message.objects.exists() and not DeviceAction.objects.exists()


def test_another_installers_user_is_refused_in_the_form(installer_client, other_installer, make_resident, household):
    theirs = make_resident(other_installer, name="Stranger", email="stranger@example.com")
    response = installer_client.post(reverse("messaging:create"), {
        "title": "t", "body": "b", "receiver_type": "app", "receivers": [household["resident"].pk, theirs.pk],
        "action": "send"})
    assert response.status_code == 200
    assert "is not one of your users" in response.content.decode()
    assert "Stranger" not in response.content.decode()
    assert not Message.objects.exists()


def test_search_button_keeps_the_draft(installer_client, household):
    response = installer_client.post(reverse("messaging:create"), {
        "title": "Draft", "body": "Draft body", "receiver_type": "app", "q": "Ryan", "action": "search",
        "receivers": [household["resident"].pk]})
    html = response.content.decode()
    assert response.status_code == 200 and not Message.objects.exists()
    assert 'value="Draft"' in html and "Draft body" in html and "This field is required" not in html


def test_delete_with_confirmation(installer_client, sent):
    url = reverse("messaging:delete", args=[sent.pk])
    page = installer_client.get(url).content.decode()
    assert "Delete" in page and "Lift maintenance" in page and "Cancel" in page
    assert Message.objects.filter(pk=sent.pk).exists()
    response = installer_client.post(url)
    assert response.status_code == 302 and not Message.objects.filter(pk=sent.pk).exists()


def test_distributor_does_not_reach_installer_pages_but_admin_rules_stay(client, admin_account, sent):
    client.force_login(admin_account)
    assert client.get(reverse("messaging:list")).status_code == 403


def test_resident_inbox_and_detail_marks_read(client, sent, household):
    ryan_account = household["resident"].account
    client.force_login(ryan_account)
    html = client.get(reverse("messaging:inbox")).content.decode()
    # Ryan's portal speaks his language (French)
    assert "Lift maintenance" in html and "Non lu" in html
    html = client.get(reverse("messaging:inbox_detail", args=[sent.pk])).content.decode()
    assert "The lift stops on Friday." in html
    assert InboxItem.objects.get(message=sent, account=ryan_account).read_at is not None
    # Lily's copy is still unread
    assert InboxItem.objects.get(message=sent, account=household["lily"].account).read_at is None
    html = client.get(reverse("messaging:inbox"), {"status": "unread"}).content.decode()
    assert "Lift maintenance" not in html
    html = client.get(reverse("messaging:inbox"), {"status": "read"}).content.decode()
    assert "Lift maintenance" in html


def test_resident_sees_only_their_own_messages(client, installer, sent, make_resident, activate):
    neighbour = make_resident(installer, name="Neighbour", email="neighbour@example.com")
    client.force_login(neighbour.account)
    assert "Lift maintenance" not in client.get(reverse("messaging:inbox")).content.decode()
    assert client.get(reverse("messaging:inbox_detail", args=[sent.pk])).status_code == 404
    assert InboxItem.objects.get(message=sent, is_host=True).read_at is None


def test_details_and_inbox_query_counts_stay_flat(client, installer, make_resident, make_device,
                                                  django_assert_max_num_queries):
    residents = [make_resident(installer, name=f"R{i:02d}", email=f"r{i}@example.com") for i in range(15)]
    for r in residents:
        make_device(r, location="Hall")
        make_device(r, location="Kitchen")
    message = message_create(acting_user=installer, title="Notice", body="Body", receiver_type=ReceiverType.BOTH,
                             receivers=residents)
    for i in range(12):
        message_create(acting_user=installer, title=f"Extra {i}", body="Body", receiver_type=ReceiverType.APP,
                       receivers=[residents[0]])
    client.force_login(installer)
    with django_assert_max_num_queries(14):
        html = client.get(reverse("messaging:detail", args=[message.pk]), {"per_page": 10}).content.decode()
    assert html.count("UID ") == 10 and "15 In All" in html
    client.force_login(residents[0].account)
    with django_assert_max_num_queries(12):
        html = client.get(reverse("messaging:inbox")).content.decode()
    assert "13 In All" in html
