"""The figures of issue 14, one function each; bench/run.py runs them and keeps the results.

Every figure uses regsync's public entry points only (`drain_tenant`, the
Celery task `odoo_sync.drain_tenant`, `due.tenants_with_due_work`,
`registers.services`, `OdooClient`), so the same code measures the drain as it
is on main whenever it is run again. Bulk data is written with bulk_create /
update (setup, never measured).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import zip_longest
from pathlib import Path

import _reliability as common
from django.conf import settings
from django.db import connection, transaction
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


def expect(condition: bool, what: str) -> None:
    """A benchmark whose setup did not do what it must is wrong, not slow: stop it."""
    if not condition:
        raise RuntimeError(f"benchmark setup failed: {what}")


# --- the figures -----------------------------------------------------------------------


@dataclass
class Bench:
    sizes: Sizes
    sandbox: object  # odoo_sync.sandbox.Sandbox, in its own process (its .pid)
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


def floor(b: Bench) -> dict:
    """The sandbox alone: what a call costs with no latency injected, and with 20 ms."""
    s = b.sandbox.reset()
    n = b.sizes.floor_calls
    client = s.client()
    client.authenticate()
    cpu0 = process_cpu_seconds(s.pid)
    started = time.perf_counter()
    ids = [
        client.upsert_pos_config(external_id=("bench", f"floor_{i}"), name=f"Floor {i}")
        for i in range(n)
    ]
    load_ms = (time.perf_counter() - started) / n * 1000
    started = time.perf_counter()
    for i, odoo_id in enumerate(ids):
        client.write_pos_config(odoo_id, {"name": f"Floor {i} again"})
    write_ms = (time.perf_counter() - started) / n * 1000
    sandbox_cpu_ms = (process_cpu_seconds(s.pid) - cpu0) / (2 * n) * 1000
    s.add_latency(0.02)
    calls = max(5, n // 10)
    started = time.perf_counter()
    for i in range(calls):
        client.write_pos_config(ids[i % n], {"name": f"Floor {i} slow"})
    with_20_ms = (time.perf_counter() - started) / calls * 1000
    client.close()
    s.reset()
    b.say(
        f"sandbox floor (OdooClient -> sandbox over loopback HTTP, no latency injected): "
        f"load {load_ms:.2f} ms/call, write {write_ms:.2f} ms/call, "
        f"sandbox CPU {sandbox_cpu_ms:.2f} ms/call; with 20 ms injected: {with_20_ms:.1f} ms/call"
    )
    return b.figure(
        "sandbox floor",
        f"load {load_ms:.2f} ms, write {write_ms:.2f} ms per call; 20 ms injected -> "
        f"{with_20_ms:.1f} ms",
        "the sandbox adds no latency of its own (injected + floor)",
        None,
        calls=n,
        load_ms_per_call=r(load_ms),
        write_ms_per_call=r(write_ms),
        sandbox_cpu_ms_per_call=r(sandbox_cpu_ms),
        write_ms_per_call_with_20ms=r(with_20_ms),
    )


def tick(b: Bench) -> dict:
    """due.tenants_with_due_work on a tenth of the table, then on all of it, at each due count."""
    from cafe.models import Tenant
    from odoo_sync import due
    from registers.models import PosConfig, SyncState

    sz = b.sizes
    steps = [(max(1, sz.tick_tenants // 10), max(1, sz.tick_registers // 10))]
    steps.append((sz.tick_tenants, sz.tick_registers))
    made_tenants = made_registers = 0
    rows, explains = [], {}
    for tenants, registers in steps:
        started = time.perf_counter()
        Tenant.objects.bulk_create(
            [
                Tenant(
                    name=f"Tick {i}",
                    slug=f"tick-{i}",
                    plan="pro",
                    odoo_url="http://127.0.0.1:9",
                    odoo_db="db",
                    odoo_login="bench",
                    odoo_api_key="key",
                )
                for i in range(made_tenants, tenants)
            ],
            batch_size=2000,
        )
        made_tenants = tenants
        tenant_ids = list(
            Tenant.objects.filter(slug__startswith="tick-")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for start in range(made_registers, registers, 20_000):
            PosConfig.objects.bulk_create(
                [
                    PosConfig(
                        tenant_id=tenant_ids[j % len(tenant_ids)],
                        name=f"Tick register {j}",
                        sequence_prefix="T",
                        sync_state=SyncState.SYNCED,
                        odoo_pos_config_id=j + 1,
                    )
                    for j in range(start, min(registers, start + 20_000))
                ],
                batch_size=5000,
            )
        made_registers = registers
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        b.say(
            f"tick: {tenants} tenants, {registers} registers "
            f"(made in {time.perf_counter() - started:.0f} s)"
        )
        # Due rows spread over as many tenants as they can: one per tenant, round after round.
        by_tenant: dict[int, list[int]] = {}
        for pk, tenant_id in PosConfig.objects.filter(tenant_id__in=tenant_ids).values_list(
            "pk", "tenant_id"
        ):
            by_tenant.setdefault(tenant_id, []).append(pk)
        spread = [
            (pk, tenant_id)
            for round_ in zip_longest(*by_tenant.values())
            for pk, tenant_id in zip(round_, by_tenant, strict=True)
            if pk is not None
        ][: max(sz.tick_due)]
        for due_rows in sz.tick_due:
            chosen = [pk for pk, _ in spread[:due_rows]]
            due_tenants = len({tenant_id for _, tenant_id in spread[:due_rows]})
            PosConfig.objects.filter(pk__in=chosen).update(
                sync_state=SyncState.PENDING_UPDATE,
                next_attempt_at=timezone.now() - timedelta(seconds=1),
            )
            now = timezone.now()
            for _ in range(2):
                due.tenants_with_due_work(now=now)  # warm the plan and the cache
            with QueryCounter() as queries:
                found = due.tenants_with_due_work(now=now)
            expect(len(found) == due_tenants, f"{len(found)} due tenants found, not {due_tenants}")
            times = []
            for _ in range(sz.tick_runs):
                t0 = time.perf_counter()
                due.tenants_with_due_work(now=now)
                times.append((time.perf_counter() - t0) * 1000)
            plan = (
                due.due_tenants(now=now)
                .values_list("pk", flat=True)
                .explain(analyze=True, buffers=True)
            )
            key = f"{registers} registers, {due_rows} due"
            explains[key] = plan
            row = {
                "tenants": tenants,
                "registers": registers,
                "due_rows": due_rows,
                "due_tenants": len(found),
                "queries": queries.count,
                "median_ms": r(statistics.median(times), 3),
                "p90_ms": r(percentile(times, 90), 3),
            }
            rows.append(row)
            b.say(
                f"  {key}: {row['median_ms']:.3f} ms median, {row['p90_ms']:.3f} ms p90, "
                f"{queries.count} query, {len(found)} tenants"
            )
            if registers == sz.tick_registers:
                b.say("    EXPLAIN (ANALYZE, BUFFERS):\n" + indent(plan, 6))
            PosConfig.objects.filter(pk__in=chosen).update(
                sync_state=SyncState.SYNCED, next_attempt_at=None
            )
    full = [x for x in rows if x["registers"] == sz.tick_registers]
    tenth = [x for x in rows if x["registers"] != sz.tick_registers]
    zero = next(x for x in full if x["due_rows"] == min(sz.tick_due))
    one_query = all(x["queries"] == 1 for x in rows)
    # Not table size: ten times the rows may not cost twice as much at the same due count
    # (counts small enough that both sizes find the same tenants).
    flat = all(
        f["median_ms"] <= 2 * t["median_ms"] + 0.5
        for f, t in zip(full, tenth, strict=True)
        if f["due_tenants"] == t["due_tenants"]
    )
    measured = "; ".join(f"{x['due_rows']} due {x['median_ms']:.2f} ms" for x in full)
    measured += f" ({sz.tick_tenants} tenants / {sz.tick_registers} registers); "
    measured += "1 query" if one_query else "MORE than one query"
    measured += "; tenth of the table: " + ", ".join(
        f"{x['due_rows']} due {x['median_ms']:.2f} ms" for x in tenth
    )
    return b.figure(
        "tick",
        measured,
        "one query; < 5 ms with 0 due; grows with due rows, not table size",
        one_query and zero["median_ms"] < 5 and flat,
        runs=sz.tick_runs,
        rows=rows,
        explain=explains,
    )


def indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


def cpu_per_row(b: Bench) -> dict:
    """drain_tenant in this process, the sandbox in its own: this process's CPU and queries."""
    rows = []
    for n in b.sizes.cpu_rows:
        b.sandbox.reset()
        tenant = make_tenant(f"cpu-{n}", b.sandbox)
        pending_creates(tenant, n)
        for phase in ("creates", "updates"):
            if phase == "updates":
                queue_renames([tenant.pk])
            with QueryCounter() as queries:
                cpu0, wall0 = time.process_time(), time.perf_counter()
                done = drain_until_done(tenant.pk)
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            expect(done["created" if phase == "creates" else "updated"] == n, f"{phase}: {done}")
            row = {
                "rows": n,
                "phase": phase,
                "cpu_ms_per_row": r(cpu / n * 1000, 3),
                "queries_per_row": r(queries.count / n, 3),
                "round_trips_per_row": r(queries.round_trips / n, 3),
                "rows_per_s": r(n / wall, 1),
            }
            rows.append(row)
            b.say(
                f"  N={n} {phase}: {row['cpu_ms_per_row']:.3f} ms CPU/row, "
                f"{row['queries_per_row']:.2f} statements/row "
                f"({row['round_trips_per_row']:.2f} round trips), {row['rows_per_s']:.0f} rows/s"
            )
    small, large = min(b.sizes.cpu_rows), max(b.sizes.cpu_rows)
    same = True
    for phase in ("creates", "updates"):
        lo = next(x for x in rows if x["rows"] == small and x["phase"] == phase)
        hi = next(x for x in rows if x["rows"] == large and x["phase"] == phase)
        same &= hi["cpu_ms_per_row"] <= 1.25 * lo["cpu_ms_per_row"] + 0.05
        same &= hi["queries_per_row"] <= lo["queries_per_row"] + 0.1
    within = all(x["cpu_ms_per_row"] <= 1.5 and x["queries_per_row"] <= 2 for x in rows)
    measured = "; ".join(
        f"N={x['rows']} {x['phase']} {x['cpu_ms_per_row']:.2f} ms {x['queries_per_row']:.2f} q"
        for x in rows
    )
    return b.figure(
        "own CPU and queries per drained row",
        measured,
        "<= 1.5 ms and <= 2 queries per row, same at both sizes",
        within and same,
        rows=rows,
    )


