"""Checks of uploaded files by their bytes, whatever they are called."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Documents a browser or a shell would act on; no device image starts like this.
_ACTIVE_PREFIXES = (b"<", b"#!", b"%pdf", b"{\\rtf")  # compared in lower case


def refuse_document(head: bytes, *, field: str = "file") -> None:
    """Refuse a web page, SVG/XML, script or PDF uploaded where a binary image is expected."""
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip(b"\xff\xfe \t\r\n")[:16].lower()
    if start.startswith(_ACTIVE_PREFIXES) or start.startswith(b"\x00<"):
        raise ValidationError({field: [_(
            "This file is a document or a script (HTML, XML, SVG, PDF or shell), not a firmware image.")]})
