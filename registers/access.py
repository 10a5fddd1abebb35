"""Which registers a user may see: those of the tenants `cafe.access` gives them."""

from django.db.models import QuerySet

from cafe.access import is_operator, tenants_for
from registers.models import PosConfig, SyncState


def registers_for(user) -> QuerySet[PosConfig]:
    if is_operator(user):
        return PosConfig.objects.all()
    return PosConfig.objects.filter(tenant__in=tenants_for(user).values("pk"))


def dead_letters_for(user) -> QuerySet[PosConfig]:
    return (
        registers_for(user)
        .filter(sync_state=SyncState.SYNC_ERROR)
        .select_related("tenant")
        .order_by("tenant__name", "name", "pk")
    )
