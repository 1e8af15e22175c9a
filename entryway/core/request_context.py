"""Per-request facts (request id, client address, impersonator) for logs and audit rows."""
from __future__ import annotations

import contextvars

_info: contextvars.ContextVar[dict] = contextvars.ContextVar("entryway_request_info", default={})


def set_request_info(**values) -> contextvars.Token:
    return _info.set(values)


def update_request_info(**values) -> None:
    _info.set({**_info.get(), **values})


def reset_request_info(token: contextvars.Token) -> None:
    _info.reset(token)


def current_request_info() -> dict:
    return _info.get()
