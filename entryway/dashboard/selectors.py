"""What the installer dashboard shows. A fixed number of aggregate queries, whatever the fleet size."""
from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from entryway.dashboard.models import Alert


def dashboard_for(installer) -> dict:
    from entryway.devices.models import IntercomDevice
    from entryway.residents.models import Resident

    now = timezone.now()
    residents = Resident.objects.visible_to(installer)
    users = residents.aggregate(
        inactivated=Count("id", filter=Q(activated_at__isnull=True)),
        normal=Count("id", filter=Q(activated_at__isnull=False, expires_at__gt=now)),
        expired=Count("id", filter=Q(activated_at__isnull=False, expires_at__lte=now)),
        expiring=Count("id", filter=Q(activated_at__isnull=False, expires_at__gt=now,
                                      expires_at__lte=now + datetime.timedelta(days=30))),
    )
    expiring_soon = list(residents.filter(activated_at__isnull=False, expires_at__gt=now,
                                          expires_at__lte=now + datetime.timedelta(days=30))
                         .order_by("expires_at").only("id", "name", "expires_at", "family_sip")[:8])
    cutoff = now - datetime.timedelta(seconds=settings.DEVICE_OFFLINE_AFTER)
    devices = IntercomDevice.objects.visible_to(installer)
    fleet = devices.aggregate(online=Count("id", filter=Q(last_seen_at__gte=cutoff)), total=Count("id"))
    fleet["offline"] = fleet["total"] - fleet["online"]
    versions = list(devices.values("device_model__name", "firmware_version").annotate(n=Count("id"))
                    .order_by("device_model__name", "-n")[:60])
    # One chart for the whole fleet: a row per model and version, bars to one scale.
    top = max([row["n"] for row in versions] + [1])
    by_model: dict[str, list[dict]] = {}
    for row in versions:
        by_model.setdefault(row["device_model__name"], []).append(
            {"label": row["firmware_version"] or _("Not reported"), "value": row["n"], "tone": "primary",
             "width": round(100 * row["n"] / top, 1)})
    alerts = list(Alert.objects.filter(installer=installer, cleared_at__isnull=True)[:10])
    return {
        "users": users,
        "user_chart": _bars([(_("Inactivated"), users["inactivated"], "warn"), (_("Normal"), users["normal"], "ok"),
                             (_("Expired"), users["expired"], "danger")]),
        "expiring_soon": expiring_soon,
        "fleet": fleet,
        "fleet_chart": _bars([(_("Online"), fleet["online"], "ok"), (_("Offline"), fleet["offline"], "danger")]),
        "firmware": [{"model": model, "bars": bars} for model, bars in by_model.items()],
        "strategies": _running_strategies(installer),
        "alerts": alerts,
        "open_alert_count": Alert.objects.filter(installer=installer, cleared_at__isnull=True).count(),
    }


def _bars(rows: list[tuple[str, int, str]]) -> list[dict]:
    """Horizontal bar chart rows: label, value, tone and width in SVG units (0–100)."""
    top = max([value for _label, value, _tone in rows] + [1])
    return [{"label": label, "value": value, "tone": tone, "width": round(100 * value / top, 1)}
            for label, value, tone in rows]


def _running_strategies(installer) -> list[dict]:
    """Update strategies under way (Processing or Paused) with their progress: two queries."""
    from entryway.firmware.choices import FINAL_TARGET_STATES, StrategyStatus
    from entryway.firmware.models import UpdateStrategy, UpgradeTarget

    running = list(UpdateStrategy.objects.visible_to(installer)
                   .filter(status__in=[StrategyStatus.PROCESSING, StrategyStatus.PAUSED])
                   .select_related("device_model").order_by("-started_at", "-id")[:10])
    counts = {row["strategy_id"]: row for row in UpgradeTarget.objects.filter(strategy__in=running)
              .values("strategy_id").annotate(total=Count("id"), done=Count("id", filter=Q(
                  state__in=FINAL_TARGET_STATES))).order_by()}
    rows = []
    for strategy in running:
        row = counts.get(strategy.pk, {"total": 0, "done": 0})
        rows.append({"version": strategy.version, "model": strategy.device_model.name,
                     "status": strategy.get_status_display(), "paused": strategy.status == StrategyStatus.PAUSED,
                     "done": row["done"], "total": row["total"],
                     "percent": round(100 * row["done"] / row["total"]) if row["total"] else 0,
                     "url": reverse("firmware:strategy_detail", args=[strategy.pk])})
    return rows
