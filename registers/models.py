"""Registers (point-of-sale configs) and their sync state and history."""

import uuid
from datetime import datetime

from django.db import models
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower

# Odoo's pos.config.name has no length limit; ours keeps names readable on
# receipts, in Odoo's PoS dashboard tiles and in reports.
NAME_MAX_LENGTH = 64
PREFIX_MAX_LENGTH = 10


class SyncState(models.TextChoices):
    PENDING_CREATE = "pending_create", "Pending create"
    PENDING_UPDATE = "pending_update", "Pending update"
    SYNCED = "synced", "Synced"
    SYNC_ERROR = "sync_error", "Sync error"


PENDING_STATES = (SyncState.PENDING_CREATE, SyncState.PENDING_UPDATE)

# The partial indexes' predicates, spelled as literals: a planner (SQLite's
# always, PostgreSQL's for generic plans) uses a partial index only when the
# query's WHERE visibly implies the index's, which a bound parameter does not.
PENDING_SQL = "sync_state IN ('pending_create', 'pending_update')"
DEAD_LETTER_SQL = "sync_state = 'sync_error'"


def _literal(predicate: str) -> Q:
    # Only ever given the two constants above: nothing from outside reaches it.
    return Q(RawSQL(predicate, (), output_field=models.BooleanField()))  # noqa: S611


def is_pending() -> Q:
    """Rows with sync work to do (pending create or update), matching the partial index."""
    return _literal(PENDING_SQL)


def is_dead_letter() -> Q:
    """Rows in sync_error, matching the dead-letter partial index."""
    return _literal(DEAD_LETTER_SQL)


class ErrorKind(models.TextChoices):
    TRANSIENT = "transient", "Temporary (retrying)"
    EXHAUSTED = "exhausted", "Gave up after repeated temporary failures"
    VALIDATION = "validation", "Rejected by Odoo"
    ACCESS = "access", "No access in Odoo"
    MISSING = "missing", "Deleted in Odoo"
    MOVED_COMPANY = "moved_company", "Moved to another company in Odoo"
    PERMANENT = "permanent", "Odoo error"
    AMBIGUOUS = "ambiguous", "Several Odoo configs have this name: an operator picks"


# The module part of regsync's external ids in Odoo: no installed Odoo module
# may carry this name, or Odoo would treat the records as that module's data.
EXTERNAL_ID_MODULE = "regsync"


def when_next_tried(tenant, row_due: datetime | None = None) -> datetime | None:
    """When the drain next tries work of `tenant` due at `row_due`: the one rule of every page.

    A row of a tenant backing off after an outage is not tried before the
    tenant's next attempt, whatever its own time says; the tenant alone
    (`row_due` None) is tried at its next attempt.
    """
    waits = tenant.odoo_next_attempt_at
    if waits is not None and (row_due is None or waits > row_due):
        return waits
    return row_due


def odoo_external_id(register_uuid: uuid.UUID) -> tuple[str, str]:
    """`(module, name)` of a register's external id in Odoo: what makes its create an upsert."""
    return (EXTERNAL_ID_MODULE, f"register_{register_uuid.hex}")


def another_registers_external_id(external_ids, register_uuid: uuid.UUID) -> str | None:
    """The regsync external id among a record's `external_ids` ("module.name") that names
    another register, when the register's own is not there: the record is not that register's."""
    own = ".".join(odoo_external_id(register_uuid))
    ours = [x for x in external_ids if x.startswith(f"{EXTERNAL_ID_MODULE}.")]
    if own in ours:
        return None
    return ours[0] if ours else None


