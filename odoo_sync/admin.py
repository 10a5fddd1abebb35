"""Sync history (read-only) and the sync overview page: is the queue moving, and what is stuck."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from cafe import access
from cafe.admin_base import CsvExportAdmin, TenantScopedAdmin, humanize_ago, humanize_duration
from cafe.csv_export import csv_time
from cafe.models import Tenant
from odoo_sync import housekeeping, reporting
from odoo_sync.access import sync_attempts_for
from odoo_sync.audit_admin import AuditFindingAdmin  # noqa: F401 - registers the findings admin
from odoo_sync.charts import trend_chart, trend_summary
from odoo_sync.models import SyncAttempt
from odoo_sync.tenant_admin import tenant_sync_status
from registers import services as register_services
from registers.access import dead_letters_for
from registers.admin import sync_badge_html, trim_error
from registers.models import ErrorKind

DEAD_LETTERS_SHOWN = 200
# The overview draws a small chart for at most this many tenants (those with the most failures).
TREND_TENANTS_SHOWN = 50
# How many tick periods a heartbeat stays fresh (housekeeping: one definition).
ALIVE_TICK_PERIODS = housekeeping.ALIVE_TICK_PERIODS


def heartbeat_status(name: str, *, now: datetime) -> dict:
    """Whether `name` beat within the alive window; `starting` while it has not had one yet.

    A heartbeat is expected only one alive window after this process started
    (beat and the workers start with it), so a fresh start raises no alarm.
    """
    at = housekeeping.last_beat(name)
    window = timedelta(seconds=settings.SYNC_TICK_SECONDS * ALIVE_TICK_PERIODS)
    alive = at is not None and now - at <= window
    up_for = now - housekeeping.PROCESS_STARTED_AT
    return {
        "at": at,
        "ago": humanize_ago(at, now=now),
        "alive": alive,
        "starting": not alive and up_for < window,
        "up_for": humanize_duration(up_for),
    }


def sync_overview(user, *, now: datetime | None = None) -> dict:
    """Everything the overview page shows, limited to the tenants `user` may see."""
    now = now or timezone.now()
    tenants = list(access.tenants_for(user).order_by("name"))
    health = reporting.queue_health(now=now)
    empty = {"total": 0, "pending_create": 0, "pending_update": 0, "sync_error": 0, "synced": 0}
    rows, totals = [], dict(empty)
    last_audits = {run.tenant_id: run for run in reporting.last_audit_runs([t.pk for t in tenants])}
    open_findings = reporting.open_findings_by_tenant([t.pk for t in tenants])
    for tenant in tenants:
        counts = health.get(tenant.pk, {**empty, "oldest_due_age": None})
        for key in empty:
            totals[key] += counts[key]
        age = counts["oldest_due_age"]
        rows.append(
            {
                "tenant": tenant,
                "counts": counts,
                "oldest_due": humanize_duration(age) if age is not None else "",
                "status": tenant_sync_status(tenant),
                "audit": last_audits.get(tenant.pk),
                "findings": open_findings.get(tenant.pk, {"needing": 0, "ignored": 0}),
            }
        )
    dead_letters = list(dead_letters_for(user)[: DEAD_LETTERS_SHOWN + 1])
    return {
        "trend": reporting.hourly_trend([t.pk for t in tenants], now=now),
        "now": now,
        "tick": heartbeat_status("tick", now=now),
        "worker": heartbeat_status("worker", now=now),
        "alive_window": humanize_duration(
            timedelta(seconds=settings.SYNC_TICK_SECONDS * ALIVE_TICK_PERIODS)
        ),
        "rows": rows,
        "totals": totals,
        "dead_letters": dead_letters[:DEAD_LETTERS_SHOWN],
        "dead_letters_more": len(dead_letters) > DEAD_LETTERS_SHOWN,
        "paused": [t for t in tenants if t.odoo_paused_at is not None and t.has_odoo],
        # A tenant Odoo never answered is as cut off as one in an outage (its cafe never synced).
        "unreachable": [
            {
                "tenant": t,
                "since_ago": humanize_ago(t.odoo_unreachable_since, now=now),
                "never_connected": t.never_connected,
            }
            for t in tenants
            if (t.odoo_unreachable_since is not None and t.has_odoo) or t.never_connected
        ],
    }


def trend_context(data: dict) -> dict:
    """The overview's charts: all the user's tenants, and each tenant with sync history."""
    trend = data["trend"]
    names = {row["tenant"].pk: row["tenant"] for row in data["rows"]}
    busiest = sorted(
        trend["per_tenant"].items(),
        key=lambda item: (-item[1]["totals"]["failed"], names[item[0]].name),
    )
    return {
        "trend_chart": trend_chart(trend["overall"], trend["hours"], label="All your tenants"),
        "trend_summary": trend_summary(trend["overall"]),
        "trend_tenants": [
            {
                "tenant": names[tenant_id],
                "chart": trend_chart(
                    series, trend["hours"], label=names[tenant_id].name, compact=True
                ),
                "summary": trend_summary(series),
            }
            for tenant_id, series in busiest[:TREND_TENANTS_SHOWN]
        ],
        "trend_tenants_more": len(busiest) > TREND_TENANTS_SHOWN,
    }


@admin.register(SyncAttempt)
class SyncAttemptAdmin(CsvExportAdmin, TenantScopedAdmin):
    list_display = [
        "created_at",
        "tenant",
        "register",
        "action",
        "outcome",
        "odoo_pos_config_id",
        "duration_ms",
        "error_short",
    ]
    list_filter = [("tenant", admin.RelatedOnlyFieldListFilter), "outcome", "action"]
    search_fields = ["register__name", "=odoo_pos_config_id"]
    list_select_related = ["tenant", "register"]
    date_hierarchy = "created_at"
    # A log: every field shown, none editable, so the page builds no form at all.
    fields = [
        "created_at",
        "tenant",
        "register",
        "action",
        "outcome",
        "odoo_pos_config_id",
        "duration_ms",
        "error",
    ]
    readonly_fields = fields
    csv_columns = [
        ("time", lambda a: csv_time(a.created_at)),
        ("tenant", lambda a: a.tenant.name),
        ("register", lambda a: a.register.name),
        ("register id", lambda a: a.register_id),
        ("action", lambda a: a.get_action_display()),
        ("outcome", lambda a: a.get_outcome_display()),
        ("Odoo id", lambda a: a.odoo_pos_config_id),
        ("Odoo took (ms)", lambda a: a.duration_ms),
        ("error", lambda a: a.error),
    ]

    def scoped_queryset(self, user):
        return sync_attempts_for(user)

    @admin.display(description="Error")
    def error_short(self, obj):
        if not obj.error:
            return ""
        return format_html('<span title="{}">{}</span>', obj.error, trim_error(obj.error))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    # --- the sync overview --------------------------------------------------------------

    def overview_view(self, request):
        """The sync overview (routed by the admin site: odoo_sync/overview/)."""
        if not request.user.has_perm("registers.view_posconfig"):
            raise PermissionDenied
        data = sync_overview(request.user)
        can_retry = request.user.has_perm("registers.change_posconfig")
        operator = access.may_override_odoo(request.user)
        tenants_admin = self.admin_site._registry[Tenant]
        for row in data["rows"]:
            # "Run audit now", as on the tenant's page and for whoever may use it there.
            tenant = row["tenant"]
            row["audit_now_url"] = (
                reverse("admin:cafe_tenant_audit_now", args=[tenant.pk])
                if tenant.has_odoo and tenants_admin.has_change_permission(request, tenant)
                else ""
            )
        for register in data["dead_letters"]:
            register.badge = sync_badge_html(register.sync_state)
            register.kind_label = (
                ErrorKind(register.last_sync_error_kind).label
                if register.last_sync_error_kind in ErrorKind.values
                else ""
            )
            register.can_retry = can_retry and (
                register_services.plan_retry(register, operator=operator)
                != register_services.RetryOutcome.NEEDS_OPERATOR
            )
            register.retry_url = reverse("admin:registers_posconfig_retry", args=[register.pk])
        context = {
            **self.admin_site.each_context(request),
            **trend_context(data),
            "title": "Sync overview",
            "opts": self.opts,
            "overview": data,
            "can_retry": can_retry,
            "registers_url": reverse("admin:registers_posconfig_changelist"),
            "findings_url": reverse("admin:odoo_sync_auditfinding_changelist"),
            "here": request.get_full_path(),
            "add_tenant_url": reverse("admin:cafe_tenant_add") if operator else "",
        }
        return TemplateResponse(request, "admin/odoo_sync/overview.html", context)
