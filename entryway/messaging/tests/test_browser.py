from __future__ import annotations

import pytest
from playwright.sync_api import expect

from entryway.messaging.models import InboxItem, Message
from entryway.testing.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_send_a_message_and_open_its_details(login_page, live_server, installer, household, make_resident):
    zoe = make_resident(installer, name="Zoe Park", email="zoe@example.com")
    make_resident(installer, name="Zack Lee", email="zack@example.com")
    page = login_page(installer)
    page.goto(f"{live_server.url}/messages/")
    page.get_by_role("link", name="New").click()
    page.get_by_label("Message Title").fill("Water off on Monday")
    # The counter's script is deferred: on a loaded machine it may run after the text was typed.
    expect(page.locator("#id_title_counter")).to_have_text("19 / 64")
    page.get_by_role("textbox", name="Message", exact=True).fill("The water is off on Monday from 9:00 to 12:00.\nSorry for the trouble.")
    page.get_by_label("Both indoor monitor and app").check()

    # Pick Ryan from the full list, then search "Z" and select all of that search result
    page.get_by_label(household["resident"].family_sip).check()
    page.get_by_label("UID/Email/Name").fill("Z")
    page.wait_for_selector("#receiver-table tr.kept-row")  # Ryan kept, checked, above the new result
    assert page.locator("#receiver-table tbody tr").count() == 3
    page.get_by_label("Select all users in the search result").check()
    assert page.locator("[data-receivers-selected]").inner_text() == "3"
    screenshot(page, "message-new")
    page.get_by_role("button", name="Submit").click()

    page.wait_for_selector("h1:has-text('Message Details')")
    message = Message.objects.get()
    assert message.receiver_count == 3 and zoe.pk in set(message.receivers.values_list("resident_id", flat=True))
    body = page.locator("main").inner_text()
    for text in ("Water off on Monday", "Both indoor monitor and app", "Ryan", "Zoe Park", "Zack Lee", "Kitchen",
                 "Hall", "Pending", "Lily", "Unread", "No indoor monitor"):
        assert text in body, text
    path = screenshot(page, "message-details")
    assert path.exists()

    # Back on the list: the guide's columns and the new row
    page.get_by_role("link", name="Cancel").click()
    row = page.locator("table.messages-table tbody tr").first
    assert "Water off on Monday" in row.inner_text() and "Both indoor monitor and app" in row.inner_text()
    assert InboxItem.objects.filter(message=message).count() == 4  # Ryan, Lily, Zoe, Zack


def test_resident_reads_the_message_in_the_portal(login_page, live_server, installer, household, password):
    from entryway.messaging.services import message_create

    message = message_create(acting_user=installer, title="Parking closed", body="The car park is closed on Sunday.",
                             receiver_type="app", receivers=[household["resident"]])
    account = household["resident"].account
    account.set_password(password)
    account.language = "en"
    account.save()
    page = login_page(account)
    page.goto(f"{live_server.url}/resident/messages/")
    row = page.locator("table.inbox-table tbody tr").first
    assert "Parking closed" in row.inner_text() and "Unread" in row.inner_text()
    screenshot(page, "message-inbox")
    page.get_by_role("link", name="Parking closed").click()
    page.wait_for_selector("text=The car park is closed on Sunday.")
    assert InboxItem.objects.get(message=message, account=account).read_at is not None
    page.get_by_role("link", name="Back to messages").click()
    assert "Read" in page.locator("table.inbox-table tbody tr").first.inner_text()

    # the installer's list, for the record
    page.context.clear_cookies()
    page = login_page(installer)
    page.goto(f"{live_server.url}/messages/")
    assert "Parking closed" in page.locator("table.messages-table").inner_text()
    screenshot(page, "message-list")
