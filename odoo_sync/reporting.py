"""How the queues stand: counts per state, the oldest due row, per tenant; the tick's health lines."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, OuterRef, Q, Subquery
from django.utils import timezone

from cafe.models import Plan, Tenant
from odoo_sync.models import NEEDS_ATTENTION, AuditFinding, AuditRun
from registers.models import PENDING_STATES, PosConfig, SyncState, is_dead_letter, is_pending

log = logging.getLogger("odoo_sync")


def per_state_counts(states=tuple(SyncState.values)) -> dict:
    """The one definition of "registers per sync state": aggregates to annotate with."""
    return {state: Count("pk", filter=Q(sync_state=state)) for state in states}


def _waiting(now: datetime) -> Q:
    """Rows that should have reached Odoo by now: pending, and their time has come."""
    return Q(sync_state__in=PENDING_STATES, next_attempt_at__lte=now)


def status_counts(*, tenant_id: int | None = None) -> dict[str, int]:
    rows = PosConfig.objects.all()
    if tenant_id is not None:
        rows = rows.filter(tenant_id=tenant_id)
    counts = rows.aggregate(pos_configs_total=Count("pk"), **per_state_counts())
    return {
        key: counts[key]
        for key in ("pos_configs_total", "pending_create", "pending_update", "sync_error", "synced")
    }


def queue_health(*, now: datetime | None = None) -> dict[int, dict]:
    """Per tenant: counts per state, dead letters, and the age of the oldest due row."""
    now = now or timezone.now()
    rows = (
        PosConfig.objects.values("tenant_id")
        .annotate(
            total=Count("pk"),
            **per_state_counts(),
            oldest_due=Min("next_attempt_at", filter=_waiting(now)),
        )
        .order_by("tenant_id")
    )
    health = {}
    for row in rows:
        oldest = row.pop("oldest_due")
        row["oldest_due_age"] = (now - oldest) if oldest else None
        health[row.pop("tenant_id")] = row
    return health


def due_by_state(*, now: datetime) -> dict[int, dict[str, tuple[int, timedelta | None]]]:
    """Per tenant with rows waiting, per pending state: how many, and how long the oldest waits.

    One query on the partial index of pending rows (as queue_health's oldest due row).
    """
    oldest = {
        f"oldest_{state}": Min("next_attempt_at", filter=Q(sync_state=state))
        for state in PENDING_STATES
    }
    rows = (
        PosConfig.objects.filter(is_pending(), _waiting(now))
        .values("tenant_id")
        .annotate(**per_state_counts(PENDING_STATES), **oldest)
        .order_by()
    )
    return {
        row["tenant_id"]: {
            state: (row[state], (now - row[f"oldest_{state}"]) if row[f"oldest_{state}"] else None)
            for state in PENDING_STATES
        }
        for row in rows
    }


def last_audit_runs(tenant_ids):
    """The latest drift audit of each of these tenants (one query); ids may be a queryset."""
    latest = (
        AuditRun.objects.filter(tenant_id=OuterRef("pk"))
        .order_by("-started_at", "-id")
        .values("pk")
    )
    last_ids = Tenant.objects.filter(pk__in=tenant_ids).annotate(last=Subquery(latest[:1]))
    return AuditRun.objects.filter(pk__in=last_ids.values("last"))


def open_findings_by_tenant(tenant_ids) -> dict[int, dict[str, int]]:
    """Per tenant, its unresolved drift findings: how many need a decision, how many are
    ignored (one query)."""
    rows = (
        AuditFinding.objects.filter(tenant_id__in=tenant_ids, resolved_at__isnull=True)
        .values("tenant_id")
        .annotate(
            needing=Count("pk", filter=NEEDS_ATTENTION),
            ignored=Count("pk", filter=Q(decision=AuditFinding.Decision.IGNORED)),
        )
        .order_by()
    )
    return {row.pop("tenant_id"): row for row in rows}


def findings_needing_attention(tenant_ids):
    """The drift findings of these tenants that need a decision; ids may be a queryset."""
    return AuditFinding.objects.filter(NEEDS_ATTENTION, tenant_id__in=tenant_ids)


def unsettled_by_tenant(*, now: datetime) -> dict[int, dict]:
    """Per Pro tenant: pending counts, oldest due row, dead letters. O(unsettled rows).

    Two queries, each on its own partial index (pending work, dead letters),
    so the tick never reads the registers that are simply synced. Starter
    tenants never sync, so rows they kept from a Pro past are left out.
    """
    blank = {"pending_create": 0, "pending_update": 0, "oldest_due_age": None, "sync_error": 0}
    health: dict[int, dict] = {}
    pending = (
        PosConfig.objects.filter(is_pending())
        .values("tenant_id")
        .annotate(
            **per_state_counts(PENDING_STATES),
            oldest_due=Min("next_attempt_at", filter=Q(next_attempt_at__lte=now)),
        )
        .order_by()
    )
    for row in pending:
        oldest = row["oldest_due"]
        health[row["tenant_id"]] = {
            **blank,
            "pending_create": row["pending_create"],
            "pending_update": row["pending_update"],
            "oldest_due_age": (now - oldest) if oldest else None,
        }
    dead = PosConfig.objects.filter(is_dead_letter()).values("tenant_id").annotate(n=Count("pk"))
    for row in dead.order_by():
        health.setdefault(row["tenant_id"], dict(blank))["sync_error"] = row["n"]
    pro = set(
        Tenant.objects.filter(pk__in=list(health), plan=Plan.PRO).values_list("pk", flat=True)
    )
    return {tenant_id: counts for tenant_id, counts in health.items() if tenant_id in pro}


def log_queue_health(*, now: datetime | None = None) -> None:
    """One line per Pro tenant with due work or dead letters, so a stuck queue shows in the logs.

    WARNING once the oldest due row has waited longer than SYNC_STUCK_AFTER_MINUTES
    or there are dead letters; INFO otherwise. Starter tenants never sync, so
    rows they kept from a Pro past are not reported.
    """
    now = now or timezone.now()
    health = unsettled_by_tenant(now=now)
    slugs = dict(Tenant.objects.filter(pk__in=list(health)).values_list("pk", "slug"))
    stuck_after = timedelta(minutes=settings.SYNC_STUCK_AFTER_MINUTES)
    for tenant_id, counts in sorted(health.items()):
        age = counts["oldest_due_age"]
        if age is None and not counts["sync_error"]:
            continue
        stuck = (age is not None and age > stuck_after) or counts["sync_error"] > 0
        log.log(
            logging.WARNING if stuck else logging.INFO,
            "odoo_sync queue tenant=%s oldest_due_age_s=%s dead_letters=%d "
            "pending_create=%d pending_update=%d",
            slugs.get(tenant_id, tenant_id),
            int(age.total_seconds()) if age is not None else "-",
            counts["sync_error"],
            counts["pending_create"],
            counts["pending_update"],
        )
