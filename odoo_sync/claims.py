"""Claims: a drain's lease on the rows it is pushing, taken and given back in short transactions.

A drain claims a batch, talks to Odoo with no transaction open, and records
each outcome (`odoo_sync.outcomes`) only while its claim is still the row's
(DESIGN properties 2-4).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

from odoo_sync.due import _due
from odoo_sync.models import SyncAttempt
from registers.models import PosConfig, SyncState, odoo_external_id

CREATE, UPDATE = SyncAttempt.Action.CREATE, SyncAttempt.Action.UPDATE


@dataclass(frozen=True)
class Claim:
    """A drain's lease on one register, with the values it read when claiming."""

    register_id: int
    tenant_id: int
    token: uuid.UUID
    action: str
    name: str
    is_active: bool
    revision: int
    odoo_pos_config_id: int | None
    uuid: uuid.UUID
    sync_retries: int
    # The tenant's connection the drain logged in with: an outcome is recorded
    # only while the tenant still points at that Odoo.
    connection_revision: int
    # Onboarding: a create first looks for a config of the same name in Odoo;
    # an update of a row an operator linked attaches regsync's external id first.
    matches_name: bool = True
    link_unconfirmed: bool = False
    # regsync made the config: an update is sent by its external id (never onto another's).
    made_by_regsync: bool = False
    # What Odoo holds as of the last landed create or write (None: not known).
    odoo_name: str | None = None
    odoo_active: bool | None = None

    def update_payload(self) -> dict:
        """What an update sends: only the values Odoo does not hold already (both if unknown)."""
        vals = {}
        if self.odoo_name is None or self.name != self.odoo_name:
            vals["name"] = self.name
        if self.odoo_active is None or self.is_active != self.odoo_active:
            vals["active"] = self.is_active
        return vals

    @property
    def external_id(self) -> tuple[str, str]:
        return odoo_external_id(self.uuid)


def claimable(tenant_id: int, *, now: datetime):
    """A tenant's due, unclaimed rows in drain order: creates first, oldest due first."""
    return (
        PosConfig.objects.filter(_due(now), tenant_id=tenant_id)
        .annotate(
            create_first=Case(
                When(sync_state=SyncState.PENDING_CREATE, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("create_first", "next_attempt_at", "pk")
    )


def claim_due(
    tenant_id: int, *, limit: int, connection_revision: int, now: datetime | None = None
) -> list[Claim]:
    """Lease up to `limit` due rows of a tenant, creates before updates.

    Two drains never hold the same row: on PostgreSQL rows locked by another
    claimer are skipped; on SQLite the IMMEDIATE transaction serialises
    claimers. A lease runs out after SYNC_CLAIM_SECONDS, so a dead worker's
    rows come back by themselves.
    """
    now = now or timezone.now()
    token = uuid.uuid4()
    until = now + timedelta(seconds=settings.SYNC_CLAIM_SECONDS)
    with transaction.atomic():
        rows = claimable(tenant_id, now=now)
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        rows = list(rows[:limit])
        if not rows:
            return []
        PosConfig.objects.filter(pk__in=[r.pk for r in rows]).update(
            claim_token=token, claimed_until=until
        )
    return [
        Claim(
            register_id=r.pk,
            tenant_id=r.tenant_id,
            token=token,
            action=CREATE if r.sync_state == SyncState.PENDING_CREATE else UPDATE,
            name=r.name,
            is_active=r.is_active,
            revision=r.revision,
            odoo_pos_config_id=r.odoo_pos_config_id,
            uuid=r.uuid,
            sync_retries=r.sync_retries,
            connection_revision=connection_revision,
            matches_name=r.odoo_create_matches_name,
            link_unconfirmed=r.odoo_link_unconfirmed,
            made_by_regsync=r.odoo_made_by_regsync,
            # A claim that expired (its drain died) may have changed Odoo: unknown.
            odoo_name=None if r.claim_token else r.odoo_name,
            odoo_active=None if r.claim_token else r.odoo_active,
        )
        for r in rows
    ]


def release_claims(claims: list[Claim], *, to_the_back: bool = False) -> int:
    """Give rows back uncharged (no attempt counted), if the leases are still ours.

    `to_the_back`: due again, but after the rows that waited longer, so a row
    that met a tenant outage does not come first again when Odoo is back.
    """
    released = 0
    back = {"next_attempt_at": timezone.now()} if to_the_back else {}
    for token in {c.token for c in claims}:
        ids = [c.register_id for c in claims if c.token == token]
        # Given back after a call may have reached Odoo: what it holds is unknown now.
        released += PosConfig.objects.filter(pk__in=ids, claim_token=token).update(
            claim_token=None, claimed_until=None, odoo_name=None, odoo_active=None, **back
        )
    return released
