"""Households for the User module's tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def household(make_resident, activate, installer):
    """Ryan (activated, with an e-mail) and his family member Lily."""
    from entryway.residents.services import family_member_create

    ryan = activate(make_resident(installer, name="Ryan", room_name="Ryan's house", email="ryan@example.com",
                                  country="SG", mobile_number="81234567"))
    lily = family_member_create(acting_user=installer, resident=ryan, name="Lily", email="lily@example.com")
    return {"resident": ryan, "lily": lily}


@pytest.fixture
def resident_account_client(client):
    def login(account):
        client.force_login(account)
        return client

    return login


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English; a page shown in another language must not leak into the next test."""
    from django.utils import translation

    with translation.override("en"):
        yield
