"""Draining a tenant's due registers into its Odoo: creates first, then updates."""

import logging
import math
import time
from dataclasses import asdict, dataclass, fields

from django.conf import settings
from django.db import connection
from django.utils import timezone

from cafe.models import Tenant
from config import logging as log_context
from odoo_client.client import OdooClient
from odoo_client.errors import (
    OdooAuthError,
    OdooBatchError,
    OdooError,
    OdooMissingRecordError,
    OdooMovedCompanyError,
    OdooNotOursError,
    OdooNotSentError,
    OdooTransientError,
    OdooValidationError,
)
from odoo_sync import blame, claims, due, outcomes, sessions, tenant_health
from odoo_sync.explain import explain
from odoo_sync.linking import Onboarding
from odoo_sync.locks import odoo_lock, tenant_lock
from odoo_sync.payloads import build_pos_config_create_payload
from registers.models import another_registers_external_id

log = logging.getLogger("odoo_sync")


class TenantStatus:
    OK = "ok"  # drained everything that was due
    MORE = "more"  # stopped at its time budget with work left; another drain follows
    BUSY = "busy"  # another drain of this tenant holds the lock (or of this Odoo, to link)
    DISABLED = "disabled"  # not a Pro tenant with a complete connection
    PAUSED = "paused"  # credentials rejected: nothing is sent until the connection is edited
    BACKING_OFF = "backing_off"  # Odoo was unreachable; waiting for the tenant's next attempt
    UNREACHABLE = "unreachable"  # could not log in this time; the tenant backs off
    ENDED_EARLY = "ended_early"  # a row's call lost the connection; the rest wait for next drain
    GONE = "gone"  # the tenant was deleted after the drain was queued
    CHANGED = "changed"  # plan, pause or connection changed mid-drain: stopped, rows given back


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


def client_for(tenant: Tenant, *, uid: int | None = None) -> OdooClient:
    """A new client for the tenant's Odoo; `uid`: one a login of this connection returned."""
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
        # The address is checked again at every connect: a name that resolved
        # to a public address when saved may point inside the network now.
        allow_private_addresses=settings.ODOO_ALLOW_PRIVATE_URLS,
        uid=uid,
        # Every call runs in the tenant's company, where it names one (docs/odoo.md).
        company_id=tenant.odoo_company_id,
    )


def _by_external_id(claim: claims.Claim) -> bool:
    """An update sent by the register's external id: only to a config regsync made, whose
    external id was born with it (docs/odoo.md "Writing only what is ours")."""
    return claim.made_by_regsync and not claim.link_unconfirmed


@dataclass(frozen=True)
class CallOutcome:
    """What Odoo did with one row: its pos.config id, or the error; and how long it took."""

    odoo_id: int | None
    error: OdooError | None
    duration_ms: int
    # A create linked to an existing config holds that config's values, not the row's.
    pushed_name: str | None = None
    pushed_active: bool = True
    # The error is a call's shared with other rows that named none of them (odoo_sync.blame).
    shared: bool = False
    # It took a config Odoo already had (onboarding), rather than making one.
    linked: bool = False


