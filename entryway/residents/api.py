"""Users (residents) and their family members in the user API. SIP passwords never leave the platform."""
from __future__ import annotations

import datetime
from typing import Literal

from django.http import Http404
from ninja import Field, Path, Query, Router, Schema, Status

from entryway.api.auth import installer_auth
from entryway.api.schemas import COMMON_ERRORS, Error, Page, paginate_queryset
from entryway.core.access import get_visible_or_404
from entryway.residents import selectors, services
from entryway.residents.models import FamilyMember, Resident

router = Router(tags=["Residents"])

# Routes with a JSON body also answer 400 when the body is not JSON at all.
BODY_ERRORS = {400: Error, **COMMON_ERRORS}

MAX_ID = 2**63 - 1
CallTypeValue = Literal["sip", "ip"]


class ResidentOut(Schema):
    id: int
    uid: str = Field(..., description="The user's UID: their Family SIP number.")
    name: str
    room_name: str
    email: str
    country: str = Field(..., description="Country / Region, ISO 3166 code (e.g. FR).")
    mobile_number: str = Field(..., description="E.164, e.g. +33612345678.")
    address: str
    call_type: str = Field(..., description="`sip` (devices in different places) or `ip` (one local network).")
    time_zone: str
    language: str
    landline_1: str
    landline_2: str
    landline_3: str
    home_automation: bool
    premium_plan: bool
    landline_service: bool
    family_sip: str
    personal_sip: str
    active_status: str = Field(..., description="inactivated, normal or expired")
    landline_status: str = Field(..., description="off, inactivated, normal or expired")
    family_member_count: int
    family_member_limit: int
    created_at: datetime.datetime
    activated_at: datetime.datetime | None
    expires_at: datetime.datetime | None
    landline_expires_at: datetime.datetime | None


class ResidentPatch(Schema):
    """Fields to change; those left out keep their value. Rules are the portal's (Add User)."""

    name: str | None = Field(None, description="Required, 64 characters at most.")
    room_name: str | None = None
    email: str | None = Field(None, description="A set-password e-mail goes to a new address.")
    country: str | None = Field(None, description="Country / Region (ISO code); the Mobile Number must belong to it.")
    mobile_number: str | None = None
    address: str | None = None
    call_type: CallTypeValue | None = None
    time_zone: str | None = Field(None, description="IANA name; empty means the installer's time zone.")
    language: str | None = Field(None, description="en, zh-hans, ko, ja, tr, pl, ru, es, bs, da, vi or fr.")
    landline_1: str | None = None
    landline_2: str | None = None
    landline_3: str | None = None
    home_automation: bool | None = Field(None, description="Cannot be on together with premium_plan.")
    premium_plan: bool | None = None
    landline_service: bool | None = Field(None, description="Needs premium_plan and a landline number.")


class ResidentIn(Schema):
    """A whole user (create, replace)."""

    name: str = Field(..., description="Required, 64 characters at most.")
    room_name: str = ""
    email: str = Field("", description="With an address, the user gets an e-mail to set their password.")
    country: str = Field("", description="Country / Region (ISO code); the Mobile Number must belong to it.")
    mobile_number: str = ""
    address: str = ""
    call_type: CallTypeValue = "sip"
    time_zone: str = Field("", description="IANA name; empty means the installer's time zone.")
    language: str = Field("en", description="en, zh-hans, ko, ja, tr, pl, ru, es, bs, da, vi or fr.")
    landline_1: str = ""
    landline_2: str = ""
    landline_3: str = ""
    home_automation: bool = Field(False, description="Cannot be on together with premium_plan.")
    premium_plan: bool = False
    landline_service: bool = Field(False, description="Needs premium_plan and a landline number.")


class FamilyMemberOut(Schema):
    id: int
    resident_id: int
    name: str
    email: str
    country: str
    mobile_number: str
    personal_sip: str
    created_at: datetime.datetime


class FamilyMemberIn(Schema):
    name: str = Field(..., description="Required, 64 characters at most.")
    email: str = Field("", description="With an address, the member gets an e-mail to set their password.")
    country: str = ""
    mobile_number: str = ""


class FamilyMemberPatch(Schema):
    name: str | None = None
    email: str | None = None
    country: str | None = None
    mobile_number: str | None = None


class ResidentListQuery(Schema):
    q: str = Field("", max_length=100, description="Name, Email, Mobile Number, Family SIP or SIP number")
    status: Literal["", "inactivated", "normal", "expired"] = Field("", description="Active status")
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(20, ge=1, le=100)


class PageQuery(Schema):
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(20, ge=1, le=100)


def _resident_out(r: Resident) -> dict:
    out = {name: getattr(r, name) for name in ResidentOut.model_fields if hasattr(r, name)}
    out["active_status"] = r.active_status
    out["landline_status"] = r.landline_status
    return out


def _member_out(m: FamilyMember) -> dict:
    return {name: getattr(m, name) for name in FamilyMemberOut.model_fields}


