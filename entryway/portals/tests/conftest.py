"""Accounts of every role for the portals' tests."""
from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def household(make_resident, activate, installer):
    """Ryan (activated, host, with a login) and his family member Lily (with a login)."""
    from entryway.residents.services import family_member_create

    ryan = activate(make_resident(installer, name="Ryan", room_name="Ryan's house", email="ryan@example.com",
                                  language="fr"))
    lily = family_member_create(acting_user=installer, resident=ryan, name="Lily", email="lily@example.com")
    return {"resident": ryan, "lily": lily}


@pytest.fixture
def clients(admin_account, distributor, installer, household):
    """One logged-in test client per role (and an anonymous one)."""
    accounts = {"admin": admin_account, "distributor": distributor, "installer": installer,
                "resident": household["resident"].account}
    out = {"anonymous": Client()}
    for role, account in accounts.items():
        c = Client()
        c.force_login(account)
        out[role] = c
    return out


@pytest.fixture
def client_for():
    def make(account):
        c = Client()
        c.force_login(account)
        return c

    return make
