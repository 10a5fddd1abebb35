"""factory_boy factories for registers, in each sync state the design names."""

import factory
from django.utils import timezone

from cafe.tests.factories import TenantFactory
from registers.models import PosConfig, SyncState


class PosConfigFactory(factory.django.DjangoModelFactory):
    """A Starter tenant's local-only register by default; traits give the sync states."""

    class Meta:
        model = PosConfig

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Register {n}")
    sequence_prefix = factory.Sequence(lambda n: f"R{n}")
    sync_state = SyncState.SYNCED

    class Params:
        pushed = factory.Trait(
            tenant=factory.SubFactory(TenantFactory, pro=True),
            odoo_pos_config_id=factory.Sequence(lambda n: 1000 + n),
            last_synced_at=factory.LazyFunction(timezone.now),
        )
        pending_create = factory.Trait(
            tenant=factory.SubFactory(TenantFactory, pro=True),
            sync_state=SyncState.PENDING_CREATE,
            next_attempt_at=factory.LazyFunction(timezone.now),
        )
        dead_update = factory.Trait(
            pushed=True,
            sync_state=SyncState.SYNC_ERROR,
            sync_retries=5,
            last_sync_error="Odoo unreachable",
        )
        dead_create = factory.Trait(
            tenant=factory.SubFactory(TenantFactory, pro=True),
            sync_state=SyncState.SYNC_ERROR,
            sync_retries=5,
            last_sync_error="Odoo unreachable",
        )
