"""Housekeeping: heartbeats of the tick and the workers, and pruning old sync history."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, CharField, Count, F, IntegerField, Sum, Value, When
from django.utils import timezone

from cafe.models import OdooProtocol
from odoo_sync.models import DURATION_BUCKETS_MS, SyncAttempt, SyncAttemptTally, SyncHeartbeat

# When this process started. Beat and the workers start alongside the web process
# (`make run`, a deploy): the overview calls a missing heartbeat an alarm only once
# they have had one alive window (ALIVE_TICK_PERIODS) since then to beat.
PROCESS_STARTED_AT = timezone.now()

# A tick or worker heartbeat older than this many tick periods means sync is not running
# (the overview, /healthz/worker).
ALIVE_TICK_PERIODS = 3
# How many rows one pruning step moves into the tally (a step is one short transaction).
PRUNE_BATCH = 5000


def beat(name: str) -> None:
    """Record that `name` (the tick, a worker) ran just now."""
    SyncHeartbeat.objects.update_or_create(name=name, defaults={"at": timezone.now()})


def finished(name: str, *, took_ms: int) -> None:
    """Record how long the run of `name` that began at its last beat took."""
    SyncHeartbeat.objects.filter(name=name).update(took_ms=took_ms)


def last_beat(name: str) -> datetime | None:
    return SyncHeartbeat.objects.filter(name=name).values_list("at", flat=True).first()


def beat_age(name: str, *, now: datetime) -> timedelta | None:
    """How long ago `name` last beat; None if it never did."""
    at = last_beat(name)
    return None if at is None else now - at


def attempts_by_key(attempts, *, with_pruned: bool = False) -> list[dict]:
    """SyncAttempt rows counted per (action, outcome, protocol, duration bucket), with the ms sum.

    The one grouping behind the metrics' counters and histogram and the tally
    that pruning keeps. `with_pruned` adds the tally of rows pruned before, in
    the same statement, so that a prune committing meanwhile is seen whole or
    not at all. Rows: dicts with action, outcome, protocol, bucket, n, ms.
    """
    slot = Case(
        *[When(duration_ms__lte=edge, then=Value(i)) for i, edge in enumerate(DURATION_BUCKETS_MS)],
        default=Value(len(DURATION_BUCKETS_MS)),
        output_field=IntegerField(),
    )
    rows = (
        attempts.values(
            "action",
            "outcome",
            detected=F("tenant__odoo_detected_protocol"),
            chosen=F("tenant__odoo_protocol"),
            slot=slot,
        )
        .annotate(n=Count("pk"), ms=Sum("duration_ms"))
        .order_by()
    )
    if with_pruned:
        pruned = SyncAttemptTally.objects.values(
            "action",
            "outcome",
            detected=F("protocol"),
            chosen=Value("", output_field=CharField()),
            slot=F("bucket"),
            n=F("count"),
            ms=F("duration_ms_sum"),
        ).order_by()
        rows = rows.union(pruned, all=True)
    return [
        {
            "action": row["action"],
            "outcome": row["outcome"],
            "protocol": protocol_label(row["detected"], row["chosen"]),
            "bucket": row["slot"],
            "n": row["n"],
            "ms": row["ms"] or 0,
        }
        for row in rows
    ]


def protocol_label(detected: str, chosen: str) -> str:
    """The protocol a tenant talks to Odoo with: detected at login, else chosen, else unknown."""
    if detected:
        return detected
    return chosen if chosen and chosen != OdooProtocol.AUTO else "unknown"


def prune_attempts(*, now: datetime | None = None) -> int:
    """Delete sync history older than SYNC_ATTEMPT_RETENTION_DAYS, counting it in the tally.

    Rows are locked before they are counted (skipping rows another pruner
    holds), so two ticks pruning at once never count a row twice.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.SYNC_ATTEMPT_RETENTION_DAYS)
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                SyncAttempt.objects.filter(created_at__lt=cutoff)
                .order_by()
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:PRUNE_BATCH]
            )
            if not ids:
                return total
            for row in attempts_by_key(SyncAttempt.objects.filter(pk__in=ids)):
                _add_to_tally(row)
            SyncAttempt.objects.filter(pk__in=ids).delete()
        total += len(ids)
        if len(ids) < PRUNE_BATCH:
            return total


def _add_to_tally(row: dict) -> None:
    key = {k: row[k] for k in ("action", "outcome", "protocol", "bucket")}
    add = {"count": F("count") + row["n"], "duration_ms_sum": F("duration_ms_sum") + row["ms"]}
    if SyncAttemptTally.objects.filter(**key).update(**add):
        return
    try:
        with transaction.atomic():
            SyncAttemptTally.objects.create(**key, count=row["n"], duration_ms_sum=row["ms"])
    except IntegrityError:  # another pruner created it just now
        SyncAttemptTally.objects.filter(**key).update(**add)
