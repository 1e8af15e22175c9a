"""Fixtures shared by every app's tests."""
from __future__ import annotations

import os

import pytest


def pytest_configure(config):
    # In CI, the services named in .ci/run must be there: their tests fail rather than skip.
    config.addinivalue_line("markers", "slow: long-running test")


@pytest.fixture
def password():
    return "correct-horse-battery"


@pytest.fixture
def make_account(db, password):
    from entryway.accounts.models import Account

    counter = {"n": 0}

    def make(role="installer", parent=None, **extra):
        counter["n"] += 1
        username = extra.pop("username", f"{role}{counter['n']}")
        extra.setdefault("name", username.title())
        extra.setdefault("email", f"{username}@example.com")
        return Account.objects.create_user(username=username, password=password, role=role, parent=parent, **extra)

    return make


@pytest.fixture
def admin_account(make_account):
    return make_account("admin", username="root-admin", is_staff=True, is_superuser=True)


@pytest.fixture
def distributor(make_account):
    return make_account("distributor", username="dist-a", account_access_enabled=True)


@pytest.fixture
def other_distributor(make_account):
    return make_account("distributor", username="dist-b")


@pytest.fixture
def installer(make_account, distributor):
    return make_account("installer", parent=distributor, username="inst-a", time_zone="Asia/Singapore")


@pytest.fixture
def other_installer(make_account, other_distributor):
    return make_account("installer", parent=other_distributor, username="inst-b", time_zone="Europe/Paris")


@pytest.fixture
def make_resident(db):
    from entryway.residents.services import resident_create

    counter = {"n": 0}

    def make(installer, **data):
        counter["n"] += 1
        data.setdefault("name", f"Resident {counter['n']}")
        return resident_create(acting_user=installer, installer=installer, **data)

    return make


@pytest.fixture
def activate():
    import datetime

    from django.utils import timezone

    from entryway.residents.services import resident_activate

    def do(resident, days=30):
        return resident_activate(resident=resident, until=timezone.now() + datetime.timedelta(days=days),
                                 acting_user=None)

    return do


@pytest.fixture
def resident(make_resident, installer):
    return make_resident(installer, name="Ryan", email="ryan@example.com")


@pytest.fixture
def installer_client(client, installer):
    client.force_login(installer)
    return client


@pytest.fixture
def other_installer_client(client, other_installer):
    client.force_login(other_installer)
    return client


@pytest.fixture
def api_token(installer):
    from entryway.accounts.services import api_token_create

    _token, raw = api_token_create(acting_user=installer, name="tests")
    return raw


@pytest.fixture
def api(client, api_token):
    """A Django test client that sends the installer's bearer token and JSON bodies."""

    class Api:
        def __init__(self, token):
            self.headers = {"Authorization": f"Bearer {token}"}

        def _call(self, method, path, data=None):
            kwargs = {"headers": self.headers}
            if data is not None:
                kwargs["data"] = data
                kwargs["content_type"] = "application/json"
            return getattr(client, method)(path, **kwargs)

        def get(self, path, data=None):
            return client.get(path, data or {}, headers=self.headers)

        def post(self, path, data=None):
            return self._call("post", path, data)

        def put(self, path, data=None):
            return self._call("put", path, data)

        def patch(self, path, data=None):
            return self._call("patch", path, data)

        def delete(self, path):
            return self._call("delete", path)

    return Api(api_token)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}
