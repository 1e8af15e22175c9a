"""Reads of the User module that depend on who asks."""
from __future__ import annotations

from django.db.models import QuerySet

from entryway.residents.choices import ActiveStatus
from entryway.residents.models import FamilyMember, Resident

# The User list's columns (and what its Action column needs): nothing else is loaded.
LIST_FIELDS = (
    "id", "installer_id", "name", "room_name", "email", "mobile_number", "address", "family_sip", "personal_sip",
    "family_member_count", "family_member_limit", "home_automation", "premium_plan", "landline_service",
    "activated_at", "expires_at", "landline_activated_at", "landline_expires_at", "created_at",
)
SEARCH_MAX_LENGTH = 100


def clean_search(raw: str | None) -> str:
    """Search text as the list and the API take it: trimmed, bounded, without NUL characters."""
    return (raw or "").replace("\x00", "").strip()[:SEARCH_MAX_LENGTH]


def resident_list(user, *, q: str = "", status: str = "") -> QuerySet[Resident]:
    """The caller's users: search by Name, Email, Mobile Number, Family SIP or SIP; filter by Active status."""
    qs = Resident.objects.visible_to(user).search(clean_search(q))
    if status in ActiveStatus.values:
        qs = qs.with_status(status)
    return qs.order_by("-created_at", "-id")


def family_member_list(user, resident: Resident) -> QuerySet[FamilyMember]:
    return FamilyMember.objects.visible_to(user).filter(resident=resident).order_by("created_at", "id")
