"""The tick's query, `due.tenants_with_due_work`, against table size and due rows."""

import statistics
import time
from datetime import timedelta
from itertools import zip_longest

from django.db import connection
from django.utils import timezone

from .harness import Bench, QueryCounter, expect, percentile, r


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
