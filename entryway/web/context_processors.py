from __future__ import annotations

from django.conf import settings

from entryway.web.navigation import sidebar_for


def portal(request):
    user = getattr(request, "user", None)
    context = {"LANGUAGES": settings.LANGUAGES}
    if user is not None and user.is_authenticated:
        context["sidebar"] = sidebar_for(user, request.path)
        context["role_label"] = user.get_role_display()
        context["impersonator"] = getattr(request, "impersonator", None)
        if user.role == "installer":
            from entryway.dashboard.services import OPEN_ALERTS_LABEL, open_alert_count

            context["open_alerts"] = open_alert_count(user.pk)
            context["open_alerts_label"] = OPEN_ALERTS_LABEL
    return context
