"""What every figure shares: the sizes, measuring tools, data setup, and `Bench`, which reports."""

from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import _reliability as common
from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

ROOT = common.ROOT


@dataclass
class Sizes:
    """Every size a figure uses; `--set name=value` changes one (lists: comma-separated)."""

    floor_calls: int = 200
    tick_tenants: int = 10_000
    tick_registers: int = 200_000
    tick_due: list[int] = field(default_factory=lambda: [0, 100, 10_000])
    tick_runs: int = 50
    cpu_rows: list[int] = field(default_factory=lambda: [100, 10_000])
    one_tenant_rows: int = 1_000
    one_tenant_latency_ms: float = 20
    fanout_tenants: int = 200
    fanout_rows: int = 10
    fanout_latency_ms: float = 50
    fanout_concurrency: int = 16
    tls_calls: int = 200
    tls_rtt_ms: float = 25
    rename_drain_runs: int = 9  # drains (and bare writes) per version, at real Odoo costs
    edit_tenants: int = 100
    edit_registers: int = 10  # per tenant
    edit_rate: float = 20  # edits per second, all tenants together
    edit_seconds: float = 30
    edit_concurrency: int = 4
    edit_latency_ms: float = 0
    edit_tick_seconds: float = 60  # the beat's period, production's default
    memory_rows: int = 20_000
    memory_tenants: int = 20
    memory_tick_seconds: float = 10


SMOKE = Sizes(
    floor_calls=10,
    tick_tenants=40,
    tick_registers=400,
    tick_due=[0, 4, 40],
    tick_runs=5,
    cpu_rows=[5, 20],
    one_tenant_rows=10,
    fanout_tenants=4,
    fanout_rows=3,
    fanout_concurrency=2,
    tls_calls=5,
    rename_drain_runs=2,
    edit_tenants=3,
    edit_registers=4,
    edit_rate=5,
    edit_seconds=2,
    edit_concurrency=2,
    edit_tick_seconds=5,
    memory_rows=40,
    memory_tenants=2,
    memory_tick_seconds=5,
)


def override(sizes: Sizes, assignments: list[str]) -> Sizes:
    """`name=value` pairs onto a copy of `sizes`; a clear message for a bad one."""
    changes = {}
    kinds = {f.name: f for f in dataclasses.fields(Sizes)}
    for text in assignments:
        name, sep, value = text.partition("=")
        if not sep or name not in kinds:
            raise SystemExit(f"--set {text!r}: expected name=value, name one of {sorted(kinds)}")
        default = getattr(sizes, name)
        try:
            if isinstance(default, list):
                changes[name] = [int(v) for v in value.split(",") if v.strip()]
            else:
                changes[name] = type(default)(value)
        except ValueError:
            raise SystemExit(
                f"--set {text!r}: {value!r} is not a {type(default).__name__}"
            ) from None
    return dataclasses.replace(sizes, **changes)


# --- measuring tools ---------------------------------------------------------------------


class QueryCounter:
    """Counts SQL statements on the default connection (the debug log caps at 9000).

    `count`: statements executed, an `executemany` counting one per parameter set;
    `round_trips`: calls to the database (psycopg 3 pipelines an `executemany`).
    """

    def __init__(self):
        self.count = 0
        self.round_trips = 0

    def __call__(self, execute, sql, params, many, context):
        params = list(params) if many else params
        self.count += len(params) if many else 1
        self.round_trips += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        self._cm = connection.execute_wrapper(self)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of another process, from /proc (Linux)."""
    fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def r(value: float, digits: int = 2) -> float:
    return round(value, digits)


# --- data ----------------------------------------------------------------------------


def make_tenant(slug: str, sandbox, *, url: str | None = None):
    from cafe.models import Tenant

    return Tenant.objects.create(
        name=slug,
        slug=slug,
        plan="pro",
        odoo_url=url or sandbox.url,
        odoo_db=sandbox.db,
        odoo_login=sandbox.login,
        odoo_api_key=sandbox.api_key,
    )


def pending_creates(tenant, n: int, *, prefix: str = "Register") -> None:
    """n registers due for `pos.config` create now, as add_register leaves them."""
    from registers.models import PosConfig, SyncState

    now = timezone.now()
    PosConfig.objects.bulk_create(
        [
            PosConfig(
                tenant=tenant,
                name=f"{prefix} {i}",
                sequence_prefix="B",
                sync_state=SyncState.PENDING_CREATE,
                next_attempt_at=now,
            )
            for i in range(n)
        ],
        batch_size=2000,
    )


def queue_renames(tenant_ids: list[int], suffix: str = " renamed") -> int:
    """Every register of these tenants renamed and due for write-back, as edit_register leaves them."""
    from registers.models import PosConfig, SyncState

    return PosConfig.objects.filter(tenant_id__in=tenant_ids).update(
        name=Concat(F("name"), Value(suffix)),
        revision=F("revision") + 1,
        sync_state=SyncState.PENDING_UPDATE,
        sync_retries=0,
        next_attempt_at=timezone.now(),
        last_sync_error="",
        last_sync_error_kind="",
    )


def pending_count(tenant_ids: list[int]) -> int:
    from registers.models import PosConfig, SyncState

    return (
        PosConfig.objects.filter(tenant_id__in=tenant_ids)
        .exclude(sync_state=SyncState.SYNCED)
        .count()
    )


def drain_until_done(tenant_id: int) -> dict:
    """drain_tenant until it stops asking for more; the counts added up."""
    from odoo_sync.drain import TenantStatus, drain_tenant

    totals: dict[str, int] = {}
    while True:
        result = drain_tenant(tenant_id).as_dict()
        for key in ("created", "updated", "create_failed", "update_failed"):
            totals[key] = totals.get(key, 0) + result[key]
        if result["status"] != TenantStatus.MORE:
            totals["status"] = result["status"]
            return totals


def synced_tenants(sandbox, tenants: list, rows: int) -> None:
    """Each tenant's registers created in the sandbox by drains in this process (setup)."""
    for tenant in tenants:
        pending_creates(tenant, rows, prefix=f"{tenant.slug} register")
        done = drain_until_done(tenant.pk)
        expect(done["created"] == rows, f"setup creates of {tenant.slug}: {done}")


def expect(condition: bool, what: str) -> None:
    """A benchmark whose setup did not do what it must is wrong, not slow: stop it."""
    if not condition:
        raise RuntimeError(f"benchmark setup failed: {what}")


# --- reporting -------------------------------------------------------------------------


@dataclass
class Bench:
    sizes: Sizes
    sandbox: object  # odoo_sandbox.Sandbox, in its own process (its .pid)
    say: object = print
    label: str = "bench"

    def figure(self, name: str, measured: str, target: str, met: bool | None, **details):
        self.say(f"  => {measured}  (target: {target}; {verdict(met)})")
        return {"figure": name, "measured": measured, "target": target, "met": met, **details}

    @contextmanager
    def processes(self, label: str):
        procs = common.processes(f"{self.label}-{label}")
        procs.env.update(SYNC_AUDIT_DAILY="false")
        try:
            yield procs
        finally:
            procs.stop_all()


def verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "n/a"}[met]
