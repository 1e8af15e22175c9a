"""Support tickets: installers open them to their distributor, who answers; both follow the thread."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from entryway.core.access import installer_required, role_required
from entryway.core.pagination import paginate
from entryway.portals import services
from entryway.portals.choices import TicketStatus
from entryway.portals.forms import ReplyForm, TicketForm, apply_errors
from entryway.portals.models import Ticket
from entryway.portals.views.common import visible_or_404

party_required = role_required("admin", "distributor", "installer")


@party_required
def ticket_list(request):
    status = request.GET.get("status", "")
    if status not in TicketStatus.values:
        status = ""
    qs = Ticket.objects.visible_to(request.user).select_related("installer")
    if status:
        qs = qs.filter(status=status)
    pageinfo = paginate(request, qs)
    return render(request, "portals/tickets/list.html", {
        "pageinfo": pageinfo, "status": status, "statuses": TicketStatus.choices})


@installer_required
@require_http_methods(["GET", "POST"])
def ticket_create(request):
    form = TicketForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = services.ticket_create(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Ticket sent to your distributor."))
            return redirect("portals:ticket_detail", pk=ticket.pk)
    return render(request, "portals/tickets/form.html", {"form": form, "distributor": request.user.parent})


@party_required
@require_http_methods(["GET", "POST"])
def ticket_detail(request, pk: int):
    ticket = visible_or_404(request, Ticket.objects.select_related("installer"), pk, "ticket")
    form = ReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.ticket_reply(acting_user=request.user, ticket=ticket, body=form.cleaned_data["body"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Reply sent."))
            return redirect("portals:ticket_detail", pk=ticket.pk)
    thread = ticket.messages.select_related("author").all()
    return render(request, "portals/tickets/detail.html", {"ticket": ticket, "thread": thread, "form": form})


@party_required
@require_POST
def ticket_close(request, pk: int):
    ticket = visible_or_404(request, Ticket.objects.all(), pk, "ticket")
    services.ticket_close(acting_user=request.user, ticket=ticket)
    messages.success(request, _("Ticket closed."))
    return redirect("portals:ticket_detail", pk=ticket.pk)
