"""The figures of issues 14 and 24, one module each; bench/run.py runs them in this order.

Every figure uses regsync's public entry points only (`drain_tenant`, the
Celery task `odoo_sync.drain_tenant`, `due.tenants_with_due_work`,
`registers.services`, `OdooClient`), so the same code measures the drain as it
is on main whenever it is run again. Bulk data is written with bulk_create /
update (setup, never measured). What they share is in `harness`.
"""

from .cpu_per_row import cpu_per_row
from .edit_latency import edit_latency, edit_latency_real
from .fanout import fanout
from .floor import floor
from .memory import memory
from .one_tenant import one_tenant
from .rename_drain import rename_drain
from .tick import tick
from .tls import tls

# In the order they run: the tick's 200,000 registers last, so no other figure works beside them.
FIGURES = {
    "floor": floor,
    "cpu": cpu_per_row,
    "one-tenant": one_tenant,
    "tls": tls,
    "rename-drain": rename_drain,
    "fanout": fanout,
    "edit-latency": edit_latency,
    "edit-latency-real": edit_latency_real,
    "memory": memory,
    "tick": tick,
}
