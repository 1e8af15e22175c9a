"""Firmware downloads: ``GET /firmware/files/<token>/<filename>`` (docs/device-protocol.md, section 3).

During a rollout every device of the strategy fetches the same file within a few minutes. A
download needs no database query once the file is known (a firmware row never changes after
upload), and ``wsgi_download(environ)`` answers it at the WSGI layer, before Django builds a
request: the signed token checked, the file's bytes from memory (files up to MEMORY_MAX_BYTES,
read once per process, MEMORY_TOTAL_BYTES in all) or read from disk in chunks, Django's security
headers and a request id, counted in the same metrics as the view. Anything it does not answer
with certainty (a bad or expired token, an unknown file, a redirect to HTTPS, a method other than
GET or HEAD) goes on to the view (``entryway.firmware.views.firmware_file``), which answers the same way.

Both answer conditional and partial requests: the ``ETag`` is the file's SHA-256 (quoted), an
``If-None-Match`` naming it gets ``304``, one ``Range: bytes=a-b`` (or ``a-`` or ``-n``) gets
``206`` with ``Content-Range`` (``416`` when it starts past the end), ``If-Range`` with another
ETag gets the whole file. Several ranges in one request get the whole file.
"""
from __future__ import annotations

import pathlib
import re
import threading
import time

from django.conf import settings

PREFIX = "/firmware/files/"
ROUTE = "firmware:file"
# Files up to MEMORY_MAX_BYTES are kept in memory, MEMORY_TOTAL_BYTES at most per process (the web
# workers' memory budget); larger files are read from disk (and the system's page cache) in chunks.
MEMORY_MAX_BYTES = 4 * 1024 * 1024
MEMORY_TOTAL_BYTES = 16 * 1024 * 1024
CHUNK = 256 * 1024
_PATH_RE = re.compile(r"^/firmware/files/([^/]+)/([^/]+)$")
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")

# firmware id -> (file name, stored path, version, sha256); a firmware row never changes after upload.
_FILES: dict[int, tuple[str, str, str, str]] = {}
# (stored name, sha256) -> the file's bytes (small files only).
_CONTENT: dict[tuple[str, str], bytes] = {}
_lock = threading.Lock()


def file_info(firmware_id: int, *, fresh: bool = False) -> tuple[str, str, str, str] | None:
    info = None if fresh else _FILES.get(firmware_id)
    if info is None:
        from entryway.firmware.models import Firmware

        row = Firmware.objects.filter(pk=firmware_id).values_list("filename", "file", "version", "sha256").first()
        with _lock:
            if row is None:
                _FILES.pop(firmware_id, None)
                return None
            if len(_FILES) > 256:
                _FILES.clear()
                _CONTENT.clear()
            _FILES[firmware_id] = row
        info = row
    return info


def locate(firmware_id: int) -> tuple[tuple[str, str, str, str], int] | None:
    """(file info, size) of a firmware whose file is on disk, or None (deleted)."""
    for fresh in (False, True):  # a file gone from disk may be a row replaced since it was cached
        info = file_info(firmware_id, fresh=fresh)
        if info is None:
            return None
        try:
            return info, stored_path(info).stat().st_size
        except OSError:
            continue
    return None


def stored_path(info) -> pathlib.Path:
    return pathlib.Path(settings.MEDIA_ROOT) / info[1]


def etag_of(info) -> str:
    return f'"{info[3]}"'


def plan(info, size: int, method: str, if_none_match: str, range_header: str, if_range: str):
    """(status, (first, last) byte range or None) for a request of the file described by ``info``."""
    etag = etag_of(info)
    if if_none_match and (if_none_match.strip() == "*"
                          or etag in [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]):
        return 304, None
    if not range_header or (if_range and if_range.strip() != etag):
        return 200, None
    match = _RANGE_RE.match(range_header.replace(" ", ""))
    if match is None or (not match.group(1) and not match.group(2)):
        return 200, None  # several ranges, or another unit: the whole file
    start_text, end_text = match.groups()
    if start_text:
        first = int(start_text)
        last = min(int(end_text), size - 1) if end_text else size - 1
        if first >= size:
            return 416, None
        if last < first:
            return 200, None
    else:
        length = int(end_text)
        if length == 0:
            return 416, None
        first, last = max(0, size - length), size - 1
    return 206, (first, last)


def headers_for(info, size: int, status: int, span) -> list[tuple[str, str]]:
    name, _stored, version, sha256 = info
    headers = [("ETag", etag_of(info)), ("Accept-Ranges", "bytes"), ("X-Firmware-Version", version),
               ("X-Firmware-SHA256", sha256)]
    if status == 304:
        return headers
    if status == 416:
        return [*headers, ("Content-Range", f"bytes */{size}"), ("Content-Length", "0")]
    headers += [("Content-Type", "application/octet-stream"),
                ("Content-Disposition", f'attachment; filename="{name}"')]
    if status == 206:
        first, last = span
        headers += [("Content-Range", f"bytes {first}-{last}/{size}"), ("Content-Length", str(last - first + 1))]
    else:
        headers.append(("Content-Length", str(size)))
    return headers


def _content(info, path: pathlib.Path, size: int) -> bytes | None:
    key = (info[1], info[3])
    data = _CONTENT.get(key)
    if data is None and size <= MEMORY_MAX_BYTES:
        data = path.read_bytes()
        with _lock:
            if sum(len(kept) for kept in _CONTENT.values()) + len(data) > MEMORY_TOTAL_BYTES:
                _CONTENT.clear()
            _CONTENT[key] = data
    return data


def _chunks(path: pathlib.Path, first: int, last: int):
    with path.open("rb") as handle:
        handle.seek(first)
        left = last - first + 1
        while left > 0:
            block = handle.read(min(CHUNK, left))
            if not block:
                return
            left -= len(block)
            yield block


_STATUS = {200: "200 OK", 206: "206 Partial Content", 304: "304 Not Modified",
           416: "416 Range Not Satisfiable"}


def wsgi_download(environ):
    """(status line, headers, body iterable) for a firmware download, or None to let Django answer."""
    from entryway.deviceapi import fastpath
    from entryway.firmware.services import firmware_from_token

    method = environ.get("REQUEST_METHOD")
    path = environ.get("PATH_INFO", "")
    if method not in ("GET", "HEAD") or fastpath._redirected(environ, path):
        return None
    match = _PATH_RE.match(path)
    if match is None:
        return None
    start = time.perf_counter()
    token, filename = match.groups()
    firmware_id = firmware_from_token(token)
    found = locate(firmware_id) if firmware_id else None
    if found is None or found[0][0] != filename:
        return None
    info, size = found
    stored = stored_path(info)
    status, span = plan(info, size, method, environ.get("HTTP_IF_NONE_MATCH", ""), environ.get("HTTP_RANGE", ""),
                        environ.get("HTTP_IF_RANGE", ""))
    headers = headers_for(info, size, status, span)
    body = []
    if method == "GET" and status in (200, 206):
        first, last = span or (0, size - 1)
        data = _content(info, stored, size)
        body = [data[first:last + 1] if span else data] if data is not None else _chunks(stored, first, last)
    headers += fastpath.answer_headers(environ, PREFIX, "application/octet-stream")
    fastpath.count(environ, ROUTE, status, start)
    return _STATUS[status], headers, body
