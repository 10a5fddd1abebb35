"""The sandbox's own floor: what one call costs it, with and without injected latency."""

import time

from .harness import Bench, process_cpu_seconds, r


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
