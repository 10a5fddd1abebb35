"""Many tenants drained by one prefork worker, against concurrency over latency."""

import time

from .harness import Bench, expect, make_tenant, pending_count, queue_renames, r, synced_tenants


def _applied_after(sandbox, since: float) -> list[tuple]:
    return [m for m in sandbox.timed_mutations() if m[4] >= since]


def fanout(b: Bench) -> dict:
    """200 tenants x 10 due updates at 50 ms, drained by one prefork worker of concurrency 16."""
    from odoo_sync import tasks
    from odoo_sync.tests.harness import fresh_broker, wait_until

    sz = b.sizes
    s = b.sandbox.reset()
    tenants = [make_tenant(f"fan-{i}", s) for i in range(sz.fanout_tenants)]
    synced_tenants(s, tenants, sz.fanout_rows)
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
