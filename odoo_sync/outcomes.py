"""Outcomes: what a claimed row becomes once Odoo answered, recorded only while the claim holds.

Each outcome is an event on the locked row (`registers.state`) and a
`SyncAttempt` in the history; an outcome whose claim was ended meanwhile is
`superseded` and changes nothing. A drain records a whole batch at once
(`record_batch`): one transaction that locks the batch's rows in one
statement and writes the rows (one UPDATE per set of changed fields), their
events and their attempts in one statement each.
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
from registers.services import holder_of_odoo_config, relink_register
from registers.state import SYNC_ACTOR, BatchWrites, Event, apply_event

log = logging.getLogger("odoo_sync")

Outcome = SyncAttempt.Outcome


_CLAIMED_STATE = {CREATE: SyncState.PENDING_CREATE, UPDATE: SyncState.PENDING_UPDATE}


class _Batch:
    """One transaction's view of the rows it records: locked together, written together."""

    def __init__(self, claims: list[Claim], created_ids: list[int]):
        ids = sorted({c.register_id for c in claims})
        # One statement locks every row, in id order (two batches never deadlock).
        self.rows = {
            row.pk: row
            for row in PosConfig.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        }
        self.revisions = dict(
            Tenant.objects.filter(pk__in={c.tenant_id for c in claims}).values_list(
                "pk", "odoo_connection_revision"
            )
        )
        self.attempts: list[SyncAttempt] = []
        self.writes = BatchWrites()
        # Who holds each Odoo id a create of this batch landed on (one statement).
        self.holders: dict[int, set[int]] = {}
        if created_ids:
            held = PosConfig.objects.filter(
                tenant_id__in=self.revisions, odoo_pos_config_id__in=created_ids
            ).values_list("odoo_pos_config_id", "pk")
            for odoo_id, pk in held:
                self.holders.setdefault(odoo_id, set()).add(pk)

    def write(self) -> None:
        self.writes.write()
        SyncAttempt.objects.bulk_create(self.attempts)


def _record(
    claim: Claim, outcome: str, batch: _Batch, *, odoo_id=None, duration_ms=0, error=""
) -> str:
    batch.attempts.append(
        SyncAttempt(
            tenant_id=claim.tenant_id,
            register_id=claim.register_id,
            action=claim.action,
            outcome=outcome,
            odoo_pos_config_id=odoo_id,
            duration_ms=duration_ms,
            error=error[:2000],
        )
    )
    return outcome


def _holding(claim: Claim, batch: _Batch) -> PosConfig | None:
    """The locked row, only if the outcome of this claim may still be recorded on it.

    The claim must still be the row's (every re-queueing event ends claims),
    the row still in the state the claim was made for, and the tenant still on
    the connection the drain logged in with. A claim that fails only the last
    test is given back: the row is due again, against the tenant's new Odoo.
    """
    row = batch.rows.get(claim.register_id)
    if row is None:
        return None  # deleted meanwhile
    if row.claim_token != claim.token or row.sync_state != _CLAIMED_STATE[claim.action]:
        return None
    if batch.revisions.get(claim.tenant_id) != claim.connection_revision:
        row.claim_token = row.claimed_until = None
        row.odoo_name = row.odoo_active = None  # the old Odoo's values mean nothing now
        row.save(update_fields=["claim_token", "claimed_until", "odoo_name", "odoo_active"])
        return None
    return row


def record_batch(entries: list[tuple[str, Claim, dict]]) -> list[str]:
    """Record a batch of outcomes in one transaction; each entry's Outcome, in order.

    `entries`: `("create_pushed" | "update_synced" | "failed", claim, keyword
    arguments of the matching `mark_*`)`.
    """
    if not entries:
        return []
    recorders = {
        "create_pushed": _create_pushed,
        "update_synced": _update_synced,
        "failed": _failed,
        "not_ours": _not_ours,
    }
    with transaction.atomic():
        # The ids that rows of this batch take: a create's, an update's moved with its
        # external id. Whoever else holds one holds a stale link.
        created = [kw["odoo_id"] for kind, _, kw in entries if kind == "create_pushed"]
        created += [
            kw["odoo_id"]
            for kind, claim, kw in entries
            if kind == "update_synced" and kw.get("odoo_id") not in (None, claim.odoo_pos_config_id)
        ]
        batch = _Batch([claim for _, claim, _ in entries], created)
        recorded = [recorders[kind](claim, batch, **kwargs) for kind, claim, kwargs in entries]
        batch.write()
    return recorded


