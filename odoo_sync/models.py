"""Sync history: one SyncAttempt row per Odoo call made for a register, and the tick heartbeat."""

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone


class SyncAttempt(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"

    class Outcome(models.TextChoices):
        SYNCED = "synced", "Synced"
        REQUEUED = "requeued", "Synced, changed meanwhile"
        RETRY = "retry", "Failed, will retry"
        DEAD_LETTERED = "dead_lettered", "Failed, dead-lettered"
        SUPERSEDED = "superseded", "Not recorded: the register changed meanwhile"
        RELINKED = "relinked", "Not written: the config is another register's; created again"

    tenant = models.ForeignKey("cafe.Tenant", on_delete=models.CASCADE, related_name="+")
    register = models.ForeignKey(
        "registers.PosConfig", on_delete=models.CASCADE, related_name="sync_attempts"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    odoo_pos_config_id = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField("Odoo took (ms)", default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.outcome}"


# Upper bounds (ms) of the buckets of the Odoo call duration histogram (/metrics); a last,
# unbounded bucket follows. SyncAttemptTally.bucket is an index into this list.
DURATION_BUCKETS_MS = (25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 60000)


class SyncAttemptTally(models.Model):
    """Sync history that the tick pruned, counted, so /metrics' counters never go down.

    A metric counter is the live SyncAttempt rows plus this tally: pruning
    moves rows from one to the other (odoo_sync.housekeeping.prune_attempts).
    `protocol` is the tenant's Odoo protocol when the rows were pruned.
    """

    action = models.CharField(max_length=16)
    outcome = models.CharField(max_length=16)
    protocol = models.CharField(max_length=8)
    bucket = models.PositiveSmallIntegerField()  # index into DURATION_BUCKETS_MS (len: +Inf)
    count = models.BigIntegerField(default=0)
    duration_ms_sum = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["action", "outcome", "protocol", "bucket"],
                name="odoo_sync_one_tally_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.outcome} {self.protocol} #{self.bucket}: {self.count}"


class SyncHeartbeat(models.Model):
    """When the beat tick and a worker last ran: the overview shows whether sync is alive."""

    name = models.CharField(max_length=32, unique=True)
    at = models.DateTimeField()
    # How long the last finished run took (the tick's, for /metrics); None before one finished.
    took_ms = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


class TenantIncident(models.Model):
    """A pause or an outage of a tenant's sync: when it began, why, and when it ended.

    Kept after the tenant recovers, so the tenant page can show what happened
    (written only by `odoo_sync.tenant_health`).
    """

    class Kind(models.TextChoices):
        PAUSED = "paused", "Paused (Odoo refused the connection)"
        UNREACHABLE = "unreachable", "Odoo unreachable"

    tenant = models.ForeignKey("cafe.Tenant", on_delete=models.CASCADE, related_name="incidents")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.TextField(blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # What ended it: "Odoo answered again", "connection edited", ...
    ended_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # At most one open incident of each kind per tenant.
            models.UniqueConstraint(
                fields=["tenant", "kind"],
                condition=models.Q(ended_at__isnull=True),
                name="odoo_sync_one_open_incident_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.started_at:%Y-%m-%d %H:%M}"


class OperatorAlert(models.Model):
    """A mail sent to the operators about a tenant: the history, and the hourly limit per tenant."""

    tenant = models.ForeignKey("cafe.Tenant", on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=300)
    sent_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return self.subject


class AuditRun(models.Model):
    """One drift audit of one tenant: when, how it went, what it saw (the findings it last saw)."""

    class Status(models.TextChoices):
        OK = "ok", "Audited"
        UNREACHABLE = "unreachable", "Odoo unreachable"
        PAUSED = "paused", "Paused"
        DISABLED = "disabled", "Does not sync"

    tenant = models.ForeignKey("cafe.Tenant", on_delete=models.CASCADE, related_name="audit_runs")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices)
    error = models.TextField(blank=True)
    # What the run saw: findings that need someone, and findings of ignored configs.
    findings_count = models.PositiveIntegerField(default=0)
    # Database defaults: the release before keeps running during an upgrade (docs/deploy.md).
    ignored_count = models.PositiveIntegerField(default=0, db_default=0)
    # The tenant's Odoo connection the run read: an Odoo id means something only there.
    connection_revision = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"audit of {self.tenant_id} at {self.started_at:%Y-%m-%d %H:%M}"


class AuditFinding(models.Model):
    """Something the audit saw changed in Odoo behind regsync's back: one per config and kind.

    Each audit that sees it again updates it (`run` is the latest that did);
    an audit that no longer sees it resolves it. An operator's decision
    (local wins, Odoo's value accepted, adopted, ignored) is kept with who and
    when; an ignored config stays ignored while the audit sees it.
    """

    class Kind(models.TextChoices):
        RENAMED = "renamed_in_odoo", "Renamed in Odoo"
        ARCHIVED = "archived_in_odoo", "Archived in Odoo"
        UNARCHIVED = "unarchived_in_odoo", "Unarchived in Odoo"
        DELETED = "deleted_in_odoo", "Deleted in Odoo"
        UNKNOWN = "unknown_in_odoo", "In Odoo, not a register here"
        # The register's Odoo id now names a config that carries another register's
        # external id (e.g. Odoo restored from a backup handed the id out again).
        STALE_LINK = "stale_link_in_odoo", "Linked config is another register's in Odoo"
        # The register's config is in another company of the Odoo database now (moved in
        # Odoo): the tenant's company no longer sees it; not deleted, never made again.
        MOVED_COMPANY = "moved_company_in_odoo", "Moved to another company in Odoo"

    class Decision(models.TextChoices):
        NONE = "", "None yet"
        LOCAL_WINS = "local_wins", "Local wins"
        ODOO_VALUE = "odoo_value", "Odoo's value accepted"
        ADOPTED = "adopted", "Adopted"
        IGNORED = "ignored", "Ignored"

    run = models.ForeignKey(AuditRun, on_delete=models.CASCADE, related_name="findings")
    tenant = models.ForeignKey("cafe.Tenant", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    register = models.ForeignKey(
        "registers.PosConfig", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    odoo_id = models.PositiveIntegerField()
    # None: that side does not exist (no register here, or deleted in Odoo), not "".
    local_name = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    local_active = models.BooleanField(null=True)
    odoo_name = models.TextField(null=True, blank=True)  # noqa: DJ001
    odoo_active = models.BooleanField(null=True)
    # The regsync external id the config carries ("" none): whose config it is.
    odoo_external_id = models.CharField(max_length=200, blank=True, default="")
    # moved_company_in_odoo: the company the config is in now.
    odoo_company_id = models.PositiveIntegerField(null=True, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now, db_default=Now())
    # The drift is gone: a later audit no longer saw it, or an operator settled it here.
    resolved_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(
        max_length=16, choices=Decision.choices, blank=True, default="", db_default=""
    )
    decided_by = models.CharField(max_length=150, blank=True, default="", db_default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    # No longer used ("local wins" is a decision); dropped a release later (docs/deploy.md).
    fixed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "drift finding"
        ordering = ["tenant", "kind", "odoo_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "odoo_id"], name="odoo_sync_one_finding_per_config_kind"
            )
        ]

    def __str__(self) -> str:
        if self.local_name is not None:
            return f"{self.get_kind_display()}: {self.local_name!r} (pos.config {self.odoo_id})"
        return f"{self.get_kind_display()}: pos.config {self.odoo_id} {self.odoo_name!r}"

    @property
    def needs_attention(self) -> bool:
        """Open, and nobody decided anything: what `--audit`'s exit code and alerts count."""
        return self.resolved_at is None and self.decision == self.Decision.NONE

    def as_dict(self) -> dict:
        """The shape `odoo_sync --audit --json` prints."""
        local = (
            None
            if self.local_name is None
            else {"name": self.local_name, "active": self.local_active}
        )
        odoo = (
            None
            if self.odoo_name is None
            else {
                "name": self.odoo_name,
                "active": self.odoo_active,
                "external_id": self.odoo_external_id or None,
            }
        )
        if self.odoo_company_id is not None:  # moved: only where it is now is known
            odoo = {**(odoo or {}), "company_id": self.odoo_company_id}
        decision = (
            {"what": self.decision, "by": self.decided_by, "at": self.decided_at.isoformat()}
            if self.decision
            else None
        )
        return {
            "kind": self.kind,
            "register_id": self.register_id,
            "odoo_id": self.odoo_id,
            "local": local,
            "odoo": odoo,
            "first_seen": self.first_seen_at.isoformat() if self.first_seen_at else None,
            "decision": decision,
            "needs_attention": self.needs_attention,
        }


# The findings `AuditFinding.needs_attention` is true of, as a filter.
NEEDS_ATTENTION = models.Q(resolved_at__isnull=True, decision=AuditFinding.Decision.NONE)


class OdooLock(models.Model):
    """A lease on one Odoo (server and database) for onboarding, on the embedded default.

    With Redis the lease is a Redis key (odoo_sync.locks); without it, this
    row. Tenants sharing an Odoo link its existing configs one drain at a time.
    """

    key = models.CharField(max_length=64, unique=True)
    token = models.UUIDField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key