class Drain:
    """One drain of one tenant, holding its lock and one Odoo connection, run step by step.

    `open_drain` makes one; `drain_tenant` runs its steps in order (login,
    then per batch: claim_batch, next_claim / call / record per row,
    end_batch; then finish; close always). A test may interleave anything
    between two steps: an edit between a row's call and its record, a second
    drain or a connection edit between two batches.

    Only `call` and `call_batch` talk to Odoo; they hold no transaction
    (onboarding's lookup reads which candidates other registers already
    link); every other step is short DB work. Once a step ends the drain
    (`over`), the steps after it do nothing and `claim_batch` returns False.

    No Odoo call outlasts the drain's time (5 s before the task's soft time
    limit) or its lease (the claims and the tenant lock, 5 s before they run
    out): the client does not start a call that could (`OdooClient.end_by`),
    and the rows it was for are given back uncharged. What Odoo answered is
    kept until recorded, so `close` records it even if the batch was cut short.

    Whose a failure is decides what it costs: `odoo_sync.blame` says, the
    drain does it (charge the row, hold it, or give rows back and stop).
    """

    def __init__(self, tenant: Tenant, result: TenantResult, client: OdooClient, lock):
        self.tenant = tenant
        self.revision = tenant.odoo_connection_revision
        self.result = result
        self.client = client
        # A kept client (odoo_sync.sessions) still holds the last drain's time budget: a
        # login this drain needs must not be refused by it. Each batch sets its own.
        client.end_by = None
        self.lock = lock
        # The id on every line this drain logs: drain_tenant's, or a new one when stepped by hand.
        current = log_context.current()
        self.correlation_id = current if current != "-" else log_context.new_id("drain")
        self.over = False  # ended: nothing more is claimed or sent
        self.closed = False
        # Claimed in this batch and not sent (not taken yet, or not sent in time):
        # `end_batch` gives them back uncharged.
        self.outstanding: list[claims.Claim] = []
        self.links_read: set[int] = set()  # linked rows whose configs' external ids were read
        # Taken to be sent and not recorded yet (by register id, in batch order),
        # and what Odoo answered for them so far.
        self.in_flight: dict[int, claims.Claim] = {}
        self.obtained: dict[int, CallOutcome] = {}
        self.held = blame.Held(settings.SYNC_SAME_FAILURE_LIMIT)  # failures not charged yet
        self.went_through = False  # a row's call succeeded in this drain
        # Outcomes to record with the batch: (kind, claim, arguments, then(outcome)).
        self.pending: list[tuple] = []
        self.onboarding = Onboarding(tenant, client, self.correlation_id)
        self.batches = 0  # claimed so far
        self.odoo_lock = None  # this Odoo's onboarding lock, held for one batch
        self.odoo_busy = False  # another tenant's drain held it: claim no more batches
        self.healthy_recorded = False
        # The most one row can take: a write may need a second call (the
        # search_count that confirms a record deleted in Odoo).
        self.row_budget = 2 * (settings.ODOO_CONNECT_TIMEOUT + settings.ODOO_READ_TIMEOUT)
        # The last moment a row is taken: one row's calls still end 5 s inside
        # the task's soft time limit, leaving that to record them. The same
        # budget holds under `odoo_sync --once` and a thread pool, where no time
        # limit kills the task. `claims_valid_until` is the same for the lease.
        self.deadline = time.monotonic() + max(
            settings.SYNC_TASK_SOFT_TIME_LIMIT - self.row_budget - 5, 1
        )
        self.claims_valid_until = self.deadline
        self._bound_calls()

    def __enter__(self) -> "Drain":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- the steps ---------------------------------------------------------------------

    # The uid this drain's login recorded on the tenant (None: it did not log in).
    reachable_recorded_for: int | None = None

    def login(self) -> bool:
        """Log in to the tenant's Odoo unless a login of this connection already did (its uid
        and version are known); False ends the drain (paused, or the tenant's outage).

        Without a login the first model call proves the key: Odoo's "Access
        Denied" there is told from a stale uid by one login (OdooClient.execute_kw),
        and a rejected key pauses the tenant as at login (`record`).
        """
        tenant = self.tenant
        self.client.request_id = self.correlation_id  # Odoo's logs can be matched with ours
        if self.client.uid is not None and tenant.odoo_server_version:
            return True
        try:
            uid = self.client.authenticate()
            version = tenant.odoo_server_version or self.client.version()["server_version"]
        except OdooNotSentError:
            self.over = True
            self.result.status = TenantStatus.MORE
            return False
        except OdooAuthError as exc:
            # Only rejected credentials (or a database that does not exist)
            # pause: nothing but an edit of the connection can fix those.
            reason = explain(exc, tenant).text
            tenant_health.pause_tenant(tenant.pk, connection_revision=self.revision, reason=reason)
            log.warning(
                "odoo_sync tenant=%s paused reason=%r",
                tenant.slug,
                reason,
                extra={"correlation_id": self.correlation_id, "tenant": tenant.slug},
            )
            return self._stop(TenantStatus.PAUSED, exc)
        except OdooError as exc:
            # Anything else at login is the tenant's outage, whatever its shape
            # (refused, timeout, 5xx, a proxy's HTML page, Odoo failing to
            # reach its own database): back off and try again by itself.
            return self._tenant_outage(exc)
        tenant_health.record_tenant_reachable(
            tenant.pk,
            connection_revision=self.revision,
            uid=uid,
            server_version=str(version),
            protocol=self.client.protocol_in_use if tenant.odoo_protocol == "auto" else "",
        )
        self.reachable_recorded_for = uid
        return True

    def claim_batch(self) -> bool:
        """Claim the next batch of due rows; False when there is none to claim (then `finish`).

        Plan, pause and connection are read again before each batch (property
        11); a change ends the drain with every row given back.
        """
        if self.over:
            return False
        if time.monotonic() > self.deadline:
            self.result.status = TenantStatus.MORE
            return False
        if self.odoo_busy:
            # Its creates would wait again: the next tick or push tries them.
            self.result.status = TenantStatus.BUSY
            return False
        lease_from = time.monotonic()  # the lock and the claims run from here
        if not self.lock.extend():
            # Our lease ran out and another drain holds the tenant now:
            # leave the tenant to it (property 1).
            self.result.status = TenantStatus.BUSY
            return False
        # The first batch follows open_drain's own read of the tenant: read again from the next.
        if self.batches and not self._still_eligible():
            self.over = True
            self.release()
            return False
        self.batches += 1
        batch = claims.claim_due(
            self.tenant.pk, limit=settings.SYNC_BATCH_SIZE, connection_revision=self.revision
        )
        self.outstanding = list(batch)
        self.onboarding.new_batch()  # one name lookup per batch
        self.links_read = set()
        # Neither a claim nor the lock may run out while a row is in flight.
        self.claims_valid_until = lease_from + settings.SYNC_CLAIM_SECONDS - self.row_budget - 5
        self._bound_calls()
        return bool(batch)

    def next_claim(self) -> claims.Claim | None:
        """The batch's next row to send, or None: the batch is done or its time ran out."""
        if self.over or not self.outstanding:
            return None
        if time.monotonic() > min(self.deadline, self.claims_valid_until):
            return None
        claim = self.outstanding.pop(0)
        self.in_flight[claim.register_id] = claim
        return claim

    def call(self, claim: claims.Claim) -> CallOutcome:
        """Send one row to Odoo. No transaction is open: the outcome is recorded by `record`."""
        started = time.monotonic()
        try:
            if claim.action == claims.CREATE:
                linked = self._link_to_existing(claim, started)
                if linked is not None:
                    return self._obtained(claim, linked)
                payload = build_pos_config_create_payload(name=claim.name)
                odoo_id = self.client.upsert_pos_config(
                    external_id=claim.external_id, name=payload["name"], active=payload["active"]
                )
            else:
                odoo_id = claim.odoo_pos_config_id
                if claim.link_unconfirmed:  # its metadata is read: never another's
                    self.onboarding.attach_external_id(odoo_id, claim)
                payload = claim.update_payload()
                if payload and _by_external_id(claim):
                    odoo_id = self.client.write_own_pos_config(
                        odoo_id, claim.external_id, claim.name, claim.is_active
                    )
                elif payload:
                    if not claim.link_unconfirmed:
                        for refused in self._refuse_anothers([claim]).values():
                            raise refused
                    self.client.write_pos_config(odoo_id, payload)
        except OdooError as exc:
            return self._obtained(claim, CallOutcome(claim.odoo_pos_config_id, exc, _ms(started)))
        return self._obtained(claim, CallOutcome(odoo_id, None, _ms(started)))

    def take_batch(self) -> list[claims.Claim]:
        """Every row of the batch that may still be sent now (see `next_claim`)."""
        taken = []
        while (claim := self.next_claim()) is not None:
            taken.append(claim)
        return taken

    def call_batch(self, batch: list[claims.Claim]) -> list[tuple[claims.Claim, CallOutcome]]:
        """Send a batch to Odoo in as few calls as Odoo allows, without changing what an outcome means.

        The creates go in one `pos.config.load` (after one name lookup for
        onboarding); updates that send the same values share one `write`, and
        the other updates (renames: each its own values) share one `load` by
        database id. A call Odoo refuses is split until the row at fault is
        found, so one bad row costs one row. A shared call failing without
        naming a row is split, each row alone, or is every row's and the
        tenant's (`odoo_sync.blame`): never one row's for the others. After a
        failure that ends the drain, and once time is out, nothing more is
        sent: those rows are not sent. Outcomes come back in the batch's order;
        no transaction is open.
        """
        creates = [c for c in batch if c.action == claims.CREATE]
        updates = [c for c in batch if c.action != claims.CREATE]
        upserts = []
        matching = [c for c in creates if c.matches_name]
        if matching and not self._onboarding_lock():
            # Another tenant on this Odoo is linking configs now: these creates wait,
            # uncharged, for a later drain (which must not take one it just linked).
            waiting = OdooNotSentError("another tenant on this Odoo is linking its registers")
            for claim in matching:
                self.obtained[claim.register_id] = CallOutcome(None, waiting, 0)
            creates, matching = [c for c in creates if not c.matches_name], []
        if matching:
            started = time.monotonic()
            try:
                self.onboarding.look_up(matching)  # every create's name, in one search
            except OdooError as exc:  # one search for every create's name: it names none
                self._every_row(matching, exc, started)
                creates = [c for c in creates if not c.matches_name]
        for claim in creates:
            started = time.monotonic()
            try:
                linked = self._link_to_existing(claim, started)
            except OdooError as exc:
                self._obtained(claim, CallOutcome(None, exc, _ms(started)))
                continue
            if linked is None:
                upserts.append(claim)
            else:
                self._obtained(claim, linked)
        self._load(upserts, self._send_creates)
        # A config regsync made is written by its external id, all in one `load`; a linked
        # one by its id, once a read of the batch's external ids shows none is another's.
        own = [c for c in updates if c.update_payload() and _by_external_id(c)]
        self._load(own, self._send_own_updates)
        linked = [
            c for c in updates if c not in own and c.update_payload() and not c.link_unconfirmed
        ]
        linked = self._without_anothers(linked)
        same_values: dict[tuple, list[claims.Claim]] = {}
        for claim in updates:
            if claim in own:
                continue
            payload = claim.update_payload()
            if claim.link_unconfirmed or not payload:
                self.call(claim)  # attach first / nothing to send
                continue
            if claim not in linked:
                continue  # another's: its outcome is obtained
            same_values.setdefault(tuple(sorted(payload.items())), []).append(claim)
        same_fields: dict[tuple, list[claims.Claim]] = {}
        for payload, group in same_values.items():
            if len(group) > 1:
                self._write(group, dict(payload))
            else:
                same_fields.setdefault(tuple(k for k, _ in payload), []).append(group[0])
        for group in same_fields.values():
            self._load(group, self._send_updates)
        return [(claim, self.obtained[claim.register_id]) for claim in batch]

    def _send_creates(self, rows: list[claims.Claim]) -> list[int]:
        return self.client.upsert_pos_configs([(c.external_id, c.name, True) for c in rows])

    def _send_own_updates(self, rows: list[claims.Claim]) -> list[int]:
        return self.client.write_own_pos_configs(
            [(c.odoo_pos_config_id, c.external_id, c.name, c.is_active) for c in rows]
        )

    def _without_anothers(self, rows: list[claims.Claim]) -> list[claims.Claim]:
        """These rows, but for those whose config carries another register's external id
        (their outcome: `OdooNotOursError`); one read for all of them (property 14)."""
        if not rows:
            return rows
        started = time.monotonic()
        try:
            refused = self._refuse_anothers(rows)
        except OdooError as exc:  # one read for every row: it names none
            if blame.shared_failure_is_split(exc, went_through=self._gone_through()):
                return rows  # each is sent alone, and checked alone (`call`)
            self._every_row(rows, exc, started)
            return []
        for claim, error in refused.items():
            self._obtained(claim, CallOutcome(claim.odoo_pos_config_id, error, _ms(started)))
        return [c for c in rows if c not in refused]

    def _refuse_anothers(self, rows: list[claims.Claim]) -> dict[claims.Claim, OdooNotOursError]:
        """Which of these linked rows' configs carry another register's external id in Odoo:
        a stale link (Odoo restored from a backup), never written."""
        rows = [c for c in rows if c.register_id not in self.links_read]
        if not rows:
            return {}
        xids = self.client.regsync_external_ids([c.odoo_pos_config_id for c in rows])
        self.links_read.update(c.register_id for c in rows)
        refused = {}
        for claim in rows:
            other = another_registers_external_id(
                xids.get(claim.odoo_pos_config_id, ()), claim.uuid
            )
            if other is not None:
                refused[claim] = OdooNotOursError(
                    f"pos.config {claim.odoo_pos_config_id} carries {other}, another "
                    "register's external id (Odoo restored from a backup?): not written; "
                    "the register is created again"
                )
        return refused

    def _send_updates(self, rows: list[claims.Claim]) -> list[int]:
        self.client.update_pos_configs([(c.odoo_pos_config_id, c.update_payload()) for c in rows])
        return [c.odoo_pos_config_id for c in rows]

    def _load(self, rows: list[claims.Claim], send, *, split: bool = True) -> None:
        """One `load` for these rows (`send`); Odoo's verdict per row, the rest sent again."""
        if not rows:
            return
        if len(rows) == 1:
            self.call(rows[0])
            return
        started = time.monotonic()
        try:
            ids = send(rows)
        except OdooBatchError as exc:
            took = _ms(started)
            named = set(exc.failed_rows) - set(exc.uncertain_rows)
            for index in named:
                if index in exc.not_ours_rows:
                    cls = OdooNotOursError
                elif index in exc.moved_rows:
                    cls = OdooMovedCompanyError
                elif index in exc.missing_rows:
                    cls = OdooMissingRecordError
                elif index in exc.transient_rows:
                    cls = OdooTransientError
                else:
                    cls = OdooValidationError
                claim, error = rows[index], cls(exc.failed_rows[index], fault_code="load")
                self._obtained(claim, CallOutcome(claim.odoo_pos_config_id, error, took))
            rest = [c for i, c in enumerate(rows) if i not in named]
            if not split or not named or len(rest) == len(rows):
                # Odoo named no row it can be told from: each row is tried alone.
                for claim in rest:
                    self.call(claim)
                return
            self._load(rest, send, split=False)
            return
        except OdooError as exc:
            if blame.shared_failure_is_split(exc, went_through=self._gone_through()):
                # A refusal of the whole call that names no row (a conflict, a
                # rights error, the connection): each row answers for itself.
                for claim in rows:
                    self.call(claim)
            else:
                self._every_row(rows, exc, started)
            return
        took = _ms(started)
        for claim, odoo_id in zip(rows, ids, strict=True):
            self._obtained(claim, CallOutcome(odoo_id, None, took))

    def _every_row(self, rows: list[claims.Claim], exc: OdooError, started: float) -> None:
        """A failure that says nothing about a row (the connection, the key, no time) is every
        row's, none of them more than the others (`shared`)."""
        took = _ms(started)
        for claim in rows:
            outcome = CallOutcome(claim.odoo_pos_config_id, exc, took, shared=len(rows) > 1)
            self._obtained(claim, outcome)

    def _write(self, rows: list[claims.Claim], vals: dict) -> None:
        """One `write` of the same values on these rows; a refusal is split to find its row."""
        if len(rows) == 1 or not vals:
            for claim in rows:
                self.call(claim)
            return
        started = time.monotonic()
        try:
            self.client.write_pos_configs([c.odoo_pos_config_id for c in rows], vals)
        except OdooMissingRecordError as exc:
            took = _ms(started)
            gone = set(exc.missing_ids)
            for claim in rows:
                if claim.odoo_pos_config_id in gone:
                    self._obtained(claim, CallOutcome(claim.odoo_pos_config_id, exc, took))
            self._write([c for c in rows if c.odoo_pos_config_id not in gone], vals)
            return
        except OdooError as exc:
            if blame.shared_failure_is_split(exc, went_through=self._gone_through()):
                # Which row Odoo refused is not said: halve until it is found.
                half = len(rows) // 2
                self._write(rows[:half], vals)
                self._write(rows[half:], vals)
            else:
                self._every_row(rows, exc, started)
            return
        took = _ms(started)
        for claim in rows:
            self._obtained(claim, CallOutcome(claim.odoo_pos_config_id, None, took))

    def _obtained(self, claim: claims.Claim, outcome: CallOutcome) -> CallOutcome:
        """Keep what Odoo answered for a row until it is recorded; after a failure that ends
        the drain, the client sends nothing more."""
        self.obtained[claim.register_id] = outcome
        if outcome.error is not None and blame.stops_sending(outcome.error):
            self.client.end_by = -math.inf
        return outcome

    def _gone_through(self) -> bool:
        """A row of this drain went through: recorded, or answered in this batch."""
        return self.went_through or any(o.error is None for o in self.obtained.values())

    def _bound_calls(self) -> None:
        """No call may end after the drain's time or its lease (`deadline`, `claims_valid_until`
        are when a row's calls may last start)."""
        self.client.end_by = min(self.deadline, self.claims_valid_until) + self.row_budget

    # --- onboarding: link to the config Odoo already has, don't duplicate it -------------

    def _link_to_existing(self, claim: claims.Claim, started: float) -> CallOutcome | None:
        """A create linked to the config Odoo already has (odoo_sync.linking); None: create it."""
        # Sent row by row, the batch's other creates share this row's lookup.
        self.onboarding.look_up([claim, *self.outstanding])
        match = self.onboarding.link(claim)
        if match is None:
            return None
        return CallOutcome(
            match["id"],
            None,
            _ms(started),
            pushed_name=match["name"],
            pushed_active=match["active"],
            linked=True,
        )

    def record(self, claim: claims.Claim, outcome: CallOutcome) -> bool:
        """Record what Odoo did with the row, charged to whom it is due; False ends the drain."""
        self.in_flight.pop(claim.register_id, None)
        self.obtained.pop(claim.register_id, None)
        exc, duration_ms = outcome.error, outcome.duration_ms
        if exc is None:
            return self._landed(claim, outcome)
        if isinstance(exc, OdooNotOursError):
            return self._not_ours(claim, outcome)
        whose = blame.whose(exc, went_through=self.went_through, shared=outcome.shared)
        if whose == blame.Whose.NOT_SENT:
            self.outstanding.append(claim)  # given back with the batch's unsent rows
            self._log(claim, outcome.odoo_id, "not_sent", duration_ms)
            return True
        if whose == blame.Whose.PAUSE:
            # The key was revoked mid-drain: not the row's fault, so not charged.
            self.outstanding.append(claim)
            tenant_health.pause_tenant(
                claim.tenant_id,
                connection_revision=self.revision,
                reason=explain(exc, self.tenant).text,
            )
            self._log(claim, outcome.odoo_id, "paused", duration_ms, exc.message)
            return self._stop(TenantStatus.PAUSED, exc)
        if whose == blame.Whose.TENANT:
            # Given back, to the back of the queue.
            claims.release_claims([claim], to_the_back=True)
            self._log(claim, outcome.odoo_id, "tenant_outage", duration_ms, exc.message)
            return self._tenant_outage(exc)
        if whose == blame.Whose.ROW_ENDS_DRAIN:
            self._charge_held()
            self._charge(claim, exc, duration_ms)
            self.result.error = exc.message
            self.result.status = TenantStatus.ENDED_EARLY
            self.over = True
            self.release()
            return False
        if whose == blame.Whose.HELD:
            return self._hold(claim, exc, duration_ms)
        self._charge_held()
        self._charge(claim, exc, duration_ms)
        return True

    def end_batch(self) -> None:
        """Give back, uncharged, the batch's rows not sent, or sent and not recorded (the drain
        ended first); then, the batch's links recorded, let other tenants on this Odoo link."""
        self._release(self.outstanding + list(self.in_flight.values()))
        self.outstanding, self.in_flight, self.obtained = [], {}, {}
        self._release_onboarding_lock()

    def _onboarding_lock(self) -> bool:
        """Hold this Odoo's onboarding lock for the batch (False: another tenant's drain does).

        Tenants sharing an Odoo look up, link and record existing configs one
        drain at a time, so two never take the same config (odoo_sync.linking).
        A drain that finds it taken claims no more batches: it ends `busy`.
        """
        if self.odoo_lock is None:
            lock = odoo_lock(self.tenant)
            if not lock.acquire():
                self.odoo_busy = True
                return False
            self.odoo_lock = lock
        return True

    def _release_onboarding_lock(self) -> None:
        lock, self.odoo_lock = self.odoo_lock, None
        if lock is not None:
            lock.release()

    def finish(self) -> None:
        """Decide whose the failures still held are; a drain that did its work ends any outage."""
        if self.over:
            return
        self.over = True
        if self._settle_held():
            self._healthy()
        self.flush()

    def close(self) -> None:
        """Record what Odoo answered and is not recorded yet (a batch cut short: the task's
        soft time limit, an error), give back every row still claimed, keep the client for
        the tenant's next drain in this process (odoo_sync.sessions) or close it, release
        the lock (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            for register_id, claim in list(self.in_flight.items()):
                outcome = self.obtained.get(register_id)
                if self.over or outcome is None:
                    continue
                if not self.record(claim, outcome):
                    break
            self.over = True
            self.release()
            uid = self.client.uid
            if self.went_through and uid is not None and uid != self.reachable_recorded_for:
                # Odoo took work with a uid no login of this drain recorded: when, and which.
                tenant_health.record_tenant_contact(
                    self.tenant, connection_revision=self.revision, uid=uid
                )
        finally:
            try:
                if self.result.status in (
                    TenantStatus.PAUSED,
                    TenantStatus.CHANGED,
                    TenantStatus.GONE,
                ):
                    self.client.close()  # a rejected key, an edited connection, no tenant
                else:
                    sessions.pool.give_back(self.tenant, self.client)
            finally:
                try:
                    self._release_onboarding_lock()  # after the links were recorded
                finally:
                    self.lock.release()

    # --- what the steps share ----------------------------------------------------------

    def _landed(self, claim: claims.Claim, outcome: CallOutcome) -> bool:
        # Odoo took it, so whatever was held was the rows' own.
        self.went_through = True
        self._healthy()
        self._charge_held()

        def then(recorded: str) -> None:
            counted = recorded != outcomes.Outcome.SUPERSEDED
            if claim.action == claims.CREATE:
                self.result.created += counted
            else:
                self.result.updated += counted
            self._log(claim, outcome.odoo_id, recorded, outcome.duration_ms)

        if claim.action == claims.CREATE:
            kwargs = {
                "odoo_id": outcome.odoo_id,
                "pushed_name": outcome.pushed_name or claim.name,
                "pushed_active": outcome.pushed_active,
                "linked": outcome.linked,
                "duration_ms": outcome.duration_ms,
            }
            self.pending.append(("create_pushed", claim, kwargs, then))
        else:
            kwargs = {"odoo_id": outcome.odoo_id, "duration_ms": outcome.duration_ms}
            self.pending.append(("update_synced", claim, kwargs, then))
        return True

    def _not_ours(self, claim: claims.Claim, outcome: CallOutcome) -> bool:
        """Its link is stale: nothing was written, and the register is created again (its
        create finds its own config by external id, or looks Odoo up by name)."""

        def then(recorded: str) -> None:
            self._log(claim, outcome.odoo_id, recorded, outcome.duration_ms, outcome.error.message)

        kwargs = {"error": outcome.error.message, "duration_ms": outcome.duration_ms}
        self.pending.append(("not_ours", claim, kwargs, then))
        return True

    def _healthy(self) -> None:
        """Odoo did the work asked of it: end any outage of the tenant (once per drain).

        A tenant that had none when the drain opened has none to end (only a drain,
        and this tenant's drain is this one, records an outage): nothing is written.
        """
        if not self.healthy_recorded:
            self.healthy_recorded = True
            if tenant_health.in_outage(self.tenant):
                tenant_health.record_tenant_healthy(
                    self.tenant.pk, connection_revision=self.revision
                )

    def release(self) -> None:
        """Give back, uncharged, every row still claimed: held failures, rows not sent or not
        recorded."""
        self._release(self.held.claims() + self.outstanding + list(self.in_flight.values()))
        self.held.take()
        self.outstanding, self.in_flight, self.obtained = [], {}, {}

    def _release(self, taken: list[claims.Claim]) -> None:
        self.flush()  # what Odoo did is recorded before anything is given back
        if taken:
            self.result.skipped += claims.release_claims(taken)

    def flush(self) -> None:
        """Record the outcomes waiting in this batch: one transaction (outcomes.record_batch).

        They wait until that transaction commits: cut short (the soft time
        limit), `close` records them again.
        """
        pending = self.pending
        if not pending:
            return
        recorded = outcomes.record_batch([(kind, claim, kw) for kind, claim, kw, _ in pending])
        self.pending = []
        for (_, _, _, then), outcome in zip(pending, recorded, strict=True):
            then(outcome)

    def _still_eligible(self) -> bool:
        """Plan, pause and connection are read again before each batch (property 11)."""
        tenant = Tenant.objects.filter(pk=self.tenant.pk).first()
        if tenant is None:
            self.result.status = TenantStatus.GONE
        elif tenant.odoo_paused_at is not None:
            self.result.status = TenantStatus.PAUSED
            self.result.error = tenant.odoo_paused_reason
        elif not tenant.is_sync_enabled:
            self.result.status = TenantStatus.DISABLED
        elif tenant.odoo_connection_revision != self.revision:
            self.result.status = TenantStatus.CHANGED
            self.result.error = "the tenant's Odoo connection was edited during the drain"
        else:
            return True
        return False

    def _stop(self, status: str, exc: OdooError) -> bool:
        self.flush()
        self.over = True
        self.result.status = status
        self.result.error = exc.message
        claims.release_claims(self.held.claims() + self.outstanding + list(self.in_flight.values()))
        self.held.take()
        self.outstanding, self.in_flight, self.obtained = [], {}, {}
        self.result.skipped = due.count_due(self.tenant.pk)
        return False

    def _tenant_outage(self, exc: OdooError, *, what: str = "") -> bool:
        """The tenant's Odoo cannot do the work now: back off, charge no row."""
        error = what or f"{type(exc).__name__}: {exc.message}"
        # The operator reads the plain sentence (as Test connection says it); the log keeps Odoo's text.
        shown = what or explain(exc, self.tenant).text
        until = tenant_health.record_tenant_unreachable(
            self.tenant.pk, connection_revision=self.revision, error=shown
        )
        log.warning(
            "odoo_sync tenant=%s unreachable next_attempt_at=%s error=%r",
            self.tenant.slug,
            until.isoformat() if until else "-",
            error,
            extra={
                "correlation_id": self.correlation_id,
                "tenant": self.tenant.slug,
                "next_attempt_at": until.isoformat() if until else None,
                "error": error,
            },
        )
        return self._stop(TenantStatus.UNREACHABLE, exc)

    def _hold(self, claim: claims.Claim, exc: OdooError, duration_ms: int) -> bool:
        for failure in self.held.hold(blame.Failure(claim, exc, duration_ms)):
            self._charge(failure.claim, failure.error, failure.duration_ms)
        if self.held.is_the_tenants():
            return self._held_is_the_tenants()
        return True

    def _settle_held(self) -> bool:
        """At the end of the drain, decide whose the failures still held are (False: the tenant's)."""
        if self.held.is_the_tenants(drain_over=True, went_through=self.went_through):
            return self._held_is_the_tenants()
        self._charge_held()
        return True

    def _charge_held(self) -> None:
        for failure in self.held.take():
            self._charge(failure.claim, failure.error, failure.duration_ms)

    def _held_is_the_tenants(self) -> bool:
        exc, what = self.held.failures[-1].error, self.held.tenant_error()
        for failure in self.held.failures:
            claim = failure.claim
            self._log(
                claim,
                claim.odoo_pos_config_id,
                "tenant_outage",
                failure.duration_ms,
                failure.error.message,
            )
        claims.release_claims(self.held.claims(), to_the_back=True)
        self.held.take()
        return self._tenant_outage(exc, what=what)

    def _charge(self, claim: claims.Claim, exc: OdooError, duration_ms: int) -> None:
        error = blame.describe(exc, claim)

        def then(recorded: str) -> None:
            if recorded != outcomes.Outcome.SUPERSEDED:
                if claim.action == claims.CREATE:
                    self.result.create_failed += 1
                else:
                    self.result.update_failed += 1
                self.result.dead_lettered += recorded == outcomes.Outcome.DEAD_LETTERED
            self._log(claim, claim.odoo_pos_config_id, recorded, duration_ms, error)

        kwargs = {
            "error": error,
            "kind": blame.error_kind(exc),
            "duration_ms": duration_ms,
            "candidates": getattr(exc, "candidates", None),
        }
        self.pending.append(("failed", claim, kwargs, then))

    def _log(self, claim, odoo_id, outcome, duration_ms: int, error="") -> None:
        log.log(
            logging.WARNING if error else logging.INFO,
            "odoo_sync attempt tenant=%s register=%s odoo_id=%s action=%s outcome=%s "
            "duration_ms=%d error=%r",
            self.tenant.slug,
            claim.register_id,
            odoo_id,
            claim.action,
            outcome,
            duration_ms,
            error,
            extra={
                "correlation_id": self.correlation_id,
                "tenant": self.tenant.slug,
                "register": claim.register_id,
                "odoo_id": odoo_id,
                "action": claim.action,
                "outcome": outcome,
                "duration_ms": duration_ms,
                "error": error,
            },
        )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def open_drain(tenant_id: int, *, ignore_outage_backoff: bool = False) -> Drain | TenantResult:
    """Take the tenant's drain lock and open its Odoo connection, if a drain may run now.

    A TenantResult says why not (gone, disabled, paused, backing off, busy).
    A Drain must be closed (`with drain:`), which releases the lock.
    `ignore_outage_backoff` is the operator's "try now": it skips the tenant's
    outage wait, never a credentials pause nor the rows' own backoff.
    """
    if connection.in_atomic_block:
        raise RuntimeError("drain_tenant waits on Odoo and must not run inside a transaction")
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return TenantResult(tenant_id=tenant_id, status=TenantStatus.GONE)
    result = TenantResult(tenant_id=tenant.pk, tenant=tenant.slug)
    if not tenant.has_odoo:
        result.status = TenantStatus.DISABLED
        return result
    if tenant.odoo_paused_at is not None:
        result.status = TenantStatus.PAUSED
        result.error = tenant.odoo_paused_reason
        result.skipped = due.count_due(tenant.pk)
        return result
    if not ignore_outage_backoff and tenant.odoo_next_attempt_at:
        if tenant.odoo_next_attempt_at > timezone.now():
            result.status = TenantStatus.BACKING_OFF
            result.error = tenant.odoo_last_error
            result.skipped = due.count_due(tenant.pk)
            return result
    lock = tenant_lock(tenant.pk)
    if not lock.acquire():
        result.status = TenantStatus.BUSY
        return result
    try:
        # The client this process kept from the tenant's last drain, if any: its
        # connection is open and its uid known; else one with the stored uid.
        client = sessions.pool.take(tenant, lambda: client_for(tenant, uid=tenant.known_odoo_uid))
    except BaseException:
        lock.release()
        raise
    return Drain(tenant, result, client, lock)


def drain_tenant(tenant_id: int, *, ignore_outage_backoff: bool = False) -> TenantResult:
    """Push one tenant's due creates, then updates, to its Odoo: the Drain's steps in order.

    Holds the tenant's drain lock throughout (a second drain returns BUSY at
    once) and never a DB transaction while Odoo is called.
    """
    with log_context.correlation(log_context.new_id("drain")):
        return _run(open_drain(tenant_id, ignore_outage_backoff=ignore_outage_backoff))


def _run(drain: Drain | TenantResult) -> TenantResult:
    if isinstance(drain, TenantResult):
        return drain
    with drain:
        if drain.login():
            while drain.claim_batch():
                for claim, outcome in drain.call_batch(drain.take_batch()):
                    if not drain.record(claim, outcome):
                        break
                drain.end_batch()
            drain.finish()
    return drain.result


def drain_all(
    *,
    tenant_ids: list[int] | None = None,
    ignore_outage_backoff: bool = False,
    progress=lambda tenant_ids: tenant_ids,
) -> tuple[list[TenantResult], Totals]:
    """Drain every tenant with due work (or the ones given), one after another.

    One tenant's failure is logged and never stops the others. `progress`
    wraps the list of tenant ids as it is walked (a progress bar).
    """
    if tenant_ids is None:
        tenant_ids = due.tenants_with_due_work(include_backing_off=ignore_outage_backoff)
    results = []
    for tenant_id in progress(tenant_ids):
        try:
            results.append(drain_tenant(tenant_id, ignore_outage_backoff=ignore_outage_backoff))
        except Exception as exc:  # one tenant's bug must not stop the others
            log.exception("odoo_sync drain of tenant %s crashed", tenant_id)
            results.append(TenantResult(tenant_id=tenant_id, status="crashed", error=str(exc)))
    return results, Totals.of(results)
