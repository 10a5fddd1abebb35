"""Housekeeping: heartbeats of the tick and the workers, and pruning old sync history."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from odoo_sync.models import SyncAttempt, SyncHeartbeat


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
