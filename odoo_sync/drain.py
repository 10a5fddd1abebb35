"""Draining a tenant's due registers into its Odoo: creates first, then updates."""

import logging
import time
from dataclasses import asdict, dataclass, fields

from django.conf import settings
from django.db import connection
from django.utils import timezone

from cafe.models import Tenant
from odoo_sync import queue
from odoo_sync.client import OdooClient
from odoo_sync.errors import (
    OdooAccessError,
    OdooAuthError,
    OdooError,
    OdooMissingRecordError,
    OdooTransientError,
    OdooUnreachableError,
    OdooValidationError,
)
from odoo_sync.locks import tenant_lock
from odoo_sync.payloads import build_pos_config_create_payload, build_pos_config_update_payload
from registers.models import ErrorKind

log = logging.getLogger("odoo_sync")


class TenantStatus:
    OK = "ok"  # drained everything that was due
    MORE = "more"  # stopped at its time budget with work left; another drain follows
    BUSY = "busy"  # another drain of this tenant holds the lock
    DISABLED = "disabled"  # not a Pro tenant with a complete connection
    PAUSED = "paused"  # credentials rejected: nothing is sent until the connection is edited
    BACKING_OFF = "backing_off"  # Odoo was unreachable; waiting for the tenant's next attempt
    UNREACHABLE = "unreachable"  # could not log in this time; the tenant backs off
    ENDED_EARLY = "ended_early"  # a row's call lost the connection; the rest wait for next drain
    GONE = "gone"  # the tenant was deleted after the drain was queued


@dataclass
class TenantResult:
    tenant_id: int
    tenant: str = ""
    status: str = TenantStatus.OK
    created: int = 0
    create_failed: int = 0
    updated: int = 0
    update_failed: int = 0
    dead_lettered: int = 0  # also counted in create_failed / update_failed
    skipped: int = 0  # due rows this drain left for a later one
    error: str = ""

    COUNTS = ("created", "create_failed", "updated", "update_failed", "dead_lettered", "skipped")

    @property
    def failed(self) -> int:
        return self.create_failed + self.update_failed

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Totals:
    tenants: int = 0
    created: int = 0
    create_failed: int = 0
    updated: int = 0
    update_failed: int = 0
    dead_lettered: int = 0
    skipped: int = 0

    @classmethod
    def of(cls, results: list[TenantResult]) -> "Totals":
        totals = cls(tenants=len(results))
        for result in results:
            for name in TenantResult.COUNTS:
                setattr(totals, name, getattr(totals, name) + getattr(result, name))
        return totals

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def client_for(tenant: Tenant) -> OdooClient:
    protocol = tenant.odoo_protocol
    if protocol == "auto" and tenant.odoo_detected_protocol:
        # What logged in last time: saves the detection round trips on every drain.
        protocol = tenant.odoo_detected_protocol
    return OdooClient(
        tenant.odoo_url,
        tenant.odoo_db,
        tenant.odoo_login,
        tenant.odoo_api_key,
        protocol=protocol,
        connect_timeout=settings.ODOO_CONNECT_TIMEOUT,
        read_timeout=settings.ODOO_READ_TIMEOUT,
    )


def _error_kind(exc: OdooError) -> str:
    if isinstance(exc, OdooTransientError):
        return ErrorKind.TRANSIENT
    if isinstance(exc, OdooMissingRecordError):
        return ErrorKind.MISSING
    if isinstance(exc, OdooValidationError):
        return ErrorKind.VALIDATION
    if isinstance(exc, OdooAccessError):
        return ErrorKind.ACCESS
    return ErrorKind.PERMANENT


def _describe(exc: OdooError, claim: queue.Claim) -> str:
    text = f"{type(exc).__name__}: {exc.message}"
    if isinstance(exc, OdooMissingRecordError):
        text = (
            f"pos.config {claim.odoo_pos_config_id} was deleted in Odoo, so this register "
            "cannot be updated there. Archive registers in Odoo instead of deleting them; "
            "'Retry sync now' creates it in Odoo again. Odoo said: " + exc.message
        )
    elif isinstance(exc, OdooUnreachableError) and exc.outcome_unknown:
        text += " (the call may have reached Odoo; the next attempt reconciles)"
    return text


