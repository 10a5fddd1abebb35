"""The tenants admin: plan, Odoo connection (key write-only), test connection, memberships."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from cafe import selectors, services
from cafe.admin_helpers import TenantScopedAdmin, humanize_ago, humanize_until
from cafe.forms import (
    GroupForm,
    MembershipForm,
    StaffUserChangeForm,
    StaffUserCreationForm,
    TenantForm,
    TenantKeyForm,
)
from cafe.models import Membership, Tenant
from odoo_sync.connection import test_odoo_connection

CONNECTION_FIELDS = ["odoo_url", "odoo_db", "odoo_login", "odoo_protocol"]
HEALTH_FIELDS = [
    "sync_status",
    "odoo_server_version",
    "odoo_paused_at",
    "odoo_paused_reason",
    "odoo_unreachable_since",
    "odoo_next_attempt_at",
    "odoo_last_error",
]


def tenant_sync_status(tenant: Tenant) -> str:
    """One line on whether the tenant's registers reach Odoo, and if not, why."""
    if tenant.plan != "pro":
        return "Starter plan: registers stay local"
    if not tenant.connection_complete:
        return "Odoo connection incomplete: nothing is sent"
    if tenant.odoo_paused_at:
        return f"Paused since {tenant.odoo_paused_at:%Y-%m-%d %H:%M} UTC: edit the connection"
    if tenant.odoo_unreachable_since:
        return (
            f"Odoo unreachable since {tenant.odoo_unreachable_since:%Y-%m-%d %H:%M} UTC "
            f"({humanize_ago(tenant.odoo_unreachable_since)}); "
            f"next try {humanize_until(tenant.odoo_next_attempt_at) or 'soon'}"
        )
    return "Syncing"


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    list_display = ["name", "slug", "plan", "sync_status", "api_key_status", "odoo_server_version"]
    list_filter = ["plan"]
    search_fields = ["name", "slug"]
    actions = ["test_connection"]

    def scoped_queryset(self, user):
        return selectors.tenants_for(user)

    @method_decorator(sensitive_post_parameters("new_api_key"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Error reports (the debug page, admin e-mails) never show the posted key.
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(description="Sync")
    def sync_status(self, obj):
        text = tenant_sync_status(obj)
        css = "regsync-ok" if text == "Syncing" else "regsync-bad"
        if obj.plan != "pro":
            css = ""
        return format_html('<span class="{}">{}</span>', css, text)

    @admin.display(description="Odoo API key")
    def api_key_status(self, obj):
        return "set" if obj.odoo_api_key else "not set"

    # --- forms: operators edit everything, tenant staff only rotate the key -------

    def get_form(self, request, obj=None, change=False, **kwargs):
        operator = selectors.is_operator(request.user)
        kwargs["form"] = TenantForm if operator else TenantKeyForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["name", "slug", "plan"]}),
                ("Odoo connection", {"fields": [*CONNECTION_FIELDS, "new_api_key"]}),
            ]
        return [
            (None, {"fields": ["name", "slug", "plan"]}),
            (
                "Odoo connection",
                {
                    "fields": [*CONNECTION_FIELDS, "api_key_status", "new_api_key"],
                    "description": "Editing the connection (a new API key included) lifts a "
                    "pause and an outage backoff: the next drain tries at once.",
                },
            ),
            ("Sync health", {"fields": HEALTH_FIELDS}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = ["slug", "api_key_status", *HEALTH_FIELDS]
        if not selectors.is_operator(request.user):
            readonly = ["name", "plan", *CONNECTION_FIELDS, *readonly]
        return readonly

    def save_model(self, request, obj, form, change):
        # The form saved through cafe.services while it was validated.
        pass

    def save_related(self, request, form, formsets, change):
        pass

    def has_add_permission(self, request):
        return selectors.is_operator(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or selectors.can_access_tenant(request.user, obj.pk)

    # --- test connection --------------------------------------------------------------

    def _report_connection(self, request, tenant: Tenant) -> None:
        report = test_odoo_connection(tenant)
        level = messages.SUCCESS if report.ok else messages.ERROR
        self.message_user(request, f"{tenant.name}: {report.message}", level)

    @admin.action(description="Test Odoo connection", permissions=["view"])
    def test_connection(self, request, queryset):
        for tenant in queryset:
            self._report_connection(request, tenant)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name="cafe_tenant_test_connection",
            ),
            *super().get_urls(),
        ]

    def test_connection_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        tenant = self.get_object(request, object_id)  # a 404 for any id not theirs
        if not self.has_view_permission(request, tenant):
            raise PermissionDenied
        self._report_connection(request, tenant)
        return HttpResponseRedirect(reverse("admin:cafe_tenant_change", args=[tenant.pk]))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["test_connection_url"] = (
            reverse("admin:cafe_tenant_test_connection", args=[obj.pk]) if obj is not None else ""
        )
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Operators give staff users access to tenants (and the Tenant staff group's rights)."""

    form = MembershipForm
    list_display = ["user", "tenant", "created_at"]
    list_filter = [("tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "user__email", "tenant__name"]
    list_select_related = ["user", "tenant"]

    def has_module_permission(self, request):
        return selectors.is_operator(request.user)

    def has_view_permission(self, request, obj=None):
        return selectors.is_operator(request.user)

    def has_add_permission(self, request):
        return selectors.is_operator(request.user)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return selectors.is_operator(request.user)

    def save_model(self, request, obj, form, change):
        pass

    def save_related(self, request, form, formsets, change):
        pass

    def delete_model(self, request, obj):
        services.revoke_tenant_access(obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            services.revoke_tenant_access(membership)


# --- staff users and groups: Django's admin, with regsync's name rules ---------------------


class StaffUserAdmin(UserAdmin):
    form = StaffUserChangeForm
    add_form = StaffUserCreationForm


class StaffGroupAdmin(GroupAdmin):
    form = GroupForm


for model, model_admin in [(get_user_model(), StaffUserAdmin), (Group, StaffGroupAdmin)]:
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
