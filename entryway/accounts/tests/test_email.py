"""Account e-mails: a new user or family member gets a set-password link in their own language."""
from __future__ import annotations

import re

import pytest
from django.core import mail

from entryway.accounts.services import send_password_setup_email
from entryway.residents.services import family_member_create, resident_reset_password

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    def run(fn, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return run


def test_english_welcome_mail_with_a_working_link(client, installer, make_resident, on_commit):
    resident = on_commit(make_resident, installer=installer, name="Ryan", email="ryan@example.com")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Your entryway account is ready" and message.to == ["ryan@example.com"]
    assert "Hello Ryan," in message.body and f"Your username: {resident.personal_sip}" in message.body
    link = re.search(r"https?://[^/\s]+(/reset/\S+/)", message.body).group(1)
    page = client.get(link, follow=True)
    assert "Set Password" in page.content.decode()
    password = "Front-door passphrase 9"
    client.post(page.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})
    resident.account.refresh_from_db()
    assert resident.account.check_password(password)


def test_french_resident_gets_french_mail(installer, make_resident, on_commit):
    on_commit(make_resident, installer=installer, name="Marie", email="marie@example.fr", language="fr")
    message = mail.outbox[0]
    assert message.subject == "Votre compte entryway est prêt"
    assert "Bonjour Marie," in message.body
    assert "Un compte a été créé pour vous sur entryway." in message.body
    assert "Votre nom d’utilisateur" in message.body and "« Mot de passe oublié ? »" in message.body


def test_japanese_resident_gets_japanese_mail(installer, make_resident, on_commit):
    on_commit(make_resident, installer=installer, name="山田", email="yamada@example.jp", language="ja")
    message = mail.outbox[0]
    assert message.subject == "entryway アカウントの準備ができました"
    assert "山田 様" in message.body and "ユーザー名:" in message.body and "パスワードをお忘れですか？" in message.body


def test_family_member_gets_the_households_language(installer, make_resident, activate, on_commit):
    host = activate(make_resident(installer, name="Jan", language="pl"))
    on_commit(family_member_create, acting_user=installer, resident=host, name="Ola", email="ola@example.pl")
    message = mail.outbox[-1]
    assert message.to == ["ola@example.pl"] and message.subject == "Twoje konto entryway jest gotowe"
    assert "Dzień dobry, Ola," in message.body


def test_installer_reset_mail_in_the_users_language(installer, make_resident, on_commit):
    resident = on_commit(make_resident, installer=installer, name="Иван", email="ivan@example.ru", language="ru")
    mail.outbox.clear()
    on_commit(resident_reset_password, acting_user=installer, resident=resident)
    message = mail.outbox[0]
    assert message.subject == "Сброс пароля entryway"
    assert "Ваш монтажник сбросил пароль" in message.body


def test_no_email_no_mail(installer, make_resident, on_commit):
    resident = on_commit(make_resident, installer=installer, name="Offline")
    assert resident.account is None and not mail.outbox


@pytest.mark.parametrize("language, subject", [
    ("en", "Your entryway account is ready"), ("zh-hans", "您的 entryway 账号已就绪"),
    ("ko", "entryway 계정이 준비되었습니다"), ("ja", "entryway アカウントの準備ができました"),
    ("tr", "entryway hesabınız hazır"), ("pl", "Twoje konto entryway jest gotowe"),
    ("ru", "Ваш аккаунт entryway готов"), ("es", "Su cuenta de entryway está lista"),
    ("bs", "Vaš entryway račun je spreman"), ("da", "Din entryway-konto er klar"),
    ("vi", "Tài khoản entryway của bạn đã sẵn sàng"), ("fr", "Votre compte entryway est prêt"),
])
def test_every_language_has_its_own_mail(make_account, language, subject):
    account = make_account("resident", username=f"r-{language}", language=language)
    assert send_password_setup_email(account=account)
    assert mail.outbox[-1].subject == subject