def one_tenant(b: Bench) -> dict:
    """1,000 creates then 1,000 renames at 20 ms: one client call per row, then the drain."""
    n, latency = b.sizes.one_tenant_rows, b.sizes.one_tenant_latency_ms / 1000
    s = b.sandbox.reset()
    s.add_latency(latency)
    client = s.client()
    client.authenticate()
    started = time.perf_counter()
    ids = [
        client.upsert_pos_config(external_id=("bench", f"direct_{i}"), name=f"Direct {i}")
        for i in range(n)
    ]
    direct_create_s = time.perf_counter() - started
    started = time.perf_counter()
    for i, odoo_id in enumerate(ids):
        client.write_pos_config(odoo_id, {"name": f"Direct {i} renamed"})
    direct_write_s = time.perf_counter() - started
    client.close()

    s.reset()
    s.add_latency(latency)
    tenant = make_tenant("one-tenant", s)
    pending_creates(tenant, n)
    started = time.perf_counter()
    done = drain_until_done(tenant.pk)
    drain_create_s = time.perf_counter() - started
    expect(done["created"] == n, f"creates: {done}")
    queue_renames([tenant.pk])
    started = time.perf_counter()
    done = drain_until_done(tenant.pk)
    drain_write_s = time.perf_counter() - started
    expect(done["updated"] == n, f"renames: {done}")
    s.reset()
    rates = {
        "direct_creates_per_s": r(n / direct_create_s, 1),
        "direct_renames_per_s": r(n / direct_write_s, 1),
        "drain_creates_per_s": r(n / drain_create_s, 1),
        "drain_renames_per_s": r(n / drain_write_s, 1),
    }
    ratios = {
        "creates": r(direct_create_s / drain_create_s),
        "renames": r(direct_write_s / drain_write_s),
        "both": r((direct_create_s + direct_write_s) / (drain_create_s + drain_write_s)),
    }
    b.say(
        f"  one call per row: {rates['direct_creates_per_s']:.1f} creates/s, "
        f"{rates['direct_renames_per_s']:.1f} renames/s; drain_tenant: "
        f"{rates['drain_creates_per_s']:.1f} creates/s, {rates['drain_renames_per_s']:.1f} "
        f"renames/s; ratio creates {ratios['creates']}x, renames {ratios['renames']}x"
    )
    return b.figure(
        "one tenant, creates then renames",
        f"{ratios['both']}x the one-call-per-row rate (creates {ratios['creates']}x: "
        f"{rates['drain_creates_per_s']:.0f}/s vs {rates['direct_creates_per_s']:.0f}/s; renames "
        f"{ratios['renames']}x: {rates['drain_renames_per_s']:.0f}/s vs "
        f"{rates['direct_renames_per_s']:.0f}/s)",
        f">= 10x the one-call-per-row rate ({n} + {n} rows, {latency * 1000:g} ms latency)",
        min(ratios.values()) >= 10,
        rows=n,
        latency_ms=latency * 1000,
        **rates,
        ratios=ratios,
    )


