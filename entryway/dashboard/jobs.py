"""Long operations with live progress: one mechanism for exports, One Time AutoP batches and bulk orders.

A kind of job registers how it runs (``run``: a background task that reports progress as it goes)
and/or how its progress is read (``refresh``: progress that happens elsewhere, e.g. devices
confirming actions). The portal shows any job at ``/jobs/<id>/``, refreshed every second by htmx
like a MAC import, and its result (a message, a link, a file to download) when it is done.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation

from entryway.dashboard.choices import JobStatus
from entryway.dashboard.models import Job

Progress = Callable[[int, int], None]  # (processed, total)


@dataclass
class JobKind:
    # Does the work: (job, progress) -> result dict, or a ValidationError whose messages are shown.
    run: Callable[[Job, Progress], dict] | None = None
    # Reads progress made elsewhere; updates the job (status, processed, result) and saves it.
    refresh: Callable[[Job], None] | None = None


JOB_KINDS: dict[str, JobKind] = {}


def register_job_kind(kind: str, *, run=None, refresh=None) -> None:
    JOB_KINDS[kind] = JobKind(run=run, refresh=refresh)


def job_start(*, acting_user, kind: str, title: str, params: dict | None = None, total: int = 0) -> Job:
    """Record a job; one with a runner is handed to a Huey consumer once the transaction commits."""
    if kind not in JOB_KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job.objects.create(created_by=acting_user, kind=kind, title=title[:200], params=params or {}, total=total)
    if JOB_KINDS[kind].run is not None:
        from entryway.dashboard.tasks import run_job_task

        job_id = job.pk
        transaction.on_commit(lambda: run_job_task(job_id))
    else:
        Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
        job.status = JobStatus.RUNNING
    return job


def job_run(*, job_id: int) -> Job | None:
    """Run a pending job once (a second run does nothing); progress is saved as it goes."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != JobStatus.PENDING:
            return job
        job.status = JobStatus.RUNNING
        job.save(update_fields=["status"])
    kind = JOB_KINDS[job.kind]

    def progress(processed: int, total: int) -> None:
        job.processed, job.total = processed, total
        Job.objects.filter(pk=job.pk).update(processed=processed, total=total)

    try:
        # the result (its message, its link's label) is read by the account that started the job
        with translation.override(getattr(job.created_by, "language", "") or None):
            result = kind.run(job, progress) or {}
    except ValidationError as exc:
        Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error="; ".join(exc.messages)[:500],
                                             finished_at=timezone.now())
    except Exception as exc:
        Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error=type(exc).__name__,
                                             finished_at=timezone.now())
        raise
    else:
        job.status, job.result, job.finished_at = JobStatus.DONE, result, timezone.now()
        job.processed = max(job.processed, job.total)
        job.save(update_fields=["status", "result", "finished_at", "processed", "data", "file_name",
                                "content_type", "total"])
    job.refresh_from_db()
    return job


def job_refresh(job: Job) -> Job:
    """Bring a watched job up to date (jobs whose progress happens elsewhere); others are read as stored."""
    kind = JOB_KINDS.get(job.kind)
    if kind is not None and kind.refresh is not None and not job.is_finished:
        kind.refresh(job)
    return job
