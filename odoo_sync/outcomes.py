"""Outcomes: what a claimed row becomes once Odoo answered, recorded only while the claim holds.

Each outcome is an event on the locked row (`registers.state`) and a
`SyncAttempt` in the history; an outcome whose claim was ended meanwhile is
`superseded` and changes nothing.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cafe.models import Tenant
from odoo_sync import alerts
from odoo_sync.claims import CREATE, UPDATE, Claim
from odoo_sync.due import backoff_for
from odoo_sync.models import SyncAttempt
from registers.models import ErrorKind, PosConfig, SyncState
from registers.services import relink_register
from registers.state import SYNC_ACTOR, Event, apply_event, lock_register

log = logging.getLogger("odoo_sync")

Outcome = SyncAttempt.Outcome


_CLAIMED_STATE = {CREATE: SyncState.PENDING_CREATE, UPDATE: SyncState.PENDING_UPDATE}


def _record(claim: Claim, outcome: str, *, odoo_id=None, duration_ms=0, error="") -> str:
    SyncAttempt.objects.create(
        tenant_id=claim.tenant_id,
        register_id=claim.register_id,
        action=claim.action,
        outcome=outcome,
        odoo_pos_config_id=odoo_id,
        duration_ms=duration_ms,
        error=error[:2000],
    )
    return outcome


def _holding(claim: Claim) -> PosConfig | None:
    """The locked row, only if the outcome of this claim may still be recorded on it.

    The claim must still be the row's (every re-queueing event ends claims),
    the row still in the state the claim was made for, and the tenant still on
    the connection the drain logged in with. A claim that fails only the last
    test is given back: the row is due again, against the tenant's new Odoo.
    """
    row = lock_register(claim.register_id)
    if row.claim_token != claim.token or row.sync_state != _CLAIMED_STATE[claim.action]:
        return None
    if connection_revision_of(claim.tenant_id) != claim.connection_revision:
        row.claim_token = row.claimed_until = None
        row.save(update_fields=["claim_token", "claimed_until"])
        return None
    return row


def connection_revision_of(tenant_id: int) -> int | None:
    return (
        Tenant.objects.filter(pk=tenant_id)
        .values_list("odoo_connection_revision", flat=True)
        .first()
    )


def mark_create_pushed(
    claim: Claim,
    *,
    odoo_id: int,
    pushed_name: str,
    pushed_active: bool = True,
    duration_ms: int = 0,
) -> str:
    """Store the Odoo id of a landed create; queue an update if Odoo is behind the row.

    A name or active flag that differs from what Odoo now holds (the create
    makes an active pos.config; a link keeps the config's own values) means
    Odoo is behind: the row is re-read under its lock in the transaction that
    stores the id, and local truth is written next.
    """
    with transaction.atomic():
        row = _holding(claim)
        if row is None:
            return _record(claim, Outcome.SUPERSEDED, odoo_id=odoo_id, duration_ms=duration_ms)
        _unlink_stale_holders(claim, odoo_id)
        apply_event(
            row,
            Event.CREATE_LANDED,
            actor=SYNC_ACTOR,
            detail=f"pos.config {odoo_id}",
            odoo_id=odoo_id,
        )
        if row.name != pushed_name or row.is_active != pushed_active:
            apply_event(
                row,
                Event.EDITED,
                actor=SYNC_ACTOR,
                detail="Odoo's values differ from the register's",
            )
            return _record(claim, Outcome.REQUEUED, odoo_id=odoo_id, duration_ms=duration_ms)
        return _record(claim, Outcome.SYNCED, odoo_id=odoo_id, duration_ms=duration_ms)


def _unlink_stale_holders(claim: Claim, odoo_id: int) -> None:
    """Another register of the tenant claiming this Odoo id holds a stale link.

    Odoo's external id says the pos.config is this register's, so an older
    link to the same id (the tenant's Odoo database was restored or replaced)
    points at somebody else's record: that register is queued to be created
    again, where the upsert finds or makes its own.
    """
    stale = PosConfig.objects.filter(tenant_id=claim.tenant_id, odoo_pos_config_id=odoo_id)
    for pk in stale.exclude(pk=claim.register_id).values_list("pk", flat=True):
        relink_register(
            pk, detail=f"pos.config {odoo_id} belongs to register {claim.register_id} in Odoo"
        )


def mark_update_synced(claim: Claim, *, duration_ms: int = 0) -> str:
    """Mark a written update synced, if the claim still holds.

    An edit made while the write was in flight ended the claim (and queued a
    fresh update), so it is never marked synced: this records `superseded`.
    """
    with transaction.atomic():
        row = _holding(claim)
        odoo_id = claim.odoo_pos_config_id
        if row is None:
            return _record(claim, Outcome.SUPERSEDED, odoo_id=odoo_id, duration_ms=duration_ms)
        apply_event(row, Event.WRITE_LANDED, actor=SYNC_ACTOR, detail=f"pos.config {odoo_id}")
        return _record(claim, Outcome.SYNCED, odoo_id=odoo_id, duration_ms=duration_ms)


def mark_failed(
    claim: Claim, *, error: str, kind: str, duration_ms: int = 0, candidates: list | None = None
) -> str:
    """Charge the row an attempt: back off, or dead-letter at the last attempt or a permanent fault.

    `kind` is an ErrorKind: TRANSIENT backs off; any other kind is permanent and
    dead-letters at once, since retrying cannot help until someone acts.
    """
    now = timezone.now()
    with transaction.atomic():
        row = _holding(claim)
        if row is None:
            return _record(claim, Outcome.SUPERSEDED, duration_ms=duration_ms, error=error)
        failures = row.sync_retries + 1
        if kind != ErrorKind.TRANSIENT or failures >= settings.SYNC_MAX_ATTEMPTS:
            apply_event(
                row,
                Event.DEAD_LETTERED,
                actor=SYNC_ACTOR,
                detail=error[:500],
                retries=failures,
                error=error,
                kind=ErrorKind.EXHAUSTED if kind == ErrorKind.TRANSIENT else kind,
                candidates=candidates or [],
            )
            alerts.raise_alert(
                claim.tenant_id,
                subject=f"Register {row.name!r} of {row.tenant.name} could not be synced",
                body=f"regsync gave up sending register {row.name!r} to Odoo after "
                f"{failures} attempt(s); it waits for an operator.\n\n{error}",
            )
            return _record(claim, Outcome.DEAD_LETTERED, duration_ms=duration_ms, error=error)
        apply_event(
            row,
            Event.ATTEMPT_FAILED,
            actor=SYNC_ACTOR,
            detail=error[:500],
            retries=failures,
            error=error,
            kind=kind,
            next_attempt_at=now + backoff_for(failures, settings.SYNC_BACKOFF_MINUTES),
        )
        return _record(claim, Outcome.RETRY, duration_ms=duration_ms, error=error)