def _synced_tenants(sandbox, tenants: list, rows: int) -> None:
    """Each tenant's registers created in the sandbox by drains in this process (setup)."""
    for tenant in tenants:
        pending_creates(tenant, rows, prefix=f"{tenant.slug} register")
        done = drain_until_done(tenant.pk)
        expect(done["created"] == rows, f"setup creates of {tenant.slug}: {done}")


def _applied_after(sandbox, since: float) -> list[tuple]:
    return [m for m in sandbox.timed_mutations() if m[4] >= since]


def fanout(b: Bench) -> dict:
    """200 tenants x 10 due updates at 50 ms, drained by one prefork worker of concurrency 16."""
    from odoo_sync import tasks
    from odoo_sync.tests.harness import fresh_broker, wait_until

    sz = b.sizes
    s = b.sandbox.reset()
    tenants = [make_tenant(f"fan-{i}", s) for i in range(sz.fanout_tenants)]
    _synced_tenants(s, tenants, sz.fanout_rows)
    ids = [t.pk for t in tenants]
    total = queue_renames(ids)
    latency = sz.fanout_latency_ms / 1000
    fresh_broker()
    calls_before = s.calls()
    with b.processes("fanout") as procs:
        procs.worker("fanout", concurrency=sz.fanout_concurrency)
        procs.wait_ready("fanout", timeout=120)
        s.add_latency(latency)
        started_at = time.time()
        for tenant_id in ids:
            tasks.enqueue_drain(tenant_id)
        wait_until(
            lambda: pending_count(ids) == 0,
            timeout=total * latency * 4 / sz.fanout_concurrency + 120,
            interval=0.1,
            what="every update drained",
        )
        applied = _applied_after(s, started_at)
        concurrent = s.max_concurrent_sessions()
        calls = {
            key: count - calls_before.get(key, 0)
            for key, count in s.calls().items()
            if count > calls_before.get(key, 0) and not key.startswith("web.")
        }
    expect(len(applied) == total, f"{len(applied)} writes applied for {total} updates")
    wall = max(m[4] for m in applied) - started_at
    rate = total / wall
    ideal = sz.fanout_concurrency / latency
    share = rate / ideal
    s.reset()
    b.say(
        f"  {total} updates in {wall:.2f} s: {rate:.0f} rows/s; ideal C/RTT = "
        f"{ideal:.0f} rows/s; {share:.0%}; at most {concurrent} drains inside Odoo at once; "
        f"Odoo calls: {', '.join(f'{k} {v}' for k, v in sorted(calls.items()))}"
    )
    return b.figure(
        "many tenants, one worker",
        f"{share:.0%} of the ideal ({rate:.0f} rows/s vs C/RTT = {ideal:.0f} rows/s)",
        f">= 80% of C/RTT ({sz.fanout_tenants} tenants x {sz.fanout_rows} updates, "
        f"{sz.fanout_latency_ms:g} ms, concurrency {sz.fanout_concurrency})",
        share >= 0.8,
        updates=total,
        wall_s=r(wall, 3),
        rows_per_s=r(rate, 1),
        ideal_rows_per_s=r(ideal, 1),
        share_of_ideal=r(share, 3),
        max_concurrent_sessions=concurrent,
        odoo_calls=calls,
    )


