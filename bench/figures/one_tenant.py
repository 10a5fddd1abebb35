"""One tenant's drain against one OdooClient call per row, at a fixed latency."""

import time

from .harness import Bench, drain_until_done, expect, make_tenant, pending_creates, queue_renames, r


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
