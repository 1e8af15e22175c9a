from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from entryway.core.access import get_visible_or_404, installer_required, resident_required
from entryway.core.pagination import paginate
from entryway.messaging import selectors, services
from entryway.messaging.choices import ReadFilter
from entryway.messaging.forms import SEARCH_FIELDS, IdListField, MessageForm
from entryway.messaging.models import InboxItem, Message


def _search_params(request) -> tuple[str, str]:
    field = request.GET.get("field", "message")
    if field not in dict(SEARCH_FIELDS):
        field = "message"
    return (request.GET.get("q") or "").strip()[:100], field


@installer_required
def message_list(request):
    q, field = _search_params(request)
    pageinfo = paginate(request, selectors.message_list(request.user, q=q, field=field))
    return render(request, "messaging/message_list.html", {
        "pageinfo": pageinfo, "q": q, "field": field, "search_fields": SEARCH_FIELDS,
    })


def _selected_ids(data) -> list[int]:
    try:
        return IdListField().to_python(data.getlist("receivers"))
    except ValidationError:
        return []


def _receiver_context(request, q: str, selected: list[int]) -> dict:
    candidates, matching = selectors.receiver_candidates(request.user, q=q)
    shown = {r.pk for r in candidates}
    kept = [r for r in selectors.residents_by_ids(request.user, selected) if r.pk not in shown]
    return {
        "receiver_q": q,
        "candidates": candidates,
        "kept": kept,
        "matching": matching,
        "limited": matching > len(candidates),
        "selected": set(selected),
        "selected_count": len(kept) + sum(1 for r in candidates if r.pk in selected),
    }


@installer_required
@require_http_methods(["GET", "POST"])
def message_create(request):
    q = (request.POST.get("q", request.GET.get("q", "")) or "").strip()[:100]
    if request.method == "POST" and request.POST.get("action") != "search":
        form = MessageForm(request.POST)
        if form.is_valid():
            try:
                message = services.message_create(acting_user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(name if name in form.fields else None, error)
            else:
                messages.success(request, _("Message sent."))
                return redirect("messaging:detail", pk=message.pk)
    elif request.method == "POST":
        # The Search button of the receiver list (works without JavaScript): keep what was typed.
        form = MessageForm(initial={k: request.POST.get(k) for k in ("title", "body", "receiver_type")}
                           | {"send_email": request.POST.get("send_email") == "on"})
    else:
        form = MessageForm()
    selected = _selected_ids(request.POST) if request.method == "POST" else []
    context = {"form": form, **_receiver_context(request, q, selected)}
    return render(request, "messaging/message_form.html", context)


@installer_required
def receiver_search(request):
    """The receiver table alone, for the search box's live refresh (htmx)."""
    q = (request.GET.get("q") or "").strip()[:100]
    context = _receiver_context(request, q, _selected_ids(request.GET))
    return render(request, "messaging/includes/receiver_table.html", context)


@installer_required
def message_detail(request, pk: int):
    message = get_visible_or_404(Message, request.user, pk=pk)
    pageinfo = paginate(request, message.receivers.all(), count=message.receiver_count)
    reports = selectors.receiver_reports(message, list(pageinfo.object_list))
    return render(request, "messaging/message_detail.html", {
        "message": message, "pageinfo": pageinfo, "reports": reports, "totals": selectors.message_totals(message),
    })


@installer_required
@require_http_methods(["GET", "POST"])
def message_delete(request, pk: int):
    message = get_visible_or_404(Message, request.user, pk=pk)
    if request.method == "POST":
        services.message_delete(acting_user=request.user, message=message)
        messages.success(request, _("Message deleted."))
        return redirect("messaging:list")
    consequences = [_("It disappears from the Message list and from the users' app inboxes.")]
    if message.monitor_count:
        consequences.append(_("Indoor monitors that have not displayed it yet will not receive it."))
    return render(request, "includes/confirm_delete.html", {
        "object_label": f"“{message.title}”", "consequences": consequences,
        "cancel_url": reverse("messaging:list"),
    })


@resident_required
def inbox(request):
    status = request.GET.get("status", ReadFilter.ALL)
    if status not in ReadFilter.values:
        status = ReadFilter.ALL
    pageinfo = paginate(request, selectors.inbox_for(request.user, status=status))
    return render(request, "messaging/inbox.html", {
        "pageinfo": pageinfo, "status": status, "filters": ReadFilter.choices,
        "unread": selectors.unread_count(request.user),
    })


@resident_required
def inbox_detail(request, pk: int):
    item = get_visible_or_404(InboxItem.objects.select_related("message", "installer"), request.user, message_id=pk)
    services.inbox_item_mark_read(account=request.user, item=item)
    return render(request, "messaging/inbox_detail.html", {"item": item, "message": item.message})
