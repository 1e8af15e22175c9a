"""Loads demo data once: an admin, a distributor, an installer, residents with family members.

Each app may add its own demo data in ``<app>/demo.py`` with ``seed(ctx)``; they run in the
order of INSTALLED_APPS, after the accounts and residents below. Running it again changes nothing.
"""
from __future__ import annotations

import datetime
import importlib

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from entryway.accounts.models import Account

DEMO_PASSWORD = "entryway-demo"

RESIDENTS = [
    # name, room, email, country, mobile, language, tz, premium, activated(days left)
    ("Ryan Chen", "Ryan's house", "ryan.chen@example.com", "SG", "+6581234567", "en", "Asia/Singapore", True, 200),
    ("Marie Dubois", "Villa Les Pins", "marie.dubois@example.fr", "FR", "+33612345678", "fr", "Europe/Paris", False, 20),
    ("Jan Kowalski", "Dom 12", "jan.kowalski@example.pl", "PL", "+48512345678", "pl", "Europe/Warsaw", True, None),
    ("山田 花子", "山田邸", "hanako.yamada@example.jp", "JP", "+819012345678", "ja", "Asia/Tokyo", False, -5),
    ("Lucía García", "Casa Azul", "", "ES", "+34612345678", "es", "Europe/Madrid", False, 90),
]
FAMILY = {
    "Ryan Chen": [("Lily Chen", "lily.chen@example.com", "SG", "+6581234568"), ("Max Chen", "", "", "")],
    "Marie Dubois": [("Paul Dubois", "paul.dubois@example.fr", "FR", "+33612345679")],
    "Lucía García": [("Pablo García", "", "ES", "+34612345679")],
}


class Command(BaseCommand):
    help = "Load demo data (idempotent)."

    def handle(self, *args, **options):
        if Account.objects.filter(username="installer").exists():
            self.stdout.write("Demo data already loaded.")
            return
        with transaction.atomic():
            ctx = self._accounts_and_residents()
        for config in apps.get_app_configs():
            if not config.name.startswith("entryway."):
                continue
            try:
                module = importlib.import_module(f"{config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name == f"{config.name}.demo":
                    continue
                raise
            with transaction.atomic():
                module.seed(ctx)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))

    def _accounts_and_residents(self) -> dict:
        from entryway.residents import services

        admin = Account.objects.create_superuser("admin", "admin@example.com", DEMO_PASSWORD, name="Platform Admin")
        distributor = Account.objects.create_user(
            "distributor", "sales@distributor.example.com", DEMO_PASSWORD, role="distributor",
            name="Northwind Distribution", time_zone="Asia/Singapore", account_access_enabled=True,
        )
        installer = Account.objects.create_user(
            "installer", "ryan.installer@example.com", DEMO_PASSWORD, role="installer", name="RyanChen",
            parent=distributor, time_zone="Asia/Singapore", customer_service_phone="+6561234567",
            customer_service_email="support@installer.example.com",
        )
        installer2 = Account.objects.create_user(
            "installer2", "second.installer@example.com", DEMO_PASSWORD, role="installer", name="Second Installer",
            parent=distributor, time_zone="Europe/Paris",
        )
        residents = []
        now = timezone.now()
        for name, room, email, country, mobile, lang, tz, premium, days in RESIDENTS:
            resident = services.resident_create(
                acting_user=installer, installer=installer, name=name, room_name=room, email=email, country=country,
                mobile_number=mobile, language=lang, time_zone=tz, premium_plan=premium,
            )
            if days is not None:
                resident = services.resident_activate(
                    resident=resident, until=now + datetime.timedelta(days=days), acting_user=installer
                )
            for fname, femail, fcountry, fmobile in FAMILY.get(name, []):
                if resident.is_active_service:
                    services.family_member_create(
                        acting_user=installer, resident=resident, name=fname, email=femail, country=fcountry,
                        mobile_number=fmobile,
                    )
            residents.append(resident)
        return {"admin": admin, "distributor": distributor, "installer": installer, "installer2": installer2,
                "residents": residents, "password": DEMO_PASSWORD}
