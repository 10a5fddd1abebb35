"""A prefork worker's resident memory before and after a long drain."""

import time

from .harness import (
    Bench,
    children,
    expect,
    make_tenant,
    pending_count,
    pending_creates,
    r,
    rss_mb,
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
