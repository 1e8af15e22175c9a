"""Remote Control in the portal: the button, the session page, the list, and the relay itself
(``/remote/<token>/…``: the device's own web interface, passed through its tunnel)."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from entryway.core.access import DISTRIBUTOR, INSTALLER, get_visible_or_404, require_editable, role_required
from entryway.core.pagination import paginate
from entryway.devices.models import IntercomDevice
from entryway.remote import proxy, selectors, services, tunnel
from entryway.remote.choices import CloseReason, SessionState
from entryway.remote.models import RemoteSession

session_roles = role_required(INSTALLER, DISTRIBUTOR)

# Pages of the device run in a sandbox: forms and links work, scripts do not. They come from the
# platform's own address, so a device's script would otherwise act with the installer's login.
PROXY_CSP = ("sandbox allow-forms allow-same-origin allow-popups allow-downloads; default-src 'self'; "
             "script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
             "frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'")
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
METHODS = {"GET", "HEAD", *UNSAFE_METHODS}


def _session(request, token: str) -> RemoteSession:
    return get_visible_or_404(RemoteSession.objects.select_related("device", "opened_by", "installer"),
                              request.user, token=token)


# -- the button, the session page, the list ---------------------------------------------------------------

@role_required(INSTALLER)
@require_POST
def session_open(request, pk: int):
    device = get_visible_or_404(IntercomDevice, request.user, pk=pk)
    require_editable(request.user, device)
    try:
        session = services.session_open(acting_user=request.user, device=device)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("deviceapi:device_info", pk=device.pk)
    return redirect("remote:session_detail", token=session.token)


def _detail_context(session: RemoteSession) -> dict:
    state = session.state()
    return {"session": session, "device": session.device, "state": state, "state_label": SessionState(state).label,
            "proxy_url": proxy.prefix(session.token), "is_open": session.is_open(),
            "connect_timeout": settings.REMOTE_CONNECT_TIMEOUT, "poll_interval": settings.DEVICE_POLL_INTERVAL,
            "close_reason": CloseReason(session.close_reason).label if session.close_reason else ""}


@session_roles
def session_detail(request, token: str):
    session = _session(request, token)
    if session.closed_at is None and not session.is_open():
        session = services.session_close(session=session, reason=CloseReason.EXPIRED)
    return render(request, "remote/session_detail.html", _detail_context(session))


@session_roles
def session_status(request, token: str):
    """The session's status card; the page reloads itself when the state changes (e.g. device connected)."""
    session = _session(request, token)
    if session.closed_at is None and not session.is_open():
        session = services.session_close(session=session, reason=CloseReason.EXPIRED)
    context = _detail_context(session)
    response = render(request, "remote/includes/session_status.html", context)
    if request.GET.get("shown") and request.GET["shown"] != context["state"]:
        response["HX-Refresh"] = "true"
    return response


@session_roles
@require_POST
def session_close(request, token: str):
    session = _session(request, token)
    if session.closed_at is None:
        services.session_close(session=session, reason=CloseReason.INSTALLER, acting_user=request.user)
        messages.success(request, _("Remote Control session closed."))
    return redirect("remote:session_detail", token=session.token)


@session_roles
def session_list(request):
    return render(request, "remote/session_list.html",
                  {"pageinfo": paginate(request, selectors.session_list(request.user))})


# -- the relay ----------------------------------------------------------------------------------------------

