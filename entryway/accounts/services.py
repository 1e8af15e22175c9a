"""Writes on accounts. Every change is audited."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from entryway.accounts.models import Account, ApiToken
from entryway.core.audit import audit


def password_setup_url(account: Account) -> str:
    uid = urlsafe_base64_encode(force_bytes(account.pk))
    token = default_token_generator.make_token(account)
    path = reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


# Subject template of each kind of set-password e-mail; the body template is shared.
PASSWORD_MAIL_SUBJECTS = {
    "setup": "accounts/email/password_setup_subject.txt",
    "reset": "accounts/email/password_reset_by_installer_subject.txt",
}


def send_password_setup_email(*, account: Account, language: str | None = None, name: str | None = None,
                              purpose: str = "setup") -> bool:
    """E-mail an account a link to set its password, in the given (or its own) language.

    ``purpose`` "setup" welcomes a new account; "reset" tells the account its installer reset the password.
    """
    if not account.email:
        return False
    if purpose not in PASSWORD_MAIL_SUBJECTS:
        raise ValueError(f"unknown purpose {purpose!r}")
    language = language or account.language or "en"
    with translation.override(language):
        context = {
            "name": name or account.display_name,
            "username": account.username,
            "url": password_setup_url(account),
            "platform": "entryway",
            "purpose": purpose,
        }
        subject = render_to_string(PASSWORD_MAIL_SUBJECTS[purpose], context).strip()
        body = render_to_string("accounts/email/password_setup_body.txt", context)
    send_mail(subject, body, None, [account.email])
    return True


@transaction.atomic
def api_token_create(*, acting_user: Account, name: str) -> tuple[ApiToken, str]:
    raw, prefix, token_hash = ApiToken.generate()
    token = ApiToken(account=acting_user, name=name.strip(), prefix=prefix, token_hash=token_hash)
    token.full_clean()
    token.save()
    audit(acting_user=acting_user, action="api_token.create", obj=token, installer=_tenant_of(acting_user),
          after={"name": token.name, "prefix": prefix})
    return token, raw


@transaction.atomic
def api_token_revoke(*, acting_user: Account, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit(acting_user=acting_user, action="api_token.revoke", obj=token, installer=_tenant_of(acting_user),
              before={"revoked_at": None}, after={"revoked_at": token.revoked_at})
    return token


def _tenant_of(account: Account):
    return account if account.role == "installer" else None
