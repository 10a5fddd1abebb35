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


def may_override_odoo(user) -> bool:
    """Whether `user` may have regsync write to a tenant's Odoo beyond resending its registers' edits.

    That is: overwrite what someone set in Odoo (Fix, local wins), create a
    pos.config again, or pick which pos.config a register is. It changes the
    customer's Odoo on a judgement about their data, so it is the operator's.
    Staff's own edits and their "Retry sync now" only resend what those edits
    already queued. The rule is written out in docs/admin.md ("Who may write
    to a tenant's Odoo").
    """
    return is_operator(user)


def tenants_for(user) -> QuerySet[Tenant]:
    if not _is_active_staff(user):
        return Tenant.objects.none()
    if user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=user).distinct()


def can_access_tenant(user, tenant_id: int) -> bool:
    return tenants_for(user).filter(pk=tenant_id).exists()
