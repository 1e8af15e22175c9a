import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from entryway.core.ratelimit import rate_limit


def test_rate_limit_answers_429_past_the_limit_per_key():
    @rate_limit("test-scope", limit=3, window=60)
    def view(request):
        return HttpResponse("ok")

    factory = RequestFactory()
    a = factory.get("/", REMOTE_ADDR="10.9.9.1")
    b = factory.get("/", REMOTE_ADDR="10.9.9.2")
    assert [view(a).status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = view(a)
    assert limited.status_code == 429 and 0 < int(limited["Retry-After"]) <= 60
    assert view(b).status_code == 200  # another address is not slowed down


def _basic(user: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


@pytest.fixture
def fresh_limits(settings):
    from django.core.cache import cache

    cache.clear()
    yield settings
    cache.clear()


@pytest.mark.django_db
def test_device_api_is_limited_per_device_not_per_address(client, fresh_limits):
    fresh_limits.DEVICE_RATE_LIMIT = 3
    one, other = _basic("0C:11:05:00:00:01", "wrong"), _basic("0C1105000002", "wrong")
    statuses = [client.post("/device/v1/checkin", "{}", content_type="application/json",
                            HTTP_AUTHORIZATION=one).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    limited = client.get("/autop/0C1105000001.cfg", HTTP_AUTHORIZATION=one)
    assert limited.status_code == 429 and 0 < int(limited["Retry-After"]) <= 60
    # another device behind the same address is not slowed down
    assert client.post("/device/v1/checkin", "{}", content_type="application/json",
                       HTTP_AUTHORIZATION=other).status_code == 401


@pytest.mark.django_db
def test_refused_device_credentials_lock_out_the_address(client, fresh_limits):
    fresh_limits.DEVICE_AUTH_FAILURE_LIMIT = 5
    for n in range(5):
        response = client.post("/device/v1/checkin", "{}", content_type="application/json",
                               HTTP_AUTHORIZATION=_basic(f"0C11050000{n:02X}", "guess"))
        assert response.status_code == 401
    blocked = client.post("/device/v1/checkin", "{}", content_type="application/json",
                          HTTP_AUTHORIZATION=_basic("0C1105000099", "guess"))
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) == 600
    # the portal is not affected
    assert client.get("/login/").status_code == 200
