"""Admin forms for memberships, staff users and groups: their rules live in cafe.services."""

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from cafe import services
from cafe.admin_base import ServiceForm, add_service_errors
from cafe.models import Membership


class MembershipForm(ServiceForm):
    class Meta:
        model = Membership
        fields = ["user", "tenant"]

    def apply(self) -> Membership:
        return services.grant_tenant_access(
            user=self.cleaned_data["user"], tenant=self.cleaned_data["tenant"]
        )


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
