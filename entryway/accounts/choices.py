from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Platform Admin")
    DISTRIBUTOR = "distributor", _("Distributor")
    INSTALLER = "installer", _("Single-tenant Manager")
    RESIDENT = "resident", _("Resident")