@contextmanager
def tls_front(sandbox, rtts_ms: list[float]):
    """bench/_netdelay.py in front of the sandbox: {rtt: https url}, and the cert to trust."""
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as folder:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "_netdelay.py"),
                "--upstream",
                sandbox.url.split("//", 1)[1],
                "--cert-dir",
                folder,
                "--rtt-ms",
                *[f"{x:g}" for x in rtts_ms],
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            info = json.loads(proc.stdout.readline())
            yield info["urls"], info["cert"]
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _kept_session(sandbox, url: str, cert: str, odoo_id: int, calls: int) -> tuple[float, int]:
    """OdooClient's calls per second (its session keeps one connection), and the uid."""
    from odoo_client.client import OdooClient

    with OdooClient(url, sandbox.db, sandbox.login, sandbox.api_key) as client:
        client._session.verify = cert  # trust the bench's own certificate
        uid = client.authenticate()
        started = time.perf_counter()
        for i in range(calls):
            client.write_pos_config(odoo_id, {"name": f"Kept {i}"})
        return calls / (time.perf_counter() - started), uid


def _connection_per_call(sandbox, url, cert: str, uid: int, odoo_id: int, calls: int) -> float:
    """The same calls, each on a new connection and TLS handshake (xmlrpc.client per call)."""
    context = ssl.create_default_context(cafile=cert)
    started = time.perf_counter()
    for i in range(calls):
        with xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", context=context) as proxy:
            proxy.execute_kw(
                sandbox.db,
                uid,
                sandbox.api_key,
                "pos.config",
                "write",
                [[odoo_id], {"name": f"New {i}"}],
            )
    return calls / (time.perf_counter() - started)


