"""Admin forms for memberships, staff users and groups: their rules live in cafe.services."""

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from cafe import services
from cafe.admin_base import ServiceForm, add_service_errors
from cafe.models import Membership


class MembershipForm(ServiceForm):
    """Give an existing user access to a tenant, or create the staff login in the same step."""

    new_username = forms.CharField(
        label="Or a new user: username",
        required=False,
        help_text="Creates a staff login with access to this tenant only.",
    )
    new_email = forms.CharField(label="New user's e-mail", required=False)
    new_password = forms.CharField(
        label="New user's password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    service_field_map = {"username": "new_username"}

    class Meta:
        model = Membership
        fields = ["user", "tenant"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:  # a membership is never changed, only removed
            for name in ("new_username", "new_email", "new_password"):
                self.fields.pop(name, None)
        if "user" in self.fields:
            self.fields["user"].required = False
            self.fields["user"].help_text = "An existing user; or fill in a new user below."

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("new_username") and (
            cleaned.get("new_email") or cleaned.get("new_password")
        ):
            raise ValidationError(
                "An e-mail or password is only for a new user: type the new username too, "
                "or clear them."
            )
        if cleaned.get("user") and cleaned.get("new_username"):
            raise ValidationError("Choose an existing user or type a new username, not both.")
        if not cleaned.get("user") and not cleaned.get("new_username"):
            raise ValidationError("Choose an existing user, or type a new username.")
        return cleaned

    def apply(self) -> Membership:
        data = self.cleaned_data
        if data.get("new_username"):
            return services.add_tenant_staff(
                tenant=data["tenant"],
                username=data["new_username"],
                email=data.get("new_email", ""),
                password=data.get("new_password", ""),
            )
        return services.grant_tenant_access(user=data["user"], tenant=data["tenant"])


class NameRulesForm(forms.ModelForm):
    """Django's own user and group forms, with regsync's rules for the names they hold.

    `name_rules` maps a field to the cafe.services function that cleans it.
    """

    name_rules: dict = {}

    def clean(self):
        cleaned = super().clean()
        for field, rule in self.name_rules.items():
            if field not in cleaned or field in self.errors:
                continue
            try:
                cleaned[field] = rule(self, cleaned[field])
            except ValidationError as exc:
                add_service_errors(self, exc)
        return cleaned


USER_NAME_RULES = {
    "username": lambda form, value: services.clean_username(value, user_id=form.instance.pk),
    "first_name": lambda form, value: services.clean_person_name(value, field="first_name"),
    "last_name": lambda form, value: services.clean_person_name(value, field="last_name"),
}


class StaffUserCreationForm(NameRulesForm, AdminUserCreationForm):
    name_rules = USER_NAME_RULES


class StaffUserChangeForm(NameRulesForm, UserChangeForm):
    name_rules = USER_NAME_RULES


class GroupForm(NameRulesForm):
    name_rules = {"name": lambda form, value: services.clean_group_name(value)}

    class Meta:
        model = Group
        fields = ["name", "permissions"]