class _Drain:
    """One drain of one tenant, holding its lock and one Odoo connection."""

    def __init__(self, tenant: Tenant, result: TenantResult, client: OdooClient, lock):
        self.tenant = tenant
        self.result = result
        self.client = client
        self.lock = lock
        self.outstanding: list[queue.Claim] = []
        # The most one row can take: a write may need a second call (the
        # search_count that confirms a record deleted in Odoo).
        self.row_budget = 2 * (settings.ODOO_CONNECT_TIMEOUT + settings.ODOO_READ_TIMEOUT)
        # Stop claiming early enough that one last row still ends inside the
        # task's soft time limit (the claims would outlive us otherwise).
        self.deadline = time.monotonic() + max(
            settings.SYNC_TASK_SOFT_TIME_LIMIT - self.row_budget - 5, 1
        )

    def run(self) -> None:
        if not self._login():
            return
        while True:
            if time.monotonic() > self.deadline:
                self.result.status = TenantStatus.MORE
                return
            if not self.lock.extend():
                # Our lease ran out and another drain holds the tenant now:
                # leave the tenant to it (property 1).
                self.result.status = TenantStatus.BUSY
                return
            claims = queue.claim_due(self.tenant.pk, limit=settings.SYNC_BATCH_SIZE)
            if not claims:
                return
            self.outstanding = list(claims)
            # A claim must not expire while its row is still in flight.
            claims_valid_until = (
                time.monotonic() + settings.SYNC_CLAIM_SECONDS - self.row_budget - 5
            )
            for claim in claims:
                if time.monotonic() > min(self.deadline, claims_valid_until):
                    break
                self.outstanding.remove(claim)
                if not self._push(claim):
                    if self.result.status == TenantStatus.OK:
                        self.result.status = TenantStatus.ENDED_EARLY
                    return
            if self.outstanding:
                self.result.skipped += queue.release_claims(self.outstanding)
                self.outstanding = []

    def release(self) -> None:
        if self.outstanding:
            self.result.skipped += queue.release_claims(self.outstanding)
            self.outstanding = []

    def _login(self) -> bool:
        tenant = self.tenant
        revision = tenant.odoo_connection_revision
        try:
            self.client.authenticate()
            version = tenant.odoo_server_version or self.client.version()["server_version"]
        except OdooAuthError as exc:
            # Only rejected credentials (or a database that does not exist)
            # pause: nothing but an edit of the connection can fix those.
            queue.pause_tenant(
                tenant.pk,
                connection_revision=revision,
                reason=f"Odoo rejected the connection: {exc.message}",
            )
            return self._stop(TenantStatus.PAUSED, exc)
        except OdooError as exc:
            # Anything else at login is the tenant's outage, whatever its shape
            # (refused, timeout, 5xx, a proxy's HTML page, Odoo failing to
            # reach its own database): back off and try again by itself.
            until = queue.record_tenant_unreachable(
                tenant.pk, connection_revision=revision, error=f"{type(exc).__name__}: {exc}"
            )
            log.warning(
                "odoo_sync tenant=%s unreachable next_attempt_at=%s error=%r",
                tenant.slug,
                until.isoformat() if until else "-",
                exc.message,
            )
            return self._stop(TenantStatus.UNREACHABLE, exc)
        queue.record_tenant_reachable(
            tenant.pk,
            connection_revision=revision,
            server_version=str(version),
            protocol=self.client.protocol_in_use if tenant.odoo_protocol == "auto" else "",
        )
        return True

    def _stop(self, status: str, exc: OdooError) -> bool:
        self.result.status = status
        self.result.error = exc.message
        self.result.skipped += queue.count_due(self.tenant.pk)
        return False

    def _push(self, claim: queue.Claim) -> bool:
        """Send one row to Odoo and record the outcome; False ends the drain."""
        started = time.monotonic()
        odoo_id = claim.odoo_pos_config_id
        try:
            if claim.action == queue.CREATE:
                payload = build_pos_config_create_payload(name=claim.name)
                odoo_id = self.client.upsert_pos_config(
                    external_id=claim.external_id, name=payload["name"], active=payload["active"]
                )
                outcome = queue.mark_create_pushed(
                    claim, odoo_id=odoo_id, pushed_name=claim.name, duration_ms=_ms(started)
                )
                self.result.created += outcome != queue.Outcome.SUPERSEDED
            else:
                payload = build_pos_config_update_payload(name=claim.name, active=claim.is_active)
                if payload:
                    self.client.write_pos_config(claim.odoo_pos_config_id, payload)
                outcome = queue.mark_update_synced(claim, duration_ms=_ms(started))
                self.result.updated += outcome != queue.Outcome.SUPERSEDED
            self._log(claim, odoo_id, outcome, started)
            return True
        except OdooAuthError as exc:
            # The key was revoked mid-drain: not the row's fault, so not charged.
            queue.release_claims([claim])
            queue.pause_tenant(
                claim.tenant_id,
                connection_revision=self.tenant.odoo_connection_revision,
                reason=f"Odoo rejected the connection: {exc}",
            )
            self._stop(TenantStatus.PAUSED, exc)
            self._log(claim, odoo_id, "paused", started, exc.message)
            return False
        except OdooError as exc:
            error = _describe(exc, claim)
            outcome = queue.mark_failed(
                claim, error=error, kind=_error_kind(exc), duration_ms=_ms(started)
            )
            if outcome != queue.Outcome.SUPERSEDED:
                if claim.action == queue.CREATE:
                    self.result.create_failed += 1
                else:
                    self.result.update_failed += 1
                self.result.dead_lettered += outcome == queue.Outcome.DEAD_LETTERED
            self._log(claim, odoo_id, outcome, started, error)
            if isinstance(exc, OdooUnreachableError):
                self.result.error = exc.message
                return False
            return True

    def _log(self, claim, odoo_id, outcome, started, error="") -> None:
        log.log(
            logging.WARNING if error else logging.INFO,
            "odoo_sync attempt tenant=%s register=%s odoo_id=%s action=%s outcome=%s "
            "duration_ms=%d error=%r",
            self.tenant.slug,
            claim.register_id,
            odoo_id,
            claim.action,
            outcome,
            _ms(started),
            error,
        )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def drain_tenant(tenant_id: int, *, ignore_outage_backoff: bool = False) -> TenantResult:
    """Push one tenant's due creates, then updates, to its Odoo.

    Holds the tenant's drain lock throughout (a second drain returns BUSY at
    once) and never a DB transaction while Odoo is called. `ignore_outage_backoff`
    is the operator's "try now": it skips the tenant's outage wait, never a
    credentials pause nor the rows' own backoff.
    """
    if connection.in_atomic_block:
        raise RuntimeError("drain_tenant waits on Odoo and must not run inside a transaction")
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return TenantResult(tenant_id=tenant_id, status=TenantStatus.GONE)
    result = TenantResult(tenant_id=tenant.pk, tenant=tenant.slug)
    if not (tenant.plan == "pro" and tenant.connection_complete):
        result.status = TenantStatus.DISABLED
        return result
    if tenant.odoo_paused_at is not None:
        result.status = TenantStatus.PAUSED
        result.error = tenant.odoo_paused_reason
        result.skipped = queue.count_due(tenant.pk)
        return result
    if not ignore_outage_backoff and tenant.odoo_next_attempt_at:
        if tenant.odoo_next_attempt_at > timezone.now():
            result.status = TenantStatus.BACKING_OFF
            result.error = tenant.odoo_last_error
            result.skipped = queue.count_due(tenant.pk)
            return result
    lock = tenant_lock(tenant.pk)
    if not lock.acquire():
        result.status = TenantStatus.BUSY
        return result
    try:
        with client_for(tenant) as client:
            drain = _Drain(tenant, result, client, lock)
            try:
                drain.run()
            finally:
                drain.release()
    finally:
        lock.release()
    return result


def drain_all(
    *, tenant_ids: list[int] | None = None, ignore_outage_backoff: bool = False
) -> tuple[list[TenantResult], Totals]:
    """Drain every tenant with due work (or the ones given), one after another.

    One tenant's failure is logged and never stops the others.
    """
    if tenant_ids is None:
        tenant_ids = queue.tenants_with_due_work(include_backing_off=ignore_outage_backoff)
    results = []
    for tenant_id in tenant_ids:
        try:
            results.append(drain_tenant(tenant_id, ignore_outage_backoff=ignore_outage_backoff))
        except Exception as exc:  # one tenant's bug must not stop the others
            log.exception("odoo_sync drain of tenant %s crashed", tenant_id)
            results.append(TenantResult(tenant_id=tenant_id, status="crashed", error=str(exc)))
    return results, Totals.of(results)