def _resident(request, resident_id: int) -> Resident:
    if not 1 <= resident_id <= MAX_ID:
        raise Http404
    return get_visible_or_404(Resident, request.auth, pk=resident_id)


def _member(request, member_id: int) -> FamilyMember:
    if not 1 <= member_id <= MAX_ID:
        raise Http404
    return get_visible_or_404(FamilyMember.objects.select_related("resident"), request.auth, pk=member_id)


@router.get("/residents", auth=installer_auth, response={200: Page[ResidentOut], **COMMON_ERRORS},
            summary="List users")
def list_residents(request, query: Query[ResidentListQuery]):
    qs = selectors.resident_list(request.auth, q=query.q, status=query.status)
    count, items = paginate_queryset(qs, query.page, query.per_page)
    return Status(200, {"count": count, "page": query.page, "per_page": query.per_page,
                        "items": [_resident_out(r) for r in items]})


@router.post("/residents", auth=installer_auth, response={201: ResidentOut, **BODY_ERRORS},
             summary="Add a user")
def create_resident(request, data: ResidentIn):
    resident = services.resident_create(acting_user=request.auth, installer=request.auth, **data.dict())
    return Status(201, _resident_out(resident))


@router.get("/residents/{resident_id}", auth=installer_auth, response={200: ResidentOut, **COMMON_ERRORS},
            summary="A user")
def get_resident(request, resident_id: int = Path(...)):
    return Status(200, _resident_out(_resident(request, resident_id)))


@router.put("/residents/{resident_id}", auth=installer_auth, response={200: ResidentOut, **BODY_ERRORS},
            summary="Replace a user's details")
def replace_resident(request, data: ResidentIn, resident_id: int = Path(...)):
    resident = services.resident_update(acting_user=request.auth, resident=_resident(request, resident_id),
                                        **data.dict())
    return Status(200, _resident_out(resident))


@router.patch("/residents/{resident_id}", auth=installer_auth, response={200: ResidentOut, **BODY_ERRORS},
              summary="Change some of a user's details")
def update_resident(request, data: ResidentPatch, resident_id: int = Path(...)):
    changes = {k: v for k, v in data.dict(exclude_unset=True).items() if v is not None}
    resident = services.resident_update(acting_user=request.auth, resident=_resident(request, resident_id),
                                        **changes)
    return Status(200, _resident_out(resident))


@router.delete("/residents/{resident_id}", auth=installer_auth, response={204: None, **COMMON_ERRORS},
               summary="Delete a user, their family members and cameras; unbind their devices")
def delete_resident(request, resident_id: int = Path(...)):
    services.resident_delete(acting_user=request.auth, resident=_resident(request, resident_id))
    return Status(204, None)


@router.get("/residents/{resident_id}/family-members", auth=installer_auth,
            response={200: Page[FamilyMemberOut], **COMMON_ERRORS}, summary="A user's family members")
def list_family_members(request, query: Query[PageQuery], resident_id: int = Path(...)):
    resident = _resident(request, resident_id)
    count, items = paginate_queryset(selectors.family_member_list(request.auth, resident), query.page,
                                     query.per_page)
    return Status(200, {"count": count, "page": query.page, "per_page": query.per_page,
                        "items": [_member_out(m) for m in items]})


@router.post("/residents/{resident_id}/family-members", auth=installer_auth,
             response={201: FamilyMemberOut, **BODY_ERRORS},
             summary="Add a family member (the user must be activated and under their limit)")
def create_family_member(request, data: FamilyMemberIn, resident_id: int = Path(...)):
    member = services.family_member_create(acting_user=request.auth, resident=_resident(request, resident_id),
                                           **data.dict())
    return Status(201, _member_out(member))


@router.get("/family-members/{member_id}", auth=installer_auth, response={200: FamilyMemberOut, **COMMON_ERRORS},
            summary="A family member")
def get_family_member(request, member_id: int = Path(...)):
    return Status(200, _member_out(_member(request, member_id)))


@router.put("/family-members/{member_id}", auth=installer_auth, response={200: FamilyMemberOut, **BODY_ERRORS},
            summary="Replace a family member's details")
def replace_family_member(request, data: FamilyMemberIn, member_id: int = Path(...)):
    member = services.family_member_update(acting_user=request.auth, member=_member(request, member_id),
                                           **data.dict())
    return Status(200, _member_out(member))


@router.patch("/family-members/{member_id}", auth=installer_auth,
              response={200: FamilyMemberOut, **BODY_ERRORS}, summary="Change some of a family member's details")
def update_family_member(request, data: FamilyMemberPatch, member_id: int = Path(...)):
    changes = {k: v for k, v in data.dict(exclude_unset=True).items() if v is not None}
    member = services.family_member_update(acting_user=request.auth, member=_member(request, member_id), **changes)
    return Status(200, _member_out(member))


@router.delete("/family-members/{member_id}", auth=installer_auth, response={204: None, **COMMON_ERRORS},
               summary="Delete a family member")
def delete_family_member(request, member_id: int = Path(...)):
    services.family_member_delete(acting_user=request.auth, member=_member(request, member_id))
    return Status(204, None)
