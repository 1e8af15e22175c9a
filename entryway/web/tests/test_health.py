import socket

import pytest

pytestmark = pytest.mark.django_db


def test_readyz_checks_the_broker_when_one_is_configured(client, settings):
    settings.MQTT_URL = ""
    body = client.get("/readyz").json()
    assert body["checks"] == {"database": "ok", "queue": "ok", "broker": "off"}

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        settings.MQTT_URL = f"mqtt://user:secret@127.0.0.1:{listener.getsockname()[1]}"
        response = client.get("/readyz")
        assert response.status_code == 200 and response.json()["checks"]["broker"] == "ok"
        port = listener.getsockname()[1]
    # The same address with nothing listening: not ready, and the answer says which part failed.
    settings.MQTT_URL = f"mqtt://127.0.0.1:{port}"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["broker"].startswith("error: ")
    assert response.json()["checks"]["database"] == "ok"


def test_metrics_count_device_check_ins_by_result(client):
    import re

    def count(result):
        found = re.search(rf'^entryway_device_checkins_total\{{result="{result}"\}} ([0-9.]+)$',
                          client.get("/metrics").content.decode(), re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    before = count("401")
    response = client.post("/device/v1/checkin", data="{}", content_type="application/json")
    assert response.status_code == 401
    assert count("401") == before + 1


def test_json_log_of_an_error_answer_carries_the_request_id(client, caplog):
    import json
    import logging

    from entryway.core.logging import JsonFormatter

    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/no-such-page", headers={"X-Request-ID": "req-404-check"})
    assert response.status_code == 404
    record = next(r for r in caplog.records if r.name == "django.request")
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-404-check" and line["level"] == "WARNING"
    assert line["message"] == "Not Found: /no-such-page"
