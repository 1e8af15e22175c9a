"""Demo data of the User module, on top of the users seed_demo creates: a household with Home
AutoMation (the Smart Home icon), one with a landline, and a family at its limit."""
from __future__ import annotations

import datetime

from django.utils import timezone


def seed(ctx) -> None:
    from entryway.portals.services import account_preferences_update
    from entryway.residents import services

    installer = ctx["installer"]
    if not installer.smart_home_url:
        account_preferences_update(acting_user=installer, language=installer.language,
                                   time_zone=installer.time_zone, smart_home_url="https://home.example.com/")
    now = timezone.now()
    smart = services.resident_create(
        acting_user=installer, installer=installer, name="Nguyễn Văn An", room_name="Biệt thự 7",
        email="an.nguyen@example.vn", country="VN", mobile_number="+84912345678", address="7 Lê Lợi, Đà Nẵng",
        language="vi", time_zone="Asia/Ho_Chi_Minh", home_automation=True, call_type="ip",
    )
    services.resident_activate(resident=smart, until=now + datetime.timedelta(days=120), acting_user=installer)
    landline = services.resident_create(
        acting_user=installer, installer=installer, name="Søren Jensen", room_name="Hus 3", email="soren@example.dk",
        country="DK", mobile_number="+4520123456", language="da", time_zone="Europe/Copenhagen",
        premium_plan=True, landline_service=True, landline_1="+4533123456",
    )
    landline = services.resident_activate(resident=landline, until=now + datetime.timedelta(days=300),
                                          acting_user=installer)
    for name in ("Mette Jensen", "Freja Jensen", "Oscar Jensen"):
        services.family_member_create(acting_user=installer, resident=landline, name=name)
    ctx.setdefault("residents", []).extend([smart, landline])
