"""Who may see what: every admin queryset is scoped through these functions.

Superusers (operators) see every tenant; other staff see only the tenants they
hold a Membership of, and those tenants' registers and sync history. A user
who is not active staff sees nothing.
"""

from django.db.models import QuerySet

from cafe.models import Tenant
from odoo_sync.models import SyncAttempt
from registers.models import PosConfig, SyncState


def _is_active_staff(user) -> bool:
    return bool(user.is_active and user.is_staff)


def is_operator(user) -> bool:
    """Operators run the whole service: every tenant, Odoo URLs, plans, re-creating in Odoo."""
    return _is_active_staff(user) and user.is_superuser


def tenants_for(user) -> QuerySet[Tenant]:
    if not _is_active_staff(user):
        return Tenant.objects.none()
    if user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=user).distinct()


def can_access_tenant(user, tenant_id: int) -> bool:
    return tenants_for(user).filter(pk=tenant_id).exists()


def registers_for(user) -> QuerySet[PosConfig]:
    if is_operator(user):
        return PosConfig.objects.all()
    return PosConfig.objects.filter(tenant__in=tenants_for(user).values("pk"))


def sync_attempts_for(user) -> QuerySet[SyncAttempt]:
    if is_operator(user):
        return SyncAttempt.objects.all()
    return SyncAttempt.objects.filter(tenant__in=tenants_for(user).values("pk"))


def dead_letters_for(user) -> QuerySet[PosConfig]:
    return (
        registers_for(user)
        .filter(sync_state=SyncState.SYNC_ERROR)
        .select_related("tenant")
        .order_by("tenant__name", "name", "pk")
    )
