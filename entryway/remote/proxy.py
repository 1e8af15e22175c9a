"""What crosses the tunnel: which headers go to the device, and how its answers are fitted under
``/remote/<token>/`` (redirects, cookies, root-relative links in pages and style sheets)."""
from __future__ import annotations

import re
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

# Request headers handed to the device; everything else (the platform's cookies, its session,
# proxies' headers) stays on the platform.
REQUEST_HEADERS = ("Accept", "Accept-Language", "Content-Type", "User-Agent", "If-None-Match",
                   "If-Modified-Since", "Range")
# Answer headers the browser gets from the device.
RESPONSE_HEADERS = {"content-type", "cache-control", "etag", "last-modified", "expires", "content-disposition",
                    "content-language", "content-range", "accept-ranges"}
# The device's cookies live in the browser under this prefix and the session's path only.
COOKIE_PREFIX = "rc-"
# Root-relative references in a page ("/status"): made relative to the session's prefix.
_ROOT_LINK = re.compile(rb"""(\b(?:href|src|action|formaction)\s*=\s*["']?)/(?!/)""", re.IGNORECASE)
# The same in style sheets and style attributes: url(/img/bg.png) and @import "/base.css".
_STYLE_LINK = re.compile(rb"""(\burl\(\s*["']?|@import\s+["'])/(?!/)""", re.IGNORECASE)
TOKEN_RE = r"[A-Za-z0-9_-]{16,32}"


def prefix(token: str) -> str:
    return f"/remote/{token}/"


def request_headers(request) -> list[list[str]]:
    """The browser's headers for the device, with the device's own cookies only."""
    out = []
    for name in REQUEST_HEADERS:
        value = request.headers.get(name)
        if value:
            out.append([name, value[:2000]])
    cookies = [f"{name[len(COOKIE_PREFIX):]}={value}" for name, value in request.COOKIES.items()
               if name.startswith(COOKIE_PREFIX) and len(name) > len(COOKIE_PREFIX)]
    if cookies:
        out.append(["Cookie", "; ".join(cookies)])
    return out


def rewrite_location(value: str, token: str) -> str:
    """A redirect of the device's, kept inside the session. Relative ones already are."""
    parts = urlsplit(value.strip())
    if parts.scheme or parts.netloc:
        # The device only knows itself: an absolute URL (http://192.168.1.20/x) means its own page.
        path = parts.path or "/"
    elif value.startswith("/"):
        path = parts.path
    else:
        return value
    query = f"?{parts.query}" if parts.query else ""
    return prefix(token) + path.lstrip("/") + query


def rewrite_set_cookie(value: str, token: str) -> dict | None:
    """The device's cookie, renamed and limited to the session's path, as ``set_cookie`` arguments
    (None when it cannot be read)."""
    cookie = SimpleCookie()
    try:
        cookie.load(value)
    except CookieError:
        return None
    if len(cookie) != 1:
        return None
    (name, morsel), = cookie.items()
    out = {"key": COOKIE_PREFIX + name, "value": morsel.value,
           "path": prefix(token) + (morsel["path"] or "/").lstrip("/")}
    if morsel["max-age"]:
        try:
            out["max_age"] = int(morsel["max-age"])
        except ValueError:
            return None
    elif morsel["expires"]:
        out["expires"] = morsel["expires"]
    return out


def rewrite_page(body: bytes, token: str) -> bytes:
    """An HTML page's root-relative links and style references, under the session's prefix."""
    return rewrite_style(_ROOT_LINK.sub(lambda m: m.group(1) + prefix(token).encode(), body), token)


def rewrite_style(body: bytes, token: str) -> bytes:
    """A style sheet's root-relative ``url()`` and ``@import`` references, under the session's prefix."""
    return _STYLE_LINK.sub(lambda m: m.group(1) + prefix(token).encode(), body)


def response_headers(headers: list, token: str) -> tuple[list[tuple[str, str]], list[dict], str | None]:
    """(headers for the browser, its cookies as ``set_cookie`` arguments, rewritten Location or None)."""
    out: list[tuple[str, str]] = []
    cookies: list[dict] = []
    location = None
    for item in headers or []:
        if not (isinstance(item, (list, tuple)) and len(item) == 2):
            continue
        name, value = str(item[0]), str(item[1])
        if "\n" in value or "\r" in value:
            continue
        lower = name.lower()
        if lower == "location":
            location = rewrite_location(value, token)
        elif lower == "set-cookie":
            cookie = rewrite_set_cookie(value, token)
            if cookie:
                cookies.append(cookie)
        elif lower in RESPONSE_HEADERS:
            out.append((name, value[:2000]))
    return out, cookies, location
