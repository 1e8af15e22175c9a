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
