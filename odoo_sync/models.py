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
