from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse

# Where each role lands after logging in.
HOME_BY_ROLE = {
    "installer": "dashboard:home",
    "distributor": "portals:distributor_home",
    "admin": "portals:admin_home",
    "resident": "portals:resident_home",
}


@login_required
def home(request):
    name = HOME_BY_ROLE.get(request.user.role, "residents:list")
    try:
        return redirect(reverse(name))
    except NoReverseMatch:
        return redirect("accounts:api_tokens")
