from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from entryway.billing.choices import ChargeMode, CouponFee, Currency

ON_OFF = [("on", _("On")), ("off", _("Off"))]


class SettingForm(forms.Form):
    charge_mode = forms.ChoiceField(label=_("Charge Mode"), choices=ChargeMode.choices, widget=forms.RadioSelect)
    send_expiration_email = forms.ChoiceField(label=_("Send Expiration Email To End User"), choices=ON_OFF,
                                              widget=forms.RadioSelect)
    send_renew_email = forms.ChoiceField(label=_("Send Renew Email To End User"), choices=ON_OFF,
                                         widget=forms.RadioSelect)

    def values(self) -> dict:
        data = self.cleaned_data
        return {"charge_mode": data["charge_mode"], "send_expiration_email": data["send_expiration_email"] == "on",
                "send_renew_email": data["send_renew_email"] == "on"}


MONEY_FIELD = {"max_digits": 12, "decimal_places": 2, "min_value": 0}


class PriceListForm(forms.Form):
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices, initial="USD")
    activation_fee = forms.DecimalField(label=_("Activation Fee"), **MONEY_FIELD)
    renewal_fee = forms.DecimalField(label=_("Renewal Fee (per month)"), **MONEY_FIELD)
    additional_app_fee = forms.DecimalField(label=_("Additional App Fee"), **MONEY_FIELD)
    premium_plan_fee = forms.DecimalField(label=_("Premium Plan Fee (per month)"), **MONEY_FIELD)


class CouponForm(forms.Form):
    installer = forms.ModelChoiceField(label=_("Installer"), queryset=None, required=False,
                                       empty_label=_("Any of my installers (they exchange the code)"))
    code = forms.CharField(label=_("Coupon Code"), max_length=32, required=False,
                           help_text=_("Leave empty for a random 16-character code."))
    fee_type = forms.ChoiceField(label=_("Fee"), choices=CouponFee.choices, initial=CouponFee.ALL)
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices, initial=settings.BILLING_CURRENCY)
    amount = forms.DecimalField(label=_("Amount"), max_digits=12, decimal_places=2, min_value=0)
    valid_from = forms.DateTimeField(label=_("Valid From"),
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    valid_until = forms.DateTimeField(label=_("Valid Until"),
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def __init__(self, *args, installers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["installer"].queryset = installers
        self.fields["installer"].label_from_instance = lambda a: f"{a.display_name} ({a.username})"


class ExchangeCouponForm(forms.Form):
    code = forms.CharField(label=_("Coupon Code"), max_length=32)


class BillingInfoForm(forms.Form):
    company = forms.CharField(label=_("Company/Family"), max_length=128, required=False)
    attn = forms.CharField(label=_("ATTN"), max_length=128, required=False)
    address = forms.CharField(label=_("Address"), max_length=255, required=False)
    tel = forms.CharField(label=_("TEL"), max_length=32, required=False)
    fax = forms.CharField(label=_("Fax"), max_length=32, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
