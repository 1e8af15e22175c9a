"""Model fields shared by every app."""
from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models


def _fernet() -> Fernet:
    return Fernet(settings.FERNET_KEY)


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # a wrong ENCRYPTION_KEY must not look like an empty secret
        raise ValueError("cannot decrypt a stored secret: is ENCRYPTION_KEY the one it was written with?") from exc


class EncryptedTextField(models.TextField):
    """A secret that must be given back (camera, SIP passwords): Fernet-encrypted at rest.

    The Python value is the plain text; the database holds only the token.
    """

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)