def tls(b: Bench) -> dict:
    """OdooClient (one kept session) against a new TLS connection per call, 25 ms away."""
    sz = b.sizes
    s = b.sandbox.reset()
    odoo_id = s.create_pos_config("TLS")
    found = {}
    with tls_front(s, [0, sz.tls_rtt_ms]) as (urls, cert):
        for rtt, url in urls.items():
            kept, uid = _kept_session(s, url, cert, odoo_id, sz.tls_calls)
            fresh = _connection_per_call(s, url, cert, uid, odoo_id, sz.tls_calls)
            found[rtt] = {"kept_calls_per_s": r(kept, 1), "new_connection_calls_per_s": r(fresh, 1)}
            b.say(
                f"  RTT {rtt} ms over TLS: OdooClient {kept:.1f} calls/s "
                f"({1000 / kept:.1f} ms/call), new connection per call {fresh:.1f} calls/s "
                f"({1000 / fresh:.1f} ms/call): {kept / fresh:.2f}x"
                + ("  <- floor of the TLS front, no delay" if rtt == "0" else "")
            )
    s.reset()
    far = found[f"{sz.tls_rtt_ms:g}"]
    ratio = far["kept_calls_per_s"] / far["new_connection_calls_per_s"]
    return b.figure(
        "OdooClient over TLS, kept session vs new connection per call",
        f"{ratio:.2f}x ({far['kept_calls_per_s']:.1f} vs {far['new_connection_calls_per_s']:.1f} "
        "calls/s)",
        f">= 1.5x at {sz.tls_rtt_ms:g} ms RTT",
        ratio >= 1.5,
        calls=sz.tls_calls,
        rtt_ms=sz.tls_rtt_ms,
        by_rtt_ms=found,
        ratio=r(ratio),
    )


