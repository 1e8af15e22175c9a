"""A NUL character (0x00) in any input is refused with a reason, never stored (PostgreSQL cannot)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from entryway.residents.models import Resident

pytestmark = pytest.mark.django_db


def _nul_reason(response) -> bool:
    return "null character" in response.content.decode()


def test_api_body_string_with_nul_is_422(api):
    # Seen on PostgreSQL: "PostgreSQL text fields cannot contain NUL (0x00) bytes" as a 500.
    response = api.post("/api/v1/coupons", {"code": "\u0000"})
    assert response.status_code == 422 and _nul_reason(response), response.content
    response = api.post("/api/v1/residents", {"name": "Ryan\u0000", "email": "ryan@example.com"})
    assert response.status_code == 422 and _nul_reason(response)
    assert not Resident.objects.exists()


def test_api_update_and_message_strings_with_nul_are_422(api, installer, make_resident):
    resident = make_resident(installer, name="Ryan")
    response = api.patch(f"/api/v1/residents/{resident.pk}", {"landline_1": "12\u000034"})
    assert response.status_code == 422 and _nul_reason(response)
    response = api.post("/api/v1/messages", {"title": "Hi\u0000", "body": "x", "receiver_type": "app",
                                             "receivers": [resident.pk]})
    assert response.status_code == 422 and _nul_reason(response)


def test_api_query_and_path_with_nul_are_422(api):
    assert api.get("/api/v1/residents", {"search": "a\x00b"}).status_code == 422
    response = api.delete("/api/v1/mac-library/0C11%0005")
    assert response.status_code == 422 and _nul_reason(response)


def test_session_cookie_with_nul_is_ignored_not_looked_up(client):
    # Found by the API fuzzer on PostgreSQL: a sessionid cookie '0\x00\x80…' reached the session table.
    client.cookies["sessionid"] = "0\x00abc"
    assert client.get("/api/v1/residents").status_code == 401
    assert client.get(reverse("residents:list")).status_code == 302


def test_form_and_search_box_with_nul_are_refused_with_a_reason(installer_client):
    response = installer_client.post(reverse("residents:create"), {"name": "Ryan\x00", "email": "r@example.com"})
    assert response.status_code == 400 and _nul_reason(response)
    assert not Resident.objects.exists()
    response = installer_client.get(reverse("residents:list"), {"q": "\x00"})
    assert response.status_code == 400 and _nul_reason(response)


def test_ordinary_text_is_untouched(api):
    response = api.post("/api/v1/residents", {"name": "Zoë \\0 Ñandú", "email": "zoe@example.com"})
    assert response.status_code == 201, response.content
