import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_login_counters():
    """Login throttling counts live in the cache: start every test at zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _english():
    """Texts are asserted in English unless a test picks a language."""
    from django.utils import translation

    with translation.override("en"):
        yield
