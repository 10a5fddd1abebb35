"""The tenants admin: plan, Odoo connection (key write-only), test connection, sync health."""

from dataclasses import dataclass

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.debug import sensitive_post_parameters

from cafe import access
from cafe.admin_base import (
    TenantScopedAdmin,
    humanize_ago,
    humanize_duration,
    local_time,
    redirect_back,
)
from cafe.models import Plan, Tenant
from cafe.services import archive_tenant
from odoo_sync import reporting
from odoo_sync.connection import test_odoo_connection
from odoo_sync.forms import TenantForm, TenantKeyForm
from odoo_sync.tenants import (
    audit_now,
    connection_saved_and_works,
    delete_tenant,
    never_reached_odoo,
    restore,
    sync_now,
)
from registers.admin import next_try, register_badge_html

INCIDENTS_SHOWN = 20
REGISTERS_SHOWN = 50
CONNECTION_FIELDS = ["odoo_url", "odoo_db", "odoo_login", "odoo_protocol", "odoo_company_id"]
HEALTH_FIELDS = [
    "sync_status",
    "archived_at",
    "odoo_last_contact_at",
    "odoo_server_version",
    "odoo_paused_at",
    "odoo_paused_reason",
    "odoo_unreachable_since",
    "odoo_next_attempt_at",
    "odoo_last_error",
]


@dataclass(frozen=True)
class SyncStatus:
    """One line on whether the tenant's registers reach Odoo, and if not, why; `tone` colours it."""

    text: str
    tone: str = ""  # "ok" (green), "bad" (red), "" (neutral)

    def __str__(self) -> str:
        return self.text