def _problem(request, session: RemoteSession, status: int, title: str, text: str) -> HttpResponse:
    content = render_to_string("remote/proxy_problem.html", {"session": session, "title": title, "text": text},
                               request=request)
    response = HttpResponse(content, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _same_origin(request) -> bool:
    """A form posted to the device must come from the platform's own pages (the relay has no CSRF token)."""
    origin = request.headers.get("Origin")
    if origin:
        return origin == f"{request.scheme}://{request.get_host()}" or origin in settings.CSRF_TRUSTED_ORIGINS
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


def _closed_problem(request, session):
    if session.closed_at is None or session.close_reason == CloseReason.EXPIRED:
        return _problem(request, session, 410, _("This Remote Control session has expired"),
                        _("Sessions last %(n)s minutes at most. Open a new one from the device's Settings.") % {
                            "n": settings.REMOTE_SESSION_MAX_SECONDS // 60})
    return _problem(request, session, 410, _("This Remote Control session is closed"),
                    _("It ended: %(reason)s. Open a new one from the device's Settings.") % {
                        "reason": CloseReason(session.close_reason).label})


def _body(request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit``."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@csrf_exempt
@session_roles
def relay(request, token: str, path: str = ""):
    """One request of the browser, passed to the device and its answer back."""
    session = _session(request, token)
    if not session.is_open():
        if session.closed_at is None:
            session = services.session_close(session=session, reason=CloseReason.EXPIRED)
        return _closed_problem(request, session)
    if request.method not in METHODS:
        return _problem(request, session, 405, _("Not supported"),
                        _("Remote Control passes GET, HEAD, POST, PUT, PATCH and DELETE requests."))
    if request.method in UNSAFE_METHODS and not _same_origin(request):
        raise PermissionDenied("Forms for the device must be sent from the platform's own pages.")
    limit = settings.REMOTE_MAX_BODY_BYTES
    body = _body(request, limit)
    if body is None:
        return _problem(request, session, 413, _("Too large for Remote Control"),
                        _("The request is larger than the tunnel carries (%(size)s at most).") % {
                            "size": filesizeformat(limit)})
    full = request.get_full_path()
    base = proxy.prefix(session.token)
    target = "/" + full[len(base):] if full.startswith(base) else "/"
    with tunnel.waiting_slot() as allowed:
        if not allowed:
            response = _problem(request, session, 503, _("Remote Control is busy"),
                                _("The server is relaying as many requests as it can. Try again in a moment."))
            response["Retry-After"] = "2"
            return response
        request_id = tunnel.request_submit(session=session, method=request.method, target=target[:4000],
                                           headers=proxy.request_headers(request), body=body)
        answer = tunnel.request_wait(request_id, timeout=settings.REMOTE_REQUEST_TIMEOUT)
    if answer is None:
        session.refresh_from_db()
        if not session.is_open():
            return _closed_problem(request, session)
        if session.connected_at is None:
            return _problem(request, session, 504, _("The device did not connect"),
                            _("No tunnel from the device arrived within %(n)s seconds. The device may be offline; "
                              "it receives the request at its next check-in. Try again later, or close the session.")
                            % {"n": settings.REMOTE_REQUEST_TIMEOUT})
        return _problem(request, session, 504, _("The device did not answer"),
                        _("The device is connected but did not answer within %(n)s seconds. Try again.") % {
                            "n": settings.REMOTE_REQUEST_TIMEOUT})
    headers, cookies, location = proxy.response_headers(answer.response_headers, session.token)
    content = bytes(answer.response_body or b"")
    if any(k.lower() == "x-remote-problem" for k, _v in answer.response_headers or []):
        return _problem(request, session, 502, _("Too large for Remote Control"), content.decode("utf-8", "replace"))
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "application/octet-stream")
    if content_type.startswith("text/html"):
        content = proxy.rewrite_page(content, session.token)
    elif content_type.startswith("text/css"):
        content = proxy.rewrite_style(content, session.token)
    response = HttpResponse(content, status=answer.status)
    for name, value in headers:
        response[name] = value
    if location:
        response["Location"] = location
    for cookie in cookies:
        response.set_cookie(cookie.pop("key"), cookie.pop("value"), httponly=True, samesite="Lax",
                            secure=request.is_secure(), **cookie)
    response["Content-Security-Policy"] = PROXY_CSP
    response["X-Frame-Options"] = "SAMEORIGIN"
    if "Cache-Control" not in response:
        response["Cache-Control"] = "private, no-cache"
    return response
