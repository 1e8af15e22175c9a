import pytest


@pytest.fixture
def premium_resident(make_resident, installer):
    return make_resident(installer, name="Paula Premium", premium_plan=True)


@pytest.fixture
def library(installer):
    """Three MACs in the installer's library."""
    from entryway.devices.models import MacLibraryEntry
    from entryway.devices.services import mac_add

    return [MacLibraryEntry.objects.filter(mac=m).first() or mac_add(acting_user=installer, mac=m)
            for m in ("0C110512BC97", "0C110512BC98", "0C110512BC99")]


@pytest.fixture
def make_device(installer):
    from entryway.devices.services import device_create, mac_add

    counter = {"n": 0}

    def make(owner, *, mac=None, model="R29", location=None, relays=None, **extra):
        counter["n"] += 1
        mac = mac or f"0C11AA{counter['n']:06X}"
        inst = owner.installer
        from entryway.devices.models import MacLibraryEntry

        if not MacLibraryEntry.objects.filter(mac=mac).exists():
            mac_add(acting_user=inst, mac=mac)
        return device_create(acting_user=inst, owner=owner, device_model=model, mac=mac,
                             location=location or f"Gate {counter['n']}", relays=relays or [], **extra)

    return make


@pytest.fixture(autouse=True)
def _device_catalog(db):
    """The catalog comes from a data migration; a transactional test's flush removes it, so put it back."""
    from entryway.devices.catalog import catalog_ensure

    catalog_ensure()
