"""Who may see what: every admin queryset is scoped through these functions.

Superusers (operators) see every tenant; other staff see only the tenants they
hold a Membership of. A user who is not active staff sees nothing. The apps
above scope their own rows by these (`registers.access`, `odoo_sync.access`).
"""

from django.db.models import QuerySet

from cafe.models import Tenant


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
