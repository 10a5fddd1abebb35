"""Benchmarks that print their figures: drain throughput, queries per row, the tick's cost.

Runs against a throwaway test database of the configured engine (SQLite by
default, PostgreSQL with DATABASE_URL) and an in-process sandbox Odoo, so it
measures regsync, not a network. `make bench` or `python bench/run.py [N]`.
"""

import os
import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("ODOO_ALLOW_PRIVATE_URLS", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # one line per attempt would dominate

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

settings.SYNC_PUSH_ON_COMMIT = False


class QueryCounter:
    """Counts SQL statements on the default connection (the debug log caps at 9000)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        self._cm = connection.execute_wrapper(self)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)


def main(n: int) -> None:
    from cafe.models import Tenant
    from odoo_sync import due
    from odoo_sync.drain import drain_tenant
    from odoo_sync.sandbox.control import Sandbox
    from registers import services
    from registers.models import PosConfig, SyncState

    # The sandbox runs in its own process, so it does not share this one's GIL.
    server = subprocess.Popen(
        [sys.executable, "-m", "odoo_sync.sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    url = re.search(r"listening on (\S+)", server.stdout.readline()).group(1)
    sandbox = Sandbox(url).reset()
    tenant = Tenant.objects.create(
        name="Bench",
        slug="bench",
        plan="pro",
        odoo_url=sandbox.url,
        odoo_db=sandbox.db,
        odoo_login=sandbox.login,
        odoo_api_key=sandbox.api_key,
    )
    print(f"engine={connection.vendor} registers={n} sandbox=17.0 (XML-RPC, loopback)")

    t0 = time.perf_counter()
    regs = [services.add_register(tenant, name=f"Register {i}", prefix="R") for i in range(n)]
    add_s = time.perf_counter() - t0
    print(f"add_register:       {n / add_s:8.0f} registers/s")

    tracemalloc.start()
    with QueryCounter() as ctx:
        t0 = time.perf_counter()
        result = drain_tenant(tenant.pk)
        create_s = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.created == n, result
    print(
        f"drain creates:      {n / create_s:8.0f} rows/s  "
        f"{ctx.count / n:5.1f} queries/row  peak {peak / 1e6:.1f} MB"
    )

    for reg in regs:
        services.rename_register(reg, name=reg.name + " renamed")
    with QueryCounter() as ctx:
        t0 = time.perf_counter()
        result = drain_tenant(tenant.pk)
        update_s = time.perf_counter() - t0
    assert result.updated == n, result
    print(
        f"drain updates:      {n / update_s:8.0f} rows/s  "
        f"{ctx.count / n:5.1f} queries/row  "
        f"odoo connections {sandbox.connections()}"
    )

    big = 100_000
    PosConfig.objects.bulk_create(
        [
            PosConfig(
                tenant=tenant,
                name=f"Old {i}",
                sequence_prefix="O",
                sync_state=SyncState.SYNCED,
                odoo_pos_config_id=10_000_000 + i,
            )
            for i in range(big)
        ],
        batch_size=5000,
    )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    reg = regs[0]
    services.rename_register(reg, name="Due now")
    runs = 200
    t0 = time.perf_counter()
    for _ in range(runs):
        found = due.tenants_with_due_work(now=timezone.now())
    tick_ms = (time.perf_counter() - t0) / runs * 1000
    assert found == [tenant.pk]
    print(f"tick due-work query: {tick_ms:7.2f} ms with {big + n} registers, 1 due")
    server.terminate()
    server.wait()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        main(count)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
