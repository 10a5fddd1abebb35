"""Prometheus metrics, read from the database when scraped (GET /metrics, odoo_sync.ops_views).

Everything is derived from the database at scrape time, not counted in
process memory: the workers that call Odoo are prefork children on any
number of machines and serve no HTTP, while /metrics is answered by whichever
gunicorn process gets the request. The database is the one place that sees
them all, and it survives restarts (no PROMETHEUS_MULTIPROC_DIR to share,
clean up or lose). The counters and the Odoo call histogram come from the
sync history (SyncAttempt: action, outcome, duration_ms of each register's
Odoo call) plus the tally of history already pruned (SyncAttemptTally), so
they only ever grow.

Labels: the tenant's slug (never its name, URL or anything secret), the
register state, the attempt's action and outcome, the tenant's Odoo protocol.
"""

from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from cafe.models import Tenant
from odoo_sync import housekeeping, reporting
from odoo_sync.models import DURATION_BUCKETS_MS, AuditFinding, SyncAttempt, SyncHeartbeat
from registers.models import PENDING_STATES, SyncState

PREFIX = "regsync"


class SyncCollector(Collector):
    """The sync's state and history, one query per family group, at every scrape."""

    def collect(self):
        now = timezone.now()
        slugs = dict(Tenant.objects.values_list("pk", "slug"))
        yield from self._registers(now, slugs)
        yield from self._tenants()
        yield from self._attempts()
        yield from self._heartbeats()
        yield from self._drift(slugs)

    def _registers(self, now, slugs):
        registers = GaugeMetricFamily(
            f"{PREFIX}_registers", "Registers per sync state", labels=["tenant", "state"]
        )
        waiting = GaugeMetricFamily(
            f"{PREFIX}_due_registers",
            "Registers waiting for Odoo now (pending, their attempt is due)",
            labels=["tenant", "state"],
        )
        oldest = GaugeMetricFamily(
            f"{PREFIX}_oldest_due_age_seconds",
            "How long the oldest waiting register has waited (0: none waiting)",
            labels=["tenant", "state"],
        )
        dead = GaugeMetricFamily(
            f"{PREFIX}_dead_letters", "Registers in sync_error (dead letters)", labels=["tenant"]
        )
        health = reporting.queue_health(now=now)
        due = reporting.due_by_state(now=now)
        for tenant_id, counts in sorted(health.items()):
            slug = slugs.get(tenant_id, str(tenant_id))
            for state in SyncState.values:
                registers.add_metric([slug, state], counts[state])
            for state in PENDING_STATES:
                n, age = due.get(tenant_id, {}).get(state, (0, None))
                waiting.add_metric([slug, state], n)
                oldest.add_metric([slug, state], age.total_seconds() if age else 0)
            dead.add_metric([slug], counts[SyncState.SYNC_ERROR])
        yield from (registers, waiting, oldest, dead)

    def _tenants(self):
        paused = GaugeMetricFamily(
            f"{PREFIX}_tenant_paused",
            "1 while the tenant is paused (Odoo refused its credentials)",
            labels=["tenant"],
        )
        unreachable = GaugeMetricFamily(
            f"{PREFIX}_tenant_unreachable",
            "1 while the tenant's Odoo is unreachable (backing off) or has never been reached",
            labels=["tenant"],
        )
        never = GaugeMetricFamily(
            f"{PREFIX}_tenant_never_connected",
            "1 while Odoo has not once accepted the tenant's connection (and it is not paused)",
            labels=["tenant"],
        )
        totals = {"paused": 0, "unreachable": 0, "never_connected": 0}
        never_ids = set(Tenant.objects.never_connected().values_list("pk", flat=True))
        rows = Tenant.objects.with_odoo().values_list(
            "pk", "slug", "odoo_paused_at", "odoo_unreachable_since"
        )
        for pk, slug, paused_at, unreachable_since in rows.order_by("slug"):
            is_paused = paused_at is not None
            is_never = pk in never_ids
            is_unreachable = unreachable_since is not None or is_never
            paused.add_metric([slug], int(is_paused))
            unreachable.add_metric([slug], int(is_unreachable))
            never.add_metric([slug], int(is_never))
            totals["paused"] += is_paused
            totals["unreachable"] += is_unreachable
            totals["never_connected"] += is_never
        yield paused
        yield unreachable
        yield never
        for what, n in totals.items():
            yield GaugeMetricFamily(
                f"{PREFIX}_tenants_{what}", f"Tenants {what} (sum of the per-tenant gauge)", n
            )

    def _attempts(self):
        attempts = CounterMetricFamily(
            f"{PREFIX}_sync_attempts",
            "Odoo calls made for registers, by action and outcome",
            labels=["action", "outcome"],
        )
        duration = HistogramMetricFamily(
            f"{PREFIX}_odoo_call_duration_seconds",
            "Duration of a register's Odoo call (create or write), by the tenant's protocol",
            labels=["protocol"],
        )
        counts: dict[tuple[str, str], int] = {}
        buckets: dict[str, list[int]] = {}
        sums: dict[str, int] = {}
        for row in housekeeping.attempts_by_key(SyncAttempt.objects.all(), with_pruned=True):
            key = (row["action"], row["outcome"])
            counts[key] = counts.get(key, 0) + row["n"]
            per_bucket = buckets.setdefault(row["protocol"], [0] * (len(DURATION_BUCKETS_MS) + 1))
            per_bucket[row["bucket"]] += row["n"]
            sums[row["protocol"]] = sums.get(row["protocol"], 0) + row["ms"]
        for (action, outcome), n in sorted(counts.items()):
            attempts.add_metric([action, outcome], n)
        for protocol, per_bucket in sorted(buckets.items()):
            cumulative, running = [], 0
            for edge, n in zip([*DURATION_BUCKETS_MS, None], per_bucket, strict=True):
                running += n
                cumulative.append(("+Inf" if edge is None else str(edge / 1000), running))
            duration.add_metric([protocol], cumulative, sum_value=sums[protocol] / 1000)
        yield attempts
        yield duration

    def _heartbeats(self):
        beats = {row.name: row for row in SyncHeartbeat.objects.all()}
        for name, metric, what in (
            ("tick", "last_tick_timestamp_seconds", "When the beat tick last ran"),
            ("worker", "last_worker_heartbeat_timestamp_seconds", "When a worker last answered"),
        ):
            if name in beats:
                yield GaugeMetricFamily(f"{PREFIX}_{metric}", what, beats[name].at.timestamp())
        took = beats["tick"].took_ms if "tick" in beats else None
        if took is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_tick_duration_seconds", "How long the last tick took", took / 1000
            )

    def _drift(self, slugs):
        findings = GaugeMetricFamily(
            f"{PREFIX}_drift_findings",
            "Drift findings of the tenant that need a decision (not ignored, not being fixed)",
            labels=["tenant", "kind"],
        )
        last_audit = GaugeMetricFamily(
            f"{PREFIX}_last_audit_timestamp_seconds",
            "When the tenant's last drift audit ran",
            labels=["tenant"],
        )
        runs = list(reporting.last_audit_runs(Tenant.objects.values("pk")).order_by("tenant_id"))
        open_findings: dict[tuple[int, str], int] = {}
        rows = reporting.findings_needing_attention([run.tenant_id for run in runs])
        for tenant_id, kind in rows.values_list("tenant_id", "kind"):
            open_findings[(tenant_id, kind)] = open_findings.get((tenant_id, kind), 0) + 1
        for run in runs:
            slug = slugs.get(run.tenant_id, str(run.tenant_id))
            last_audit.add_metric([slug], run.started_at.timestamp())
            for kind in AuditFinding.Kind.values:
                findings.add_metric([slug, kind], open_findings.get((run.tenant_id, kind), 0))
        yield findings
        yield last_audit
