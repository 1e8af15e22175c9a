"""Module pages whose full content comes with their own app; they answer with the module frame."""
from django.shortcuts import render

from entryway.core.access import installer_required


def module_page(title):
    @installer_required
    def view(request, **kwargs):
        return render(request, "web/module_pending.html", {"module_title": title})

    return view
