"""Admin forms for a tenant's plan and Odoo connection: they save through odoo_sync.tenants."""

from django import forms

from cafe import services as tenant_services
from cafe.admin_base import ActingForm
from cafe.models import Plan, Tenant
from odoo_sync import tenants
from odoo_sync.connection import check_company

KEEP_KEY_HELP = "Leave empty to keep the current key. Saving a key lifts a pause."
FIRST_KEY_HELP = "The API key of the Odoo login above (Odoo: Preferences > Account Security)."
KEY_NOT_KEPT = (
    "Type the API key again: a key is never sent back to the browser, so it was not kept "
    "when the form came back with errors."
)


def api_key_field() -> forms.CharField:
    # Write-only: the current key is never put in the page, not even masked.
    return forms.CharField(
        label="New Odoo API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=KEEP_KEY_HELP,
    )


class ApiKeyForm(ActingForm):
    """A form with the write-only key: its help fits the tenant, and a lost key is said.

    Built per request with `acting_as(login)`: ending a pause, relinking or
    queueing registers is recorded in the editor's name.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "new_api_key" in self.fields and not self.instance.odoo_api_key:
            self.fields["new_api_key"].help_text = FIRST_KEY_HELP

    def change_summary(self) -> str:
        """For the tenant's history: each changed field with its old and new value; never a key."""
        parts = []
        for field in self.changed_data:
            if field == "new_api_key":
                parts.append("Set a new Odoo API key.")
                continue
            label = self.fields[field].label or field
            old, new = self.initial.get(field, ""), self.cleaned_data.get(field, "")
            choices = dict(getattr(self.fields[field], "choices", []) or [])
            old, new = choices.get(old, old), choices.get(new, new)
            parts.append(f"Changed {label} from {str(old or '')!r} to {str(new or '')!r}.")
        return " ".join(parts)

    def _post_clean(self):
        super()._post_clean()
        typed = self.data.get(self.add_prefix("new_api_key"))
        if self.errors and typed and "new_api_key" not in self.errors:
            self.add_error("new_api_key", KEY_NOT_KEPT)


CONNECTION_ARGS = {
    "odoo_url": "url",
    "odoo_db": "db",
    "odoo_login": "login",
    "odoo_protocol": "protocol",
    "odoo_company_id": "company",
}
COMPANY_HELP = (
    "On an Odoo database with several companies: this cafe's company. Its registers are "
    "created there and it sees only that company's configs. Test connection lists the "
    "companies the login may use."
)


class TenantForm(ApiKeyForm):
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
            "odoo_company_id",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.company_check = None
        field = self.fields.get("odoo_company_id")
        if field is None:
            return
        field.help_text = COMPANY_HELP
        known = self.instance.odoo_companies
        if known:  # Test connection listed them: pick by name
            choices = [("", "None: the login's default company")]
            choices += [(c["id"], f"{c['name']} ({c['id']})") for c in known]
            current = self.instance.odoo_company_id
            if current and all(c["id"] != current for c in known):
                choices.append((current, f"Company {current} (not among the login's now)"))
            self.fields["odoo_company_id"] = forms.TypedChoiceField(
                label=field.label,
                required=False,
                choices=choices,
                coerce=int,
                empty_value=None,
                help_text=COMPANY_HELP,
            )

    def clean(self):
        """A Pro connection whose company changes, or is new, is checked with Odoo: a company
        the login may not use, or none where it has several (a new tenant), is refused."""
        data = super().clean()
        if "odoo_company_id" not in self.fields or self.errors:
            return data
        new = self.instance.pk is None
        touched = {"odoo_url", "odoo_db", "odoo_login", "odoo_company_id", "new_api_key"}
        if data.get("plan") != Plan.PRO or not (new or touched & set(self.changed_data)):
            return data
        probe = Tenant(
            odoo_url=data.get("odoo_url") or "",
            odoo_db=data.get("odoo_db") or "",
            odoo_login=data.get("odoo_login") or "",
            odoo_api_key=data.get("new_api_key") or self.instance.odoo_api_key,
            odoo_protocol=data.get("odoo_protocol") or self.instance.odoo_protocol,
        )
        company = data.get("odoo_company_id")
        legacy = not new and self.instance.odoo_company_id is None and company is None
        self.company_check = check_company(probe, company, new=not legacy)
        if self.company_check and self.company_check.error:
            self.add_error("odoo_company_id", self.company_check.error)
        return data

    def apply(self) -> Tenant:
        data = self.cleaned_data
        check = self.company_check
        if self.instance.pk is None:
            return tenant_services.create_tenant(
                name=data["name"],
                slug=data["slug"],
                plan=data["plan"],
                odoo_url=data["odoo_url"],
                odoo_db=data["odoo_db"],
                odoo_login=data["odoo_login"],
                odoo_api_key=data["new_api_key"],
                odoo_protocol=data["odoo_protocol"],
                odoo_company_id=data.get("odoo_company_id"),
                odoo_company_name=check.name if check else "",
                odoo_companies=check.companies if check else [],
            )
        tenant = self.instance
        if "name" in self.fields and "name" in self.changed_data:
            tenant = tenant_services.rename_tenant(tenant, name=data["name"])
        connection = {
            arg: data[field]
            for field, arg in CONNECTION_ARGS.items()
            if field in self.fields and field in self.changed_data
        }
        if data.get("new_api_key"):
            connection["api_key"] = data["new_api_key"]
        if connection and check is not None:
            connection["companies"] = check.as_edit()
        edited = bool(connection) or "plan" in self.changed_data
        if connection:
            tenant = tenants.update_odoo_connection(tenant, actor=self.who, **connection)
        if "plan" in self.fields and "plan" in self.changed_data:
            tenant = tenants.change_plan(tenant, plan=data["plan"], actor=self.who)
        tenant._connection_edited = edited  # the admin tests a connection it just saved
        return tenant


class TenantKeyForm(ApiKeyForm):
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
        tenant = tenants.update_odoo_connection(self.instance, api_key=key, actor=self.who)
        tenant._connection_edited = True  # the admin tests a connection it just saved
        return tenant
