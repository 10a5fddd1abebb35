"""Sync history: one SyncAttempt row per Odoo call made for a register, and the tick heartbeat."""

from django.db import models


class SyncAttempt(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"

    class Outcome(models.TextChoices):
        SYNCED = "synced", "Synced"
        REQUEUED = "requeued", "Synced, changed meanwhile"
        RETRY = "retry", "Failed, will retry"
        DEAD_LETTERED = "dead_lettered", "Failed, dead-lettered"
        SUPERSEDED = "superseded", "Claim lost to another drain"

    tenant = models.ForeignKey("cafe.Tenant", on_delete=models.CASCADE, related_name="+")
    register = models.ForeignKey(
        "registers.PosConfig", on_delete=models.CASCADE, related_name="sync_attempts"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    odoo_pos_config_id = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.outcome}"


class SyncHeartbeat(models.Model):
    """When the beat tick and a worker last ran: the overview shows whether sync is alive."""

    name = models.CharField(max_length=32, unique=True)
    at = models.DateTimeField()

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
