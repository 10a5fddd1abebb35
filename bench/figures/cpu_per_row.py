"""regsync's own CPU and SQL statements per drained row, at two sizes."""

import time

from .harness import (
    Bench,
    QueryCounter,
    drain_until_done,
    expect,
    make_tenant,
    pending_creates,
    queue_renames,
    r,
)


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
