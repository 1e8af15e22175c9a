"""Help: the platform's manuals, read in the portal or downloaded as Markdown."""
from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe

from entryway.core.access import role_required
from entryway.portals import manuals

staff_required = role_required("admin", "distributor", "installer")


@staff_required
def help_index(request):
    contact = None
    parent = getattr(request.user, "parent", None)
    if request.user.role == "installer" and parent is not None:
        contact = parent
    return render(request, "portals/help/index.html", {"manuals": manuals.manuals_for(request.user),
                                                       "contact": contact})


def _manual_or_404(request, slug):
    manual = manuals.manual_for(request.user, slug)
    if manual is None:
        raise Http404("No such manual.")
    return manual


@staff_required
def help_manual(request, slug: str):
    manual = _manual_or_404(request, slug)
    # markdown-it renders with raw HTML off: whatever HTML a file holds comes out escaped.
    html = mark_safe(manuals.render(manual, request.user))
    return render(request, "portals/help/manual.html", {"manual": manual, "html": html,
                                                        "manuals": manuals.manuals_for(request.user)})


@staff_required
def help_download(request, slug: str):
    manual = _manual_or_404(request, slug)
    response = HttpResponse(manuals.raw(manual), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{manual.filename}"'
    return response
