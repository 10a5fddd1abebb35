"""The sync queues: finding due work, claiming it, and recording each outcome.

A drain claims rows in one short transaction, talks to Odoo with no
transaction open, and records the outcome in another short transaction that
writes only if the claim is still its own (DESIGN properties 2-4).
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, IntegerField, Min, Q, Value, When
from django.utils import timezone

from cafe.models import Plan, Tenant
from odoo_sync.models import SyncAttempt, SyncHeartbeat
from registers.models import (
    PENDING_STATES,
    ErrorKind,
    PosConfig,
    SyncState,
    is_dead_letter,
    is_pending,
    odoo_external_id,
)
from registers.services import relink_register
from registers.state import SYNC_ACTOR, Event, apply_event, lock_register

log = logging.getLogger("odoo_sync")

CREATE, UPDATE = SyncAttempt.Action.CREATE, SyncAttempt.Action.UPDATE
Outcome = SyncAttempt.Outcome


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

    @property
    def external_id(self) -> tuple[str, str]:
        return odoo_external_id(self.uuid)


def backoff_for(failures: int, schedule: list[int]) -> timedelta:
    """Delay after the n-th consecutive failure (1-based); the last step repeats."""
    return timedelta(minutes=schedule[min(failures, len(schedule)) - 1])


# --- finding due work ----------------------------------------------------------------


def _due(now: datetime) -> Q:
    return (
        is_pending()
        & Q(next_attempt_at__lte=now)
        & (Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    )


def due_tenants(*, now: datetime, include_backing_off: bool = False):
    """Sync-enabled tenants with due rows, as a queryset (one query on the partial index)."""
    due_tenant_ids = PosConfig.objects.filter(_due(now)).values("tenant_id")
    tenants = Tenant.objects.sync_enabled().filter(pk__in=due_tenant_ids)
    if not include_backing_off:
        tenants = tenants.filter(
            Q(odoo_next_attempt_at__isnull=True) | Q(odoo_next_attempt_at__lte=now)
        )
    return tenants.order_by("pk")


def tenants_with_due_work(
    *, now: datetime | None = None, include_backing_off: bool = False
) -> list[int]:
    """Ids of the tenants the tick drains (the command adds those backing off)."""
    tenants = due_tenants(now=now or timezone.now(), include_backing_off=include_backing_off)
    return list(tenants.values_list("pk", flat=True))


def count_due(tenant_id: int, *, now: datetime | None = None) -> int:
    return PosConfig.objects.filter(_due(now or timezone.now()), tenant_id=tenant_id).count()


# --- claiming ------------------------------------------------------------------------


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
        released += PosConfig.objects.filter(pk__in=ids, claim_token=token).update(
            claim_token=None, claimed_until=None, **back
        )
    return released


# --- recording outcomes --------------------------------------------------------------

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
    claim: Claim, *, odoo_id: int, pushed_name: str, duration_ms: int = 0
) -> str:
    """Store the Odoo id of a landed create; queue an update if the row moved on meanwhile.

    A name that differs from the one pushed, or an inactive register (the
    create always makes an active pos.config), means Odoo is behind: the row
    is re-read under its lock in the transaction that stores the id.
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
        if row.name != pushed_name or not row.is_active:
            apply_event(
                row, Event.EDITED, actor=SYNC_ACTOR, detail="changed while the create was in flight"
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


def mark_failed(claim: Claim, *, error: str, kind: str, duration_ms: int = 0) -> str:
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


# --- tenant-level health --------------------------------------------------------------


def _same_connection(tenant_id: int, connection_revision: int):
    """The tenant row, only while its connection is the one a drain logged in with."""
    return Tenant.objects.filter(pk=tenant_id, odoo_connection_revision=connection_revision)


def record_tenant_reachable(
    tenant_id: int, *, connection_revision: int, server_version: str = "", protocol: str = ""
) -> None:
    """Odoo answered a login: remember the version and the protocol that logged in.

    An outage is not ended here: an Odoo that accepts logins but fails every
    row is still down for this tenant (see `record_tenant_healthy`).
    """
    _same_connection(tenant_id, connection_revision).filter(
        ~Q(odoo_server_version=server_version) | ~Q(odoo_detected_protocol=protocol)
    ).update(odoo_server_version=server_version, odoo_detected_protocol=protocol)


def record_tenant_healthy(tenant_id: int, *, connection_revision: int) -> None:
    """Odoo did the work a drain asked of it: end any outage backoff of the tenant."""
    _same_connection(tenant_id, connection_revision).filter(
        Q(odoo_unreachable_since__isnull=False)
        | Q(odoo_outage_failures__gt=0)
        | Q(odoo_next_attempt_at__isnull=False)
    ).update(
        odoo_unreachable_since=None,
        odoo_outage_failures=0,
        odoo_next_attempt_at=None,
        odoo_last_error="",
    )


def record_tenant_unreachable(
    tenant_id: int, *, connection_revision: int, error: str
) -> datetime | None:
    """Odoo could not be reached at login: the tenant backs off, its rows keep their attempts.

    The schedule's last step repeats for as long as the outage lasts; a tenant
    is never dead-lettered. Returns the next attempt time, or None when the
    connection was edited meanwhile (the edit already cleared the backoff).
    """
    now = timezone.now()
    with transaction.atomic():
        tenant = _same_connection(tenant_id, connection_revision).select_for_update().first()
        if tenant is None:
            return None
        tenant.odoo_outage_failures += 1
        tenant.odoo_unreachable_since = tenant.odoo_unreachable_since or now
        tenant.odoo_next_attempt_at = now + backoff_for(
            tenant.odoo_outage_failures, settings.SYNC_TENANT_BACKOFF_MINUTES
        )
        tenant.odoo_last_error = error[:2000]
        tenant.save(
            update_fields=[
                "odoo_outage_failures",
                "odoo_unreachable_since",
                "odoo_next_attempt_at",
                "odoo_last_error",
            ]
        )
    return tenant.odoo_next_attempt_at


def try_tenant_now(tenant_id: int, *, connection_revision: int) -> bool:
    """End a tenant's outage wait: its next drain may run at once (the outage stays shown)."""
    return bool(
        _same_connection(tenant_id, connection_revision)
        .filter(odoo_next_attempt_at__isnull=False)
        .update(odoo_next_attempt_at=None)
    )


def pause_tenant(tenant_id: int, *, connection_revision: int, reason: str) -> bool:
    """Odoo rejected the credentials: send nothing more until the connection is edited.

    False when the connection was edited after the drain logged in with it:
    the rejection was of the old credentials, so nothing is paused.
    """
    paused = _same_connection(tenant_id, connection_revision).update(
        odoo_paused_at=timezone.now(), odoo_paused_reason=reason[:2000]
    )
    return paused == 1


# --- reporting -----------------------------------------------------------------------


def status_counts(*, tenant_id: int | None = None) -> dict[str, int]:
    rows = PosConfig.objects.all()
    if tenant_id is not None:
        rows = rows.filter(tenant_id=tenant_id)
    counts = rows.aggregate(
        pos_configs_total=Count("pk"),
        **{state: Count("pk", filter=Q(sync_state=state)) for state in SyncState.values},
    )
    return {
        key: counts[key]
        for key in ("pos_configs_total", "pending_create", "pending_update", "sync_error", "synced")
    }


def queue_health(*, now: datetime | None = None) -> dict[int, dict]:
    """Per tenant: counts per state, dead letters, and the age of the oldest due row."""
    now = now or timezone.now()
    rows = (
        PosConfig.objects.values("tenant_id")
        .annotate(
            total=Count("pk"),
            pending_create=Count("pk", filter=Q(sync_state=SyncState.PENDING_CREATE)),
            pending_update=Count("pk", filter=Q(sync_state=SyncState.PENDING_UPDATE)),
            sync_error=Count("pk", filter=Q(sync_state=SyncState.SYNC_ERROR)),
            synced=Count("pk", filter=Q(sync_state=SyncState.SYNCED)),
            oldest_due=Min(
                "next_attempt_at",
                filter=Q(sync_state__in=PENDING_STATES, next_attempt_at__lte=now),
            ),
        )
        .order_by("tenant_id")
    )
    health = {}
    for row in rows:
        oldest = row.pop("oldest_due")
        row["oldest_due_age"] = (now - oldest) if oldest else None
        health[row.pop("tenant_id")] = row
    return health


def unsettled_by_tenant(*, now: datetime) -> dict[int, dict]:
    """Per Pro tenant: pending counts, oldest due row, dead letters. O(unsettled rows).

    Two queries, each on its own partial index (pending work, dead letters),
    so the tick never reads the registers that are simply synced. Starter
    tenants never sync, so rows they kept from a Pro past are left out.
    """
    blank = {"pending_create": 0, "pending_update": 0, "oldest_due_age": None, "sync_error": 0}
    health: dict[int, dict] = {}
    pending = (
        PosConfig.objects.filter(is_pending())
        .values("tenant_id")
        .annotate(
            pending_create=Count("pk", filter=Q(sync_state=SyncState.PENDING_CREATE)),
            pending_update=Count("pk", filter=Q(sync_state=SyncState.PENDING_UPDATE)),
            oldest_due=Min("next_attempt_at", filter=Q(next_attempt_at__lte=now)),
        )
        .order_by()
    )
    for row in pending:
        oldest = row["oldest_due"]
        health[row["tenant_id"]] = {
            **blank,
            "pending_create": row["pending_create"],
            "pending_update": row["pending_update"],
            "oldest_due_age": (now - oldest) if oldest else None,
        }
    dead = PosConfig.objects.filter(is_dead_letter()).values("tenant_id").annotate(n=Count("pk"))
    for row in dead.order_by():
        health.setdefault(row["tenant_id"], dict(blank))["sync_error"] = row["n"]
    pro = set(
        Tenant.objects.filter(pk__in=list(health), plan=Plan.PRO).values_list("pk", flat=True)
    )
    return {tenant_id: counts for tenant_id, counts in health.items() if tenant_id in pro}


def log_queue_health(*, now: datetime | None = None) -> None:
    """One line per Pro tenant with due work or dead letters, so a stuck queue shows in the logs.

    WARNING once the oldest due row has waited longer than SYNC_STUCK_AFTER_MINUTES
    or there are dead letters; INFO otherwise. Starter tenants never sync, so
    rows they kept from a Pro past are not reported.
    """
    now = now or timezone.now()
    health = unsettled_by_tenant(now=now)
    slugs = dict(Tenant.objects.filter(pk__in=list(health)).values_list("pk", "slug"))
    stuck_after = timedelta(minutes=settings.SYNC_STUCK_AFTER_MINUTES)
    for tenant_id, counts in sorted(health.items()):
        age = counts["oldest_due_age"]
        if age is None and not counts["sync_error"]:
            continue
        stuck = (age is not None and age > stuck_after) or counts["sync_error"] > 0
        log.log(
            logging.WARNING if stuck else logging.INFO,
            "odoo_sync queue tenant=%s oldest_due_age_s=%s dead_letters=%d "
            "pending_create=%d pending_update=%d",
            slugs.get(tenant_id, tenant_id),
            int(age.total_seconds()) if age is not None else "-",
            counts["sync_error"],
            counts["pending_create"],
            counts["pending_update"],
        )


def beat(name: str) -> None:
    """Record that `name` (the tick, a worker) ran just now."""
    SyncHeartbeat.objects.update_or_create(name=name, defaults={"at": timezone.now()})


def last_beat(name: str) -> datetime | None:
    return SyncHeartbeat.objects.filter(name=name).values_list("at", flat=True).first()


def prune_attempts(*, now: datetime | None = None) -> int:
    """Delete sync history older than SYNC_ATTEMPT_RETENTION_DAYS."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.SYNC_ATTEMPT_RETENTION_DAYS)
    deleted, _ = SyncAttempt.objects.filter(created_at__lt=cutoff).delete()
    return deleted
