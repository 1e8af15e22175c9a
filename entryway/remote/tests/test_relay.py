"""The relay /remote/<token>/…: what reaches the device and how its answers reach the browser."""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from entryway.remote import tunnel
from entryway.remote.models import RemoteRequest, RemoteSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_device(monkeypatch, open_session):
    """The device end of the tunnel, answering in the same thread: ``answer(method, target, headers, body)``."""
    seen = []
    state = {"answer": lambda m, t, h, b: (200, [["Content-Type", "text/plain"]], b"ok")}
    original = tunnel.request_wait

    def wait(request_id, *, timeout):
        for row in tunnel.requests_take(open_session.pk):
            headers = dict(row.headers)
            seen.append({"method": row.method, "target": row.target, "headers": headers, "body": bytes(row.body)})
            status, out, body = state["answer"](row.method, row.target, headers, bytes(row.body))
            assert tunnel.reply_store(session=row.session, request_id=row.pk, status=status, headers=out,
                                      body=body) == ""
        return original(request_id, timeout=0)

    monkeypatch.setattr(tunnel, "request_wait", wait)
    RemoteSession.objects.filter(pk=open_session.pk).update(connected_at=timezone.now())

    class Fake:
        requests = seen

        def answers(self, fn):
            state["answer"] = fn

    return Fake()


def test_pages_images_and_counters(installer_client, open_session, fake_device):
    fake_device.answers(lambda m, t, h, b: (200, [["Content-Type", "text/html; charset=utf-8"], ["X-Secret", "1"]],
                                            (b'<a href="/settings">S</a> <img src="/logo.png"> <a href="status">x</a>'
                                             b' <a href="//example.com/">e</a>')))
    response = installer_client.get(f"/remote/{open_session.token}/status?x=1", HTTP_ACCEPT_LANGUAGE="fr")
    base = f"/remote/{open_session.token}/"
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{base}settings"' in html and f'src="{base}logo.png"' in html and 'href="status"' in html
    assert 'href="//example.com/"' in html
    assert "X-Secret" not in response
    assert "sandbox" in response["Content-Security-Policy"] and "script-src 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    request = fake_device.requests[0]
    assert request["method"] == "GET" and request["target"] == "/status?x=1"
    assert request["headers"]["Accept-Language"] == "fr"
    # The platform's own cookies (its login session) never reach the device.
    assert "Cookie" not in request["headers"]
    fake_device.answers(lambda m, t, h, b: (200, [["Content-Type", "image/png"]], b"\x89PNG..."))
    image = installer_client.get(f"/remote/{open_session.token}/logo.png")
    assert image["Content-Type"] == "image/png" and image.content == b"\x89PNG..."
    session = RemoteSession.objects.get(pk=open_session.pk)
    assert session.request_count == 2 and session.bytes_from_device > 0
    assert not RemoteRequest.objects.exists()  # answered requests do not stay in the database


def test_style_references_stay_inside_the_session(installer_client, open_session, fake_device):
    base = f"/remote/{open_session.token}/"
    fake_device.answers(lambda m, t, h, b: (200, [["Content-Type", "text/css"]], (
        b'@import "/base.css"; body { background: url(/img/bg.png) } .a { background: URL( \'/x.png\' ) }'
        b' .b { background: url(img/rel.png) } .c { background: url(//cdn.example/x.png) }'
        b' .d { background: url("data:image/png;base64,AAAA") }')))
    css = installer_client.get(f"{base}style.css").content.decode()
    assert f'@import "{base}base.css"' in css and f"url({base}img/bg.png)" in css and f"URL( '{base}x.png' )" in css
    assert "url(img/rel.png)" in css and "url(//cdn.example/x.png)" in css and 'url("data:image/png' in css
    fake_device.answers(lambda m, t, h, b: (200, [["Content-Type", "text/html"]], (
        b'<div style="background: url(\'/img/bg.png\')"></div><style>p { background: url(/p.png) }</style>')))
    html = installer_client.get(f"{base}index.html").content.decode()
    assert f"url('{base}img/bg.png')" in html and f"url({base}p.png)" in html
    # Other answers pass through unchanged.
    fake_device.answers(lambda m, t, h, b: (200, [["Content-Type", "application/javascript"]], b'f("url(/x)")'))
    assert installer_client.get(f"{base}app.js").content == b'f("url(/x)")'