def connection_revision_of(tenant_id: int) -> int | None:
    return (
        Tenant.objects.filter(pk=tenant_id)
        .values_list("odoo_connection_revision", flat=True)
        .first()
    )


def mark_create_pushed(claim: Claim, **kwargs) -> str:
    """`_create_pushed` for one claim, in its own transaction."""
    return record_batch([("create_pushed", claim, kwargs)])[0]


def mark_update_synced(claim: Claim, **kwargs) -> str:
    """`_update_synced` for one claim, in its own transaction."""
    return record_batch([("update_synced", claim, kwargs)])[0]


def mark_failed(claim: Claim, **kwargs) -> str:
    """`_failed` for one claim, in its own transaction."""
    return record_batch([("failed", claim, kwargs)])[0]


def _create_pushed(
    claim: Claim,
    batch: _Batch,
    *,
    odoo_id: int,
    pushed_name: str,
    pushed_active: bool = True,
    linked: bool = False,
    duration_ms: int = 0,
) -> str:
    """Store the Odoo id of a landed create; queue an update if Odoo is behind the row.

    `linked`: the create took the config Odoo already had under the
    register's name (odoo_sync.linking), recorded as such, not as created.
    A name or active flag that differs from what Odoo now holds (the create
    makes an active pos.config; a link keeps the config's own values) means
    Odoo is behind: the row is re-read under its lock in the transaction that
    stores the id, and local truth is written next.
    """
    row = _holding(claim, batch)
    if row is None:
        return _record(claim, Outcome.SUPERSEDED, batch, odoo_id=odoo_id, duration_ms=duration_ms)
    if linked and holder_of_odoo_config(row.tenant, odoo_id, exclude=claim.register_id):
        # Decided under the onboarding lock, recorded after its lease ran out (a stalled
        # worker): another register took the config meanwhile. Given back, uncharged: the
        # next lookup sees that link (DESIGN 13: never one config for two registers).
        row.claim_token = row.claimed_until = None
        row.save(update_fields=["claim_token", "claimed_until"])
        return _record(claim, Outcome.SUPERSEDED, batch, odoo_id=odoo_id, duration_ms=duration_ms)
    _unlink_stale_holders(claim, odoo_id, batch)
    apply_event(
        row,
        Event.LINKED_EXISTING if linked else Event.CREATE_LANDED,
        writes=batch.writes,
        actor=SYNC_ACTOR,
        detail=f"pos.config {odoo_id} {pushed_name!r}" + (" (found by name)" if linked else ""),
        odoo_id=odoo_id,
        odoo_name=pushed_name,
        odoo_active=pushed_active,
    )
    if row.name != pushed_name or row.is_active != pushed_active:
        apply_event(
            row,
            Event.EDITED,
            writes=batch.writes,
            actor=SYNC_ACTOR,
            detail="Odoo's values differ from the register's",
        )
        return _record(claim, Outcome.REQUEUED, batch, odoo_id=odoo_id, duration_ms=duration_ms)
    return _record(claim, Outcome.SYNCED, batch, odoo_id=odoo_id, duration_ms=duration_ms)