def tenant_sync_status(tenant: Tenant) -> SyncStatus:
    """What is true now, never a hopeful "Syncing" before Odoo has answered."""
    if tenant.archived_at:
        return SyncStatus(
            f"Archived since {local_time(tenant.archived_at)}: not synced; "
            "its registers and history are kept"
        )
    if tenant.plan != Plan.PRO:
        return SyncStatus("Local only (Starter plan): registers are not sent to Odoo")
    if not tenant.connection_complete:
        return SyncStatus("Not set up: the Odoo connection is incomplete", "bad")
    if tenant.odoo_paused_at:
        return SyncStatus(
            f"Paused since {local_time(tenant.odoo_paused_at)}: "
            f"{tenant.odoo_paused_reason or 'Odoo refused the connection'}",
            "bad",
        )
    if tenant.odoo_unreachable_since:
        return SyncStatus(
            f"Odoo unreachable since {local_time(tenant.odoo_unreachable_since)} "
            f"({humanize_ago(tenant.odoo_unreachable_since)}); "
            f"next try {next_try(tenant)}",
            "bad",
        )
    if tenant.odoo_last_contact_at is None:
        return SyncStatus("Not connected yet: Odoo has not been reached with this connection")
    return SyncStatus(f"Syncing (last contact {humanize_ago(tenant.odoo_last_contact_at)})", "ok")


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    list_display = [
        "name",
        "slug",
        "plan",
        "sync_status",
        "odoo_company",
        "api_key_status",
        "odoo_server_version",
    ]
    list_filter = ["plan", ("archived_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "slug"]
    actions = ["test_connection"]

    def scoped_queryset(self, user):
        return access.tenants_for(user)

    @method_decorator(sensitive_post_parameters("new_api_key"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Error reports (the debug page, admin e-mails) never show the posted key.
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(description="Sync")
    def sync_status(self, obj):
        status = tenant_sync_status(obj)
        css = {"ok": "regsync-ok", "bad": "regsync-bad"}.get(status.tone, "")
        return format_html('<span class="{}">{}</span>', css, status.text)

    @admin.display(description="Company in Odoo")
    def odoo_company(self, obj):
        """By name: the chosen company, or the login's default one (Test connection learns it)."""
        if obj.odoo_company_label:
            return obj.odoo_company_label
        if obj.odoo_company_id:
            return f"Company {obj.odoo_company_id} (Test connection gives its name)"
        return "-" if obj.plan != Plan.PRO else "Not known yet: Test connection says which"

    @admin.display(description="Registers")
    def register_list(self, obj):
        registers = list(obj.registers.order_by("name", "pk")[: REGISTERS_SHOWN + 1])
        if not registers:
            return "No registers yet."
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:registers_posconfig_change", args=[register.pk]),
                    register.name,
                    "active" if register.is_active else "inactive",
                    register_badge_html(register),
                    register.odoo_pos_config_id or "",
                )
                for register in registers[:REGISTERS_SHOWN]
            ),
        )
        every = reverse("admin:registers_posconfig_changelist") + f"?tenant__id__exact={obj.pk}"
        return format_html(
            '<table class="regsync-incidents"><thead><tr><th>Name</th><th>Active</th>'
            "<th>Sync</th><th>Odoo id</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}">All registers of {}</a></p>',
            rows,
            every,
            obj.name,
        )

    @admin.display(description="Pauses and outages")
    def incident_history(self, obj):
        incidents = list(obj.incidents.all()[:INCIDENTS_SHOWN])
        if not incidents:
            return "None so far."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    local_time(incident.started_at),
                    incident.get_kind_display(),
                    humanize_duration(incident.ended_at - incident.started_at)
                    if incident.ended_at
                    else "ongoing",
                    incident.ended_by,
                    incident.reason,
                )
                for incident in incidents
            ),
        )
        return format_html(
            '<table class="regsync-incidents"><thead><tr><th>Began</th><th>What</th>'
            "<th>Lasted</th><th>Ended by</th><th>Why</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="Drift audit")
    def drift_audit(self, obj):
        """The last audit, and the findings that need a decision now (with a link to them)."""
        run = reporting.last_audit_runs([obj.pk]).first()
        if run is None:
            return "Never audited."
        counts = reporting.open_findings_by_tenant([obj.pk]).get(obj.pk, {})
        needing, ignored = counts.get("needing", 0), counts.get("ignored", 0)
        findings = reverse("admin:odoo_sync_auditfinding_changelist")
        last = f"Last audit {local_time(run.started_at)}: {run.get_status_display().lower()}"
        return format_html(
            '{}. <a href="{}?tenant__id__exact={}&amp;status=needs">{}</a>{}',
            last,
            findings,
            obj.pk,
            f"{needing} finding{'' if needing == 1 else 's'} need{'s' if needing == 1 else ''} "
            "a decision",
            f" ({ignored} ignored)" if ignored else "",
        )

    @admin.display(description="Odoo API key")
    def api_key_status(self, obj):
        return "set" if obj.odoo_api_key else "not set"

    # --- forms: operators edit everything, tenant staff only rotate the key -------

    def get_form(self, request, obj=None, change=False, **kwargs):
        operator = access.is_operator(request.user)
        form = TenantForm if operator else TenantKeyForm
        kwargs["form"] = form.acting_as(request.user.get_username())
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
                    "fields": [*CONNECTION_FIELDS, "odoo_company", "api_key_status", "new_api_key"],
                    "description": "Editing the connection (a new API key included) lifts a "
                    "pause and an outage backoff: the next drain tries at once.",
                },
            ),
            ("Sync health", {"fields": [*HEALTH_FIELDS, "incident_history", "drift_audit"]}),
            ("Registers", {"fields": ["register_list"]}),
        ]

    def get_prepopulated_fields(self, request, obj=None):
        # The slug is typed once, on the add form (it is read-only afterwards).
        return {"slug": ["name"]} if obj is None else {}

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = [
            "slug",
            "odoo_company",
            "api_key_status",
            *HEALTH_FIELDS,
            "incident_history",
            "drift_audit",
            "register_list",
        ]
        if not access.is_operator(request.user):
            readonly = ["name", "plan", *CONNECTION_FIELDS, *readonly]
        return readonly

    def construct_change_message(self, request, form, formsets, add=False):
        # The history says what each value was and became (Django's says only which fields).
        if add:
            return super().construct_change_message(request, form, formsets, add)
        return form.change_summary() or super().construct_change_message(request, form, formsets)

    def save_model(self, request, obj, form, change):
        # The form saved through cafe.services while it was validated.
        pass

    def save_related(self, request, form, formsets, change):
        pass

    def has_add_permission(self, request):
        return access.is_operator(request.user) and super().has_add_permission(request)

    # --- archive (any tenant), delete (one that never reached Odoo): operators only ---

    def has_delete_permission(self, request, obj=None):
        # Never in bulk; a tenant that reached Odoo is archived instead (tenants.delete_tenant).
        return obj is not None and access.is_operator(request.user) and never_reached_odoo(obj)

    def get_deleted_objects(self, objs, request):
        # The confirmation page lists the tenant and its registers, which go with it
        # (the registers' own admin deletes nothing, and their tenant key protects them).
        [tenant] = objs
        registers = [f"Register: {register}" for register in tenant.registers.order_by("name")]
        counts = {"tenants": 1, "registers": len(registers)}
        return [f"Tenant: {tenant}", registers], counts, set(), []

    def delete_model(self, request, obj):
        delete_tenant(obj)

    def archive_view(self, request, object_id):
        """Archive or restore (POST `restore`) the tenant: syncing stops or resumes, nothing is lost."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        tenant = self.get_object(request, object_id)  # a 404 for any id not theirs
        if not access.is_operator(request.user):
            raise PermissionDenied
        if "restore" in request.POST:
            restore(tenant, actor=request.user.get_username())
            self.log_change(request, tenant, "Restored.")
            text = f"{tenant.name} is restored: it syncs again if its plan and connection allow."
        else:
            archive_tenant(tenant)
            self.log_change(request, tenant, "Archived: no longer synced.")
            text = (
                f"{tenant.name} is archived: it no longer syncs; its registers and history "
                "are kept. Restore it from this page."
            )
        self.message_user(request, text, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:cafe_tenant_change", args=[tenant.pk]))

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or access.can_access_tenant(request.user, obj.pk)

    # --- test connection --------------------------------------------------------------

    def _report_connection(self, request, tenant: Tenant, *, after_save: bool = False) -> None:
        report = test_odoo_connection(tenant)
        if report.ok:
            if after_save:
                connection_saved_and_works(tenant)
            self.message_user(request, f"{tenant.name}: {report.message}", messages.SUCCESS)
            return
        lead = "Saved, but the connection does not work yet. " if after_save else ""
        text = format_html(
            '{}: {}{} <details class="regsync-detail"><summary>Technical detail for support'
            "</summary><code>{}</code></details>",
            tenant.name,
            lead,
            report.message,
            report.detail or "-",
        )
        self.message_user(request, text, messages.WARNING if after_save else messages.ERROR)

    def response_add(self, request, obj, post_url_continue=None):
        if obj.has_odoo:
            self._report_connection(request, obj, after_save=True)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        # Saving a connection tests it; the save stands whatever Odoo says.
        if getattr(obj, "_connection_edited", False) and obj.has_odoo:
            self._report_connection(request, obj, after_save=True)
        return super().response_change(request, obj)

    @admin.action(description="Test Odoo connection", permissions=["view"])
    def test_connection(self, request, queryset):
        for tenant in queryset:
            self._report_connection(request, tenant)

    def _start(self, request, object_id, start):
        """A button that starts `start(tenant)` -> (started, what to say), then back (POST only)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        tenant = self.get_object(request, object_id)  # a 404 for any id not theirs
        if not self.has_change_permission(request, tenant):
            raise PermissionDenied
        started, text = start(tenant)
        self.message_user(request, text, messages.SUCCESS if started else messages.WARNING)
        return redirect_back(request, reverse("admin:cafe_tenant_change", args=[tenant.pk]))

    def sync_now_view(self, request, object_id):
        """Push the tenant's due registers now (and skip an outage's wait), from its page."""
        return self._start(request, object_id, sync_now)

    def audit_now_view(self, request, object_id):
        """Run the tenant's drift audit now, from its page or the overview (it only reads Odoo)."""
        return self._start(request, object_id, audit_now)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/audit-now/",
                self.admin_site.admin_view(self.audit_now_view),
                name="cafe_tenant_audit_now",
            ),
            path(
                "<path:object_id>/sync-now/",
                self.admin_site.admin_view(self.sync_now_view),
                name="cafe_tenant_sync_now",
            ),
            path(
                "<path:object_id>/archive/",
                self.admin_site.admin_view(self.archive_view),
                name="cafe_tenant_archive",
            ),
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
        may_ask_odoo = obj is not None and obj.has_odoo and self.has_change_permission(request, obj)
        context["sync_now_url"] = (
            reverse("admin:cafe_tenant_sync_now", args=[obj.pk]) if may_ask_odoo else ""
        )
        context["audit_now_url"] = (
            reverse("admin:cafe_tenant_audit_now", args=[obj.pk]) if may_ask_odoo else ""
        )
        operator = access.is_operator(request.user)
        context["archive_url"] = (
            reverse("admin:cafe_tenant_archive", args=[obj.pk])
            if obj is not None and operator
            else ""
        )
        context["archived"] = obj is not None and obj.archived_at is not None
        return super().render_change_form(request, context, add, change, form_url, obj)