def test_redirects_stay_inside_the_session(installer_client, open_session, fake_device):
    base = f"/remote/{open_session.token}/"
    for location, expected in (("login", "login"), ("/login?next=%2F", f"{base}login?next=%2F"),
                               ("http://192.168.1.20/status", f"{base}status"), ("https://evil.example/", base)):
        fake_device.answers(lambda m, t, h, b, loc=location: (302, [["Location", loc]], b""))
        response = installer_client.get(f"{base}")
        assert response.status_code == 302 and response["Location"] == expected


def test_forms_and_the_devices_own_cookies(installer_client, open_session, fake_device):
    base = f"/remote/{open_session.token}/"
    fake_device.answers(lambda m, t, h, b: (303, [["Location", "status"], ["Set-Cookie", "devsession=abc; Path=/"]],
                                            b""))
    response = installer_client.post(f"{base}login", "username=admin&password=admin",
                                     content_type="application/x-www-form-urlencoded",
                                     HTTP_ORIGIN="http://testserver")
    assert response.status_code == 303
    cookie = response.cookies["rc-devsession"]
    assert cookie.value == "abc" and cookie["path"] == base and cookie["httponly"]
    login = fake_device.requests[-1]
    assert login["method"] == "POST" and login["body"] == b"username=admin&password=admin"
    assert login["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    fake_device.answers(lambda m, t, h, b: (200, [["Content-Type", "text/plain"]], b"status"))
    installer_client.get(f"{base}status")
    assert fake_device.requests[-1]["headers"]["Cookie"] == "devsession=abc"
    # Logging out on the device deletes its cookie in the browser too.
    fake_device.answers(lambda m, t, h, b: (303, [["Location", "login"], ["Set-Cookie", "devsession=; Max-Age=0; Path=/"]],
                                            b""))
    out = installer_client.post(f"{base}logout", HTTP_ORIGIN="http://testserver")
    assert out.cookies["rc-devsession"]["max-age"] == 0


def test_forms_from_another_site_are_refused(installer_client, open_session, fake_device):
    response = installer_client.post(f"/remote/{open_session.token}/settings", {"location": "x"},
                                     HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403 and not fake_device.requests


def test_a_request_too_large_is_refused_with_413(installer_client, open_session, fake_device, settings):
    settings.REMOTE_MAX_BODY_BYTES = 1000
    response = installer_client.post(f"/remote/{open_session.token}/settings", "x=" + "a" * 2000,
                                     content_type="application/x-www-form-urlencoded", HTTP_ORIGIN="http://testserver")
    text = response.content.decode()
    assert response.status_code == 413 and "Too large for Remote Control" in text
    assert "The request is larger than the tunnel carries (1000\xa0bytes at most)." in text
    assert not fake_device.requests


def test_a_device_that_never_connects_gives_the_timeout_page(installer_client, open_session, settings):
    settings.REMOTE_REQUEST_TIMEOUT = 0
    response = installer_client.get(f"/remote/{open_session.token}/")
    assert response.status_code == 504
    assert "The device did not connect" in response.content.decode()
    assert not RemoteRequest.objects.exists()


def test_a_connected_device_that_does_not_answer(installer_client, open_session, settings):
    settings.REMOTE_REQUEST_TIMEOUT = 0
    RemoteSession.objects.filter(pk=open_session.pk).update(connected_at=timezone.now())
    response = installer_client.get(f"/remote/{open_session.token}/")
    assert response.status_code == 504 and "The device did not answer" in response.content.decode()


def test_closed_and_expired_sessions_are_refused_with_the_reason(installer_client, installer, open_session):
    from entryway.remote.services import session_close

    session_close(session=open_session, reason="installer", acting_user=installer)
    response = installer_client.get(f"/remote/{open_session.token}/")
    assert response.status_code == 410 and "This Remote Control session is closed" in response.content.decode()
    assert "Closed from the portal" in response.content.decode()


def test_expired_session(installer_client, open_session):
    RemoteSession.objects.filter(pk=open_session.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = installer_client.get(f"/remote/{open_session.token}/status")
    assert response.status_code == 410 and "This Remote Control session has expired" in response.content.decode()
    assert RemoteSession.objects.get(pk=open_session.pk).close_reason == "expired"


def test_busy_server_refuses_at_once(installer_client, open_session, settings):
    settings.REMOTE_MAX_WAITING = 0
    response = installer_client.get(f"/remote/{open_session.token}/")
    assert response.status_code == 503 and response["Retry-After"] == "2"
    assert "Remote Control is busy" in response.content.decode()
