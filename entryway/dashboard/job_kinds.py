"""The long operations that show live progress in the portal (see ``jobs.py``).

- ``export``: a large export is written in the background (``exports.run_export_job``).
- ``autop_batch``: a One Time AutoP sent to many devices; progress is the devices confirming it.
- ``order``: an order for many users is made in the background, then paid as usual.
"""
from __future__ import annotations

import datetime

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from entryway.dashboard.choices import JobStatus
from entryway.dashboard.exports import run_export_job
from entryway.dashboard.jobs import job_start, register_job_kind
from entryway.dashboard.models import Job

# --------------------------------------------------------------------------- One Time AutoP batch


def autop_batch_watch(*, acting_user, device_ids, since: datetime.datetime) -> Job:
    """Follow the One Time AutoP actions just made for these devices until every device has answered."""
    from entryway.deviceapi.models import DeviceAction

    ids = sorted(set(DeviceAction.objects.filter(
        kind="autop", created_by=acting_user, device_id__in=[int(i) for i in device_ids], created_at__gte=since,
    ).values_list("pk", flat=True)))
    return job_start(acting_user=acting_user, kind="autop_batch", total=len(ids),
                     title=_("One Time AutoP to %(n)s device(s)") % {"n": len(ids)},
                     params={"action_ids": ids, "back": reverse("deviceapi:batch_autop")})


def _refresh_autop_batch(job: Job) -> None:
    from entryway.deviceapi.choices import FINAL_STATUSES, ActionStatus
    from entryway.deviceapi.models import DeviceAction

    by_status = dict(DeviceAction.objects.filter(pk__in=job.params.get("action_ids", []))
                     .values_list("status").annotate(n=Count("id")).order_by())
    job.processed = sum(by_status.get(s, 0) for s in FINAL_STATUSES)
    job.result = {"counts": [[str(label), by_status.get(value, 0)] for value, label in ActionStatus.choices
                             if by_status.get(value)]}
    fields = ["processed", "result"]
    if job.processed >= job.total:
        ok = by_status.get(ActionStatus.SUCCESS, 0)
        job.status, job.finished_at = JobStatus.DONE, timezone.now()
        job.result["message"] = _("%(ok)s of %(n)s device(s) applied the One Time AutoP.") % {"ok": ok, "n": job.total}
        fields += ["status", "finished_at"]
    Job.objects.filter(pk=job.pk).update(**{f: getattr(job, f) for f in fields})


# --------------------------------------------------------------------------- bulk orders


def order_start(*, acting_user, order_type: str, resident_ids, months: int, apps_per_user: int, back: str) -> Job:
    """An order for many users, made by a Huey consumer; the job's page then leads to paying it."""
    ids = [str(i) for i in resident_ids]
    return job_start(acting_user=acting_user, kind="order", total=len(set(ids)),
                     title=_("Order for %(n)s users") % {"n": len(set(ids))},
                     params={"order_type": order_type, "resident_ids": ids, "months": months,
                             "apps_per_user": apps_per_user, "back": back})


def _run_order(job: Job, progress) -> dict:
    from entryway.billing.services import order_create

    params = job.params
    progress(0, job.total)
    order = order_create(acting_user=job.created_by, order_type=params["order_type"],
                         resident_ids=params["resident_ids"], months=params["months"],
                         apps_per_user=params["apps_per_user"])
    progress(order.households, order.households)
    return {"message": _("Order %(number)s for %(n)s users is ready: %(price)s %(currency)s to pay.") % {
                "number": order.number, "n": order.households, "price": order.final_price,
                "currency": order.currency},
            "link": reverse("billing:payment_information", kwargs={"number": order.number}), "link_label": _("Pay")}


register_job_kind("export", run=run_export_job)
register_job_kind("autop_batch", refresh=_refresh_autop_batch)
register_job_kind("order", run=_run_order)