def edit_latency(b: Bench) -> dict:
    """Admin renames at a steady rate, worker and beat running: commit to Odoo applying it."""
    from odoo_sync.tests.harness import fresh_broker, wait_until
    from registers import services
    from registers.models import PosConfig

    sz = b.sizes
    s = b.sandbox.reset()
    tenants = [make_tenant(f"edit-{i}", s) for i in range(sz.edit_tenants)]
    _synced_tenants(s, tenants, sz.edit_registers)
    registers = list(
        PosConfig.objects.filter(tenant__in=tenants).values_list("pk", "name").order_by("pk")
    )
    random.Random(14).shuffle(registers)
    s.add_latency(sz.edit_latency_ms / 1000)
    fresh_broker()
    committed: dict[str, float] = {}
    edits = int(sz.edit_rate * sz.edit_seconds)
    env = {"SYNC_TICK_SECONDS": f"{sz.edit_tick_seconds:g}"}
    settings.SYNC_PUSH_ON_COMMIT = True
    try:
        with b.processes("edits") as procs:
            procs.worker("edits", concurrency=sz.edit_concurrency, env=env)
            procs.beat("beat", env=env)
            procs.wait_ready("edits", timeout=120)
            started = time.monotonic()
            for k in range(edits):
                pause = started + k / sz.edit_rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)  # the load's pace, not a wait for the system
                pk, name = registers[k % len(registers)]
                new_name = f"{name} e{k}"
                with transaction.atomic():
                    # Runs first among the commit hooks, before the edit's push.
                    transaction.on_commit(lambda n=new_name: committed.__setitem__(n, time.time()))
                    services.rename_register(PosConfig(pk=pk), name=new_name, actor="bench")
            offered = edits / (time.monotonic() - started)

            def all_applied():
                names = {m[2] for m in s.timed_mutations()}
                return all(n in names for n in committed)

            wait_until(all_applied, timeout=sz.edit_tick_seconds + 60, interval=0.2)
    finally:
        settings.SYNC_PUSH_ON_COMMIT = False
    applied: dict[str, float] = {}
    for _, _, name, _, at in s.timed_mutations():
        applied.setdefault(name, at)
    latencies = [(applied[n] - t) * 1000 for n, t in committed.items()]
    median, p99 = statistics.median(latencies), percentile(latencies, 99)
    s.reset()
    b.say(
        f"  {edits} renames over {sz.edit_tenants} tenants at {offered:.1f}/s: median "
        f"{median:.0f} ms, p90 {percentile(latencies, 90):.0f} ms, p99 {p99:.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )
    return b.figure(
        "edit-to-Odoo latency",
        f"median {median:.0f} ms, p99 {p99:.0f} ms (max {max(latencies):.0f} ms)",
        f"median < 100 ms, p99 < 300 ms ({sz.edit_tenants} tenants, {sz.edit_rate:g} edits/s)",
        median < 100 and p99 < 300,
        edits=edits,
        offered_edits_per_s=r(offered, 2),
        worker_concurrency=sz.edit_concurrency,
        tick_seconds=sz.edit_tick_seconds,
        injected_latency_ms=sz.edit_latency_ms,
        median_ms=r(median, 1),
        p90_ms=r(percentile(latencies, 90), 1),
        p99_ms=r(p99, 1),
        max_ms=r(max(latencies), 1),
    )


def memory(b: Bench) -> dict:
    """A prefork worker's pool process before and after draining 20,000 rows."""
    from odoo_sync import tasks
    from odoo_sync.tests.harness import fresh_broker, wait_until

    sz = b.sizes
    s = b.sandbox.reset()
    fresh_broker()
    warm = make_tenant("mem-warm-up", s)
    pending_creates(warm, min(50, sz.memory_rows), prefix="Warm")
    per_tenant = -(-sz.memory_rows // sz.memory_tenants)
    # Beat too, as in production: a drain task waiting in the queue longer than two
    # ticks expires, and the next tick enqueues the tenant again.
    env = {"SYNC_TICK_SECONDS": f"{sz.memory_tick_seconds:g}"}
    with b.processes("memory") as procs:
        worker = procs.worker("memory", concurrency=1, env=env)
        procs.beat("beat", env=env)
        procs.wait_ready("memory", timeout=120)
        tasks.enqueue_drain(warm.pk)
        wait_until(lambda: pending_count([warm.pk]) == 0, timeout=120, what="warm-up drained")
        (child,) = children(worker.pid)
        before = {"pool_process": rss_mb(child), "main_process": rss_mb(worker.pid)}
        tenants = [make_tenant(f"mem-{i}", s) for i in range(sz.memory_tenants)]
        for tenant in tenants:
            pending_creates(tenant, per_tenant, prefix="Memory")
        ids = [t.pk for t in tenants]
        started = time.perf_counter()
        for tenant_id in ids:
            tasks.enqueue_drain(tenant_id)
        rows = per_tenant * len(ids)
        wait_until(
            lambda: pending_count(ids) == 0,
            timeout=rows * 0.05 + 120,
            interval=0.5,
            what="every row drained",
        )
        wall = time.perf_counter() - started
        expect(children(worker.pid) == [child], "the pool process was replaced")
        after = {"pool_process": rss_mb(child), "main_process": rss_mb(worker.pid)}
    s.reset()
    growth = after["pool_process"] - before["pool_process"]
    b.say(
        f"  pool process {before['pool_process']:.1f} -> {after['pool_process']:.1f} MB, "
        f"main process {before['main_process']:.1f} -> {after['main_process']:.1f} MB, "
        f"{rows} rows in {wall:.0f} s ({rows / wall:.0f} rows/s)"
    )
    return b.figure(
        "worker resident memory",
        f"+{growth:.1f} MB over {rows} rows ({before['pool_process']:.0f} -> "
        f"{after['pool_process']:.0f} MB)",
        "growth < 20 MB",
        growth < 20,
        rows=rows,
        tenants=len(ids),
        rss_before_mb={k: r(v, 1) for k, v in before.items()},
        rss_after_mb={k: r(v, 1) for k, v in after.items()},
        growth_mb=r(growth, 1),
        rows_per_s=r(rows / wall, 1),
    )


# In the order they run: the tick's 200,000 registers last, so no other figure works beside them.
FIGURES = {
    "floor": floor,
    "cpu": cpu_per_row,
    "one-tenant": one_tenant,
    "tls": tls,
    "fanout": fanout,
    "edit-latency": edit_latency,
    "memory": memory,
    "tick": tick,
}
