"""The drift audit's findings in the admin: what changed in Odoo, and "Fix (local wins)"."""

from collections import Counter

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from cafe import access
from cafe.admin_base import TenantScopedAdmin, local_time
from odoo_sync import audit
from odoo_sync.models import AuditFinding


def findings_for(user):
    if access.is_operator(user):
        return AuditFinding.objects.all()
    return AuditFinding.objects.filter(tenant__in=access.tenants_for(user).values("pk"))


class FixedFilter(admin.SimpleListFilter):
    title = "fixed"
    parameter_name = "fixed"

    def lookups(self, request, model_admin):
        return [("no", "Not fixed yet"), ("yes", "Fixed (local won)")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(fixed_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(fixed_at__isnull=False)
        return queryset


@admin.register(AuditFinding)
class AuditFindingAdmin(TenantScopedAdmin):
    list_display = [
        "found",
        "tenant",
        "kind",
        "register_link",
        "odoo_id",
        "here",
        "in_odoo",
        "fixed",
    ]
    list_filter = ["kind", FixedFilter, ("tenant", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["tenant", "run", "register"]
    search_fields = ["local_name", "odoo_name", "=odoo_id"]
    actions = ["fix_local_wins"]
    fields = ["found", "tenant", "kind", "register_link", "odoo_id", "here", "in_odoo", "fixed"]
    readonly_fields = fields

    def scoped_queryset(self, user):
        return findings_for(user)

    # Findings are seen by whoever sees registers; fixing one overwrites what someone set in
    # the tenant's Odoo, which only an operator may decide (access.may_override_odoo).
    def has_module_permission(self, request):
        return request.user.has_perm("registers.view_posconfig")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("registers.view_posconfig")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_fix_permission(self, request):
        return access.may_override_odoo(request.user)

    @admin.display(description="Found", ordering="run__started_at")
    def found(self, obj):
        return local_time(obj.run.started_at)

    @admin.display(description="Register")
    def register_link(self, obj):
        if obj.register_id is None:
            return "-"
        url = reverse("admin:registers_posconfig_change", args=[obj.register_id])
        return format_html('<a href="{}">{}</a>', url, obj.local_name or obj.register_id)

    @admin.display(description="Here")
    def here(self, obj):
        return _side(obj.local_name, obj.local_active)

    @admin.display(description="In Odoo")
    def in_odoo(self, obj):
        return _side(obj.odoo_name, obj.odoo_active)

    @admin.display(description="Fixed")
    def fixed(self, obj):
        if obj.kind in audit.LEFT_ALONE:
            whose = f": {obj.odoo_external_id}" if obj.kind == AuditFinding.Kind.STALE_LINK else ""
            return f"left alone ({audit.LEFT_ALONE[obj.kind]}{whose})"
        return local_time(obj.fixed_at) if obj.fixed_at else "not yet"

    @admin.action(description="Fix (local wins)", permissions=["fix"])
    def fix_local_wins(self, request, queryset):
        findings = list(queryset)
        fixed = audit.fix_findings(findings, actor=request.user.get_username())
        left = Counter(audit.LEFT_ALONE[f.kind] for f in findings if f.kind in audit.LEFT_ALONE)
        text = (
            f"{fixed} finding(s) fixed: their registers are queued to be written to Odoo again."
            if fixed
            else "Nothing fixed."
        )
        if left:
            text += " Left alone: " + "; ".join(f"{n} ({why})" for why, n in left.items()) + "."
        self.message_user(request, text, messages.SUCCESS if fixed else messages.WARNING)


def _side(name, active) -> str:
    if name is None:
        return "-"
    return f"{name} ({'active' if active else 'archived'})"
