from django.db import models
from django.utils.translation import gettext_lazy as _


class StrategyStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # waiting for its Upgrade Time
    PROCESSING = "processing", _("Processing")  # devices are being upgraded
    PAUSED = "paused", _("Paused")  # no further wave starts until resumed
    EXECUTED = "executed", _("Executed")  # every device has a final state
    CANCELLED = "cancelled", _("Cancelled")


class StatusFilter(models.TextChoices):
    """The guide's filter of the Update list. Processing includes Paused; Executed includes Cancelled."""

    ALL = "all", _("All")
    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    EXECUTED = "executed", _("Executed")

    @classmethod
    def statuses(cls, value: str) -> list[str] | None:
        return {
            cls.PENDING: [StrategyStatus.PENDING],
            cls.PROCESSING: [StrategyStatus.PROCESSING, StrategyStatus.PAUSED],
            cls.EXECUTED: [StrategyStatus.EXECUTED, StrategyStatus.CANCELLED],
        }.get(value)


class TargetState(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    DOWNLOADING = "downloading", _("Downloading")
    INSTALLING = "installing", _("Installing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    NOT_REACHED = "not_reached", _("Not reached")
    SKIPPED = "skipped", _("Skipped")  # already on the target version
    CANCELLED = "cancelled", _("Cancelled")


OPEN_TARGET_STATES = (TargetState.WAITING, TargetState.DOWNLOADING, TargetState.INSTALLING)
FINAL_TARGET_STATES = (TargetState.SUCCEEDED, TargetState.FAILED, TargetState.NOT_REACHED, TargetState.SKIPPED,
                       TargetState.CANCELLED)
# What counts towards a wave's success and error thresholds.
GOOD_TARGET_STATES = (TargetState.SUCCEEDED, TargetState.SKIPPED)
BAD_TARGET_STATES = (TargetState.FAILED, TargetState.NOT_REACHED)

MAX_WAVES = 10
