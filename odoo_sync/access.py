"""Which sync history a user may see: that of the tenants `cafe.access` gives them."""

from django.db.models import QuerySet

from cafe.access import is_operator, tenants_for
from odoo_sync.models import SyncAttempt


def sync_attempts_for(user) -> QuerySet[SyncAttempt]:
    if is_operator(user):
        return SyncAttempt.objects.all()
    return SyncAttempt.objects.filter(tenant__in=tenants_for(user).values("pk"))
