"""Finding due work: which tenants and rows are due now, and when failed work falls due again.

Every query here runs on the partial index of pending rows, so it costs
O(pending), never O(all registers).
"""

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from cafe.models import Tenant
from registers.models import PosConfig, is_pending


def backoff_for(failures: int, schedule: list[int]) -> timedelta:
    """Delay after the n-th consecutive failure (1-based); the last step repeats."""
    return timedelta(minutes=schedule[min(failures, len(schedule)) - 1])


def _due(now: datetime) -> Q:
    return (
        is_pending()
        & Q(next_attempt_at__lte=now)
        & (Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    )


def due_tenants(*, now: datetime, include_backing_off: bool = False):
    """Sync-enabled tenants with due rows, as a queryset (one query on the partial index)."""
    due_tenant_ids = PosConfig.objects.filter(_due(now)).values("tenant_id")
    tenants = Tenant.objects.sync_enabled().filter(pk__in=due_tenant_ids)
    if not include_backing_off:
        tenants = tenants.filter(
            Q(odoo_next_attempt_at__isnull=True) | Q(odoo_next_attempt_at__lte=now)
        )
    return tenants.order_by("pk")


def tenants_with_due_work(
    *, now: datetime | None = None, include_backing_off: bool = False
) -> list[int]:
    """Ids of the tenants the tick drains (the command adds those backing off)."""
    tenants = due_tenants(now=now or timezone.now(), include_backing_off=include_backing_off)
    return list(tenants.values_list("pk", flat=True))


def never_contacted_tenants(*, now: datetime | None = None) -> list[int]:
    """Sync-enabled tenants whose connection Odoo has not answered yet, and not backing off.

    The tick drains them even with nothing due, so their first login happens:
    a refused key pauses (and mails), an Odoo out of reach backs off and
    counts as unreachable, instead of the tenant sitting unnoticed.
    """
    now = now or timezone.now()
    tenants = Tenant.objects.never_connected().filter(
        Q(odoo_next_attempt_at__isnull=True) | Q(odoo_next_attempt_at__lte=now)
    )
    return list(tenants.order_by("pk").values_list("pk", flat=True))


def count_due(tenant_id: int, *, now: datetime | None = None) -> int:
    return PosConfig.objects.filter(_due(now or timezone.now()), tenant_id=tenant_id).count()
