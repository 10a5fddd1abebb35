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
        ambiguous = factory.Trait(
            tenant=factory.SubFactory(TenantFactory, pro=True),
            sync_state=SyncState.SYNC_ERROR,
            sync_retries=1,
            last_sync_error_kind="ambiguous",
            last_sync_error="Odoo has 2 configs named like this register: 7 'Bar', 9 'bar'",
            odoo_link_candidates=[
                {"id": 7, "name": "Bar", "active": True},
                {"id": 9, "name": "bar", "active": False},
            ],
        )
        dead_create = factory.Trait(
            tenant=factory.SubFactory(TenantFactory, pro=True),
            sync_state=SyncState.SYNC_ERROR,
            sync_retries=5,
            last_sync_error="Odoo unreachable",
        )
