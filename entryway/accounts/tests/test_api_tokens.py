"""API tokens page: an installer creates a bearer token (shown once), uses it, and revokes it."""
from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from entryway.accounts.models import ApiToken
from entryway.core.models import AuditLog

pytestmark = pytest.mark.django_db


def test_anonymous_and_other_roles(client, distributor, make_resident, installer):
    url = reverse("accounts:api_tokens")
    assert client.get(url)["Location"].startswith("/login/")
    client.force_login(distributor)
    assert client.get(url).status_code == 403
    resident = make_resident(installer, name="R", email="r@example.com")
    client.force_login(resident.account)
    assert client.get(url).status_code == 403


def test_create_use_and_revoke(installer_client, installer):
    client = Client()  # no session: only the bearer token speaks
    response = installer_client.post(reverse("accounts:api_tokens"), {"name": "CRM sync"})
    html = response.content.decode()
    raw = re.search(r'<code id="new-token">(ew_[^<]+)</code>', html).group(1)
    assert "Copy it now" in html
    token = ApiToken.objects.get(account=installer)
    assert token.name == "CRM sync" and token.token_hash != raw and raw.startswith(token.prefix)
    # the raw token is shown once only
    assert raw not in installer_client.get(reverse("accounts:api_tokens")).content.decode()

    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/residents", headers=headers).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None

    revoke = installer_client.post(reverse("accounts:api_token_revoke", args=[token.pk]))
    assert revoke.status_code == 302
    assert client.get("/api/v1/residents", headers=headers).status_code == 401
    assert "Revoked" in installer_client.get(reverse("accounts:api_tokens")).content.decode()
    actions = set(AuditLog.objects.filter(installer=installer).values_list("action", flat=True))
    assert {"api_token.create", "api_token.revoke"} <= actions


def test_name_is_required(installer_client):
    response = installer_client.post(reverse("accounts:api_tokens"), {"name": ""})
    assert "This field is required." in response.content.decode() and not ApiToken.objects.exists()


def test_other_installer_cannot_revoke(client, installer, other_installer):
    from entryway.accounts.services import api_token_create

    token, _raw = api_token_create(acting_user=installer, name="mine")
    client.force_login(other_installer)
    assert client.post(reverse("accounts:api_token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.is_active


def test_revoke_needs_post(installer_client, installer):
    from entryway.accounts.services import api_token_create

    token, _raw = api_token_create(acting_user=installer, name="mine")
    assert installer_client.get(reverse("accounts:api_token_revoke", args=[token.pk])).status_code == 405


def test_unknown_or_garbage_tokens_are_401(client):
    for value in ("Bearer nope", "Bearer " + "x" * 500, "Basic abc"):
        assert client.get("/api/v1/residents", headers={"Authorization": value}).status_code == 401