def _unlink_stale_holders(claim: Claim, odoo_id: int, batch: _Batch) -> None:
    """Another register of the tenant claiming this Odoo id holds a stale link.

    Odoo's external id says the pos.config is this register's, so an older
    link to the same id (the tenant's Odoo database was restored or replaced)
    points at somebody else's record: that register is queued to be created
    again, where the upsert finds or makes its own.
    """
    holders = batch.holders.get(odoo_id, set()) - {claim.register_id}
    if holders:
        batch.writes.write_rows()  # relinking reads them from the database
    for pk in sorted(holders):
        relink_register(
            pk, detail=f"pos.config {odoo_id} belongs to register {claim.register_id} in Odoo"
        )
        if pk in batch.rows:
            batch.rows[pk].refresh_from_db()  # relinked: its claim in this batch is over


def _update_synced(
    claim: Claim, batch: _Batch, *, odoo_id: int | None = None, duration_ms: int = 0
) -> str:
    """Mark a written update synced, if the claim still holds.

    An edit made while the write was in flight ended the claim (and queued a
    fresh update), so it is never marked synced: this records `superseded`.
    `odoo_id`: the record Odoo wrote, when the update went by the register's
    external id; another than the one held means Odoo has the register's
    config under another id now (restored from a backup): that id is stored,
    and any other register holding it has a stale link, as after a create.
    """
    row = _holding(claim, batch)
    odoo_id = odoo_id or claim.odoo_pos_config_id
    if row is None:
        return _record(claim, Outcome.SUPERSEDED, batch, odoo_id=odoo_id, duration_ms=duration_ms)
    detail = f"pos.config {odoo_id}"
    if odoo_id != claim.odoo_pos_config_id:
        _unlink_stale_holders(claim, odoo_id, batch)
        detail += f" (its external id's record; pos.config {claim.odoo_pos_config_id} is not)"
    apply_event(
        row,
        Event.WRITE_LANDED,
        writes=batch.writes,
        actor=SYNC_ACTOR,
        detail=detail,
        odoo_id=odoo_id,
        odoo_name=claim.name,
        odoo_active=claim.is_active,
    )
    return _record(claim, Outcome.SYNCED, batch, odoo_id=odoo_id, duration_ms=duration_ms)


def _not_ours(claim: Claim, batch: _Batch, *, error: str, duration_ms: int = 0) -> str:
    """The row's config carries another register's external id: its link is stale, nothing
    was written, and the register is queued to be created again (uncharged)."""
    row = _holding(claim, batch)
    if row is None:
        return _record(claim, Outcome.SUPERSEDED, batch, duration_ms=duration_ms, error=error)
    batch.writes.write_rows()  # relinking reads the row from the database
    relink_register(row.pk, detail=error[:500])
    row.refresh_from_db()
    return _record(
        claim,
        Outcome.RELINKED,
        batch,
        odoo_id=claim.odoo_pos_config_id,
        duration_ms=duration_ms,
        error=error,
    )


def _failed(
    claim: Claim,
    batch: _Batch,
    *,
    error: str,
    kind: str,
    duration_ms: int = 0,
    candidates: list | None = None,
) -> str:
    """Charge the row an attempt: back off, or dead-letter at the last attempt or a permanent fault.

    `kind` is an ErrorKind: TRANSIENT backs off; any other kind is permanent and
    dead-letters at once, since retrying cannot help until someone acts.
    """
    now = timezone.now()
    row = _holding(claim, batch)
    if row is None:
        return _record(claim, Outcome.SUPERSEDED, batch, duration_ms=duration_ms, error=error)
    failures = row.sync_retries + 1
    if kind != ErrorKind.TRANSIENT or failures >= settings.SYNC_MAX_ATTEMPTS:
        apply_event(
            row,
            Event.DEAD_LETTERED,
            writes=batch.writes,
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
        return _record(claim, Outcome.DEAD_LETTERED, batch, duration_ms=duration_ms, error=error)
    apply_event(
        row,
        Event.ATTEMPT_FAILED,
        writes=batch.writes,
        actor=SYNC_ACTOR,
        detail=error[:500],
        retries=failures,
        error=error,
        kind=kind,
        next_attempt_at=now + backoff_for(failures, settings.SYNC_BACKOFF_MINUTES),
    )
    return _record(claim, Outcome.RETRY, batch, duration_ms=duration_ms, error=error)