class PosConfig(models.Model):
    tenant = models.ForeignKey("cafe.Tenant", on_delete=models.PROTECT, related_name="registers")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    is_active = models.BooleanField(default=True)
    sequence_prefix = models.CharField(max_length=PREFIX_MAX_LENGTH)
    # Stable identity in Odoo: the external id regsync.register_<hex> makes the
    # create an idempotent upsert, so a retried create never duplicates.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    odoo_pos_config_id = models.PositiveIntegerField(null=True, blank=True)
    # Onboarding: a create first looks in Odoo for a config of the same name to
    # link to, unless an operator asked for a new one ("Create a new one in Odoo").
    odoo_create_matches_name = models.BooleanField(default=True)
    # Linked by an operator to an existing config: regsync's external id is
    # attached to it with the next write (then this is cleared).
    odoo_link_unconfirmed = models.BooleanField(default=False)
    # The config is one regsync made (a create's external-id upsert), not one Odoo had that
    # a register was linked to: its external id was born with it, in one Odoo transaction,
    # so no restore of Odoo can keep the record and lose the id. An update of it is sent
    # by that external id (docs/odoo.md "Writing only what is ours").
    odoo_made_by_regsync = models.BooleanField(default=False)
    # The configs an ambiguous create found (id, name, active), for the operator to pick.
    odoo_link_candidates = models.JSONField(default=list, blank=True)
    # What Odoo holds as of the last create or write that landed (None: not known):
    # an update sends only what differs, so equal changes share one `write`.
    odoo_name = models.CharField(max_length=NAME_MAX_LENGTH, null=True, blank=True)  # noqa: DJ001
    odoo_active = models.BooleanField(null=True, blank=True)

    sync_state = models.CharField(max_length=32, choices=SyncState.choices)
    sync_retries = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_sync_error = models.TextField(blank=True)
    # What kind of failure last_sync_error is (ErrorKind), so the admin and the
    # retry action can tell a deleted Odoo record from an exhausted retry.
    last_sync_error_kind = models.CharField(max_length=16, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every local edit (name, active, prefix): the admin's optimistic
    # lock, so a form opened before a colleague's edit cannot silently revert it.
    revision = models.PositiveIntegerField(default=0)
    # A drain's lease on the row while it talks to Odoo; expires if the worker dies.
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "cafe_pos_configs"
        verbose_name = "register"
        ordering = ["tenant_id", "name"]
        constraints = [
            # Two active registers named alike confuse cashiers and Odoo's
            # reports; archived ones may share a name with a live one.
            models.UniqueConstraint(
                "tenant",
                Lower("name"),
                condition=Q(is_active=True),
                name="cafe_pos_configs_active_name_uniq",
                violation_error_message="An active register with this name already exists.",
            ),
            models.UniqueConstraint(
                fields=["tenant", "odoo_pos_config_id"], name="cafe_pos_configs_odoo_id_uniq"
            ),
            models.CheckConstraint(
                condition=Q(sync_state__in=SyncState.values), name="cafe_pos_configs_state_valid"
            ),
        ]
        indexes = [
            # Due work, found by every tick and every drain's claim: O(pending).
            # Declared here (not as raw SQL) so that SQLite, whose schema editor
            # rebuilds the table for later migrations, keeps it too.
            models.Index(
                fields=["next_attempt_at", "tenant"],
                condition=Q(sync_state__in=PENDING_STATES),
                name="cafe_pos_configs_due_idx",
            ),
            # Dead letters, counted per tenant by every tick: O(dead letters).
            models.Index(
                fields=["tenant"],
                condition=Q(sync_state=SyncState.SYNC_ERROR),
                name="cafe_pos_configs_dead_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def odoo_external_id(self) -> tuple[str, str]:
        return odoo_external_id(self.uuid)


class RegisterEvent(models.Model):
    """Audit trail: every local edit and sync-state transition of a register."""

    register = models.ForeignKey(PosConfig, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=32)
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    detail = models.TextField(blank=True)
    # Who made it: the operator's or staff user's login, or "sync" for the drain.
    actor = models.CharField(max_length=150, blank=True)
    # The register's revision after this event: a stale form names what came since.
    revision = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}->{self.to_state}"
