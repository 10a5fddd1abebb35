"""Edit-to-Odoo latency: steady admin renames with a worker and beat running."""

import random
import statistics
import time

from django.conf import settings
from django.db import transaction

from .harness import Bench, make_tenant, percentile, r, synced_tenants


def edit_latency(b: Bench) -> dict:
    """Admin renames at a steady rate, worker and beat running: commit to Odoo applying it."""
    return _edit_latency(
        b,
        "edit-to-Odoo latency",
        target="median < 100 ms, p99 < 300 ms",
        met=lambda median, p99: median < 100 and p99 < 300,
    )


def edit_latency_real(b: Bench) -> dict:
    """The same renames against a sandbox at a real Odoo's costs (a rename ~49 ms: a load by external id; a login ~1 s)."""
    return _edit_latency(
        b,
        "edit-to-Odoo latency, real Odoo costs",
        target="median < 100 ms, p99 < 300 ms: one call each, no login",
        met=lambda median, p99: median < 100 and p99 < 300,
        costs="real",
    )


def _edit_latency(b: Bench, figure: str, *, target: str, met, costs: str = "none") -> dict:
    from odoo_sync.tests.harness import fresh_broker, wait_until
    from registers import services
    from registers.models import PosConfig

    sz = b.sizes
    s = b.sandbox.reset()
    tenants = [make_tenant(f"edit-{costs}-{i}", s) for i in range(sz.edit_tenants)]
    synced_tenants(s, tenants, sz.edit_registers)
    registers = list(
        PosConfig.objects.filter(tenant__in=tenants).values_list("pk", "name").order_by("pk")
    )
    random.Random(14).shuffle(registers)
    s.add_latency(sz.edit_latency_ms / 1000)
    s.set_costs(costs)  # after the setup: its creates and logins are not what is measured
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
        f"  {edits} renames over {sz.edit_tenants} tenants at {offered:.1f}/s (costs {costs}): "
        f"median {median:.0f} ms, p90 {percentile(latencies, 90):.0f} ms, p99 {p99:.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )
    return b.figure(
        figure,
        f"median {median:.0f} ms, p99 {p99:.0f} ms (max {max(latencies):.0f} ms)",
        f"{target} ({sz.edit_tenants} tenants, {sz.edit_rate:g} edits/s)",
        met(median, p99),
        costs=costs,
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
