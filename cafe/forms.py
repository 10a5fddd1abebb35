"""Admin forms for tenants and memberships: they validate and save through cafe.services only."""

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from cafe import services
from cafe.admin_helpers import add_service_errors
from cafe.models import Membership, Tenant


class ServiceForm(forms.ModelForm):
    """A ModelForm whose save is a service call, made while the form is validated.

    The admin decides between "saved" and "show the form again" on
    `is_valid()` alone, so the services run there, in one savepoint: a
    ValidationError rolls back whatever the services already wrote and comes
    back as form errors. ModelForm's own model validation is not used; the
    services are the rules. Afterwards `self.instance` is the saved row.
    """

    service_field_map: dict[str, str] = {}

    def apply(self):
        raise NotImplementedError

    def _post_clean(self):
        if self.errors:
            return
        try:
            with transaction.atomic():
                self.instance = self.apply()
        except ValidationError as exc:
            add_service_errors(self, exc, self.service_field_map)


def api_key_field() -> forms.CharField:
    # Write-only: the current key is never put in the page, not even masked.
    return forms.CharField(
        label="New Odoo API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the current key. Saving a key lifts a pause.",
    )


CONNECTION_ARGS = {
    "odoo_url": "url",
    "odoo_db": "db",
    "odoo_login": "login",
    "odoo_protocol": "protocol",
}


class TenantForm(ServiceForm):
    """An operator's tenant form: plan and the whole connection."""

    odoo_url = forms.CharField(
        label="Odoo URL", required=False, help_text="The base URL, e.g. https://acme.odoo.com"
    )
    new_api_key = api_key_field()
    service_field_map = {"odoo_api_key": "new_api_key"}

    class Meta:
        model = Tenant
        fields = [
            "name",
            "slug",
            "plan",
            "odoo_url",
            "odoo_db",
            "odoo_login",
            "odoo_protocol",
        ]

    def apply(self) -> Tenant:
        data = self.cleaned_data
        if self.instance.pk is None:
            return services.create_tenant(
                name=data["name"],
                slug=data["slug"],
                plan=data["plan"],
                odoo_url=data["odoo_url"],
                odoo_db=data["odoo_db"],
                odoo_login=data["odoo_login"],
                odoo_api_key=data["new_api_key"],
                odoo_protocol=data["odoo_protocol"],
            )
        tenant = self.instance
        if "name" in self.fields and "name" in self.changed_data:
            tenant = services.rename_tenant(tenant, name=data["name"])
        connection = {
            arg: data[field]
            for field, arg in CONNECTION_ARGS.items()
            if field in self.fields and field in self.changed_data
        }
        if data.get("new_api_key"):
            connection["api_key"] = data["new_api_key"]
        if connection:
            tenant = services.update_odoo_connection(tenant, **connection)
        if "plan" in self.fields and "plan" in self.changed_data:
            tenant = services.change_plan(tenant, plan=data["plan"])
        return tenant


class TenantKeyForm(ServiceForm):
    """Tenant staff: they may only rotate their tenant's API key."""

    new_api_key = api_key_field()
    service_field_map = {"odoo_api_key": "new_api_key"}

    class Meta:
        model = Tenant
        fields = []

    def apply(self) -> Tenant:
        key = self.cleaned_data.get("new_api_key")
        if not key:
            return self.instance
        return services.update_odoo_connection(self.instance, api_key=key)


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
