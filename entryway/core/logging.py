"""Structured JSON log lines carrying the request id."""
from __future__ import annotations

import json
import logging

from entryway.core.request_context import current_request_info


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Django logs a 4xx/5xx answer after the middleware returned: its record carries the request.
        request_id = (current_request_info().get("request_id")
                      or getattr(getattr(record, "request", None), "request_id", None))
        if request_id:
            payload["request_id"] = request_id
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)
