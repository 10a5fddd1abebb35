"""What each call costs a real Odoo, for a sandbox started with `costs="real"`.

The numbers were measured on real Odoo Community 17.0, 18.0 and 19.0 with
`point_of_sale`, PostgreSQL on loopback, one client (issue 24, shared/odoo-api.md;
docs/performance.md says what they mean for the drain). A call waits its cost
before it is applied, as Odoo commits at the end of the call; calls wait side
by side, as Odoo's workers do. With `costs="none"` (the default, and every
test's) nothing waits.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

PROFILES = ("none", "real")


@dataclass(frozen=True)
class Costs:
    """Seconds a call takes, the whole call (the key check included) unless said."""

    # common.authenticate: the API key against the password's slow KDF, on every call.
    authenticate: float
    # execute_kw / JSON-2 of anything not listed below, its (uid, key) check cached.
    call: float
    # pos.config.write of one record, and per record when many share one write.
    write: float
    write_row: float
    # pos.config.load (or create) making one record alone, and per record in a batch.
    create: float
    create_row: float
    # pos.config.load by `.id` (or of an external id that exists): one row, per row.
    update: float
    update_row: float

    def as_dict(self) -> dict:
        return asdict(self)


# Mid-range of each measured span (shared/odoo-api.md, "Measured again 2026-12-06"), in the
# order of Costs' fields: authenticate, call, write, write_row, create, create_row, update,
# update_row.
_MEASURED = {
    17: (0.900, 0.022, 0.037, 0.0078, 0.122, 0.128, 0.049, 0.041),
    18: (1.100, 0.023, 0.038, 0.0024, 0.275, 0.138, 0.061, 0.011),
    19: (0.900, 0.024, 0.035, 0.0026, 1.047, 0.129, 0.035, 0.010),
}
REAL = {major: Costs(*seconds) for major, seconds in _MEASURED.items()}


def profile(name: str, major: int) -> Costs | None:
    """The costs of `name` ("none" or "real") for this major version (16 costs as 17)."""
    if name not in PROFILES:
        raise ValueError(f"unknown costs {name!r}; one of {PROFILES}")
    if name == "none":
        return None
    return REAL[min(max(major, 17), 19)]


def _rows(costs_alone: float, per_row: float, rows: int) -> float:
    """A call on `rows` records: alone it costs `costs_alone`, in a batch `per_row` each."""
    if rows <= 0:
        return 0.0
    return max(costs_alone, rows * per_row)


def _load_rows(state, fields: list, data: list) -> tuple[int, int]:
    """(creates, updates) a `load` of these rows makes, as the state is now."""
    fields = list(fields)
    creates = updates = 0
    for row in data:
        cells = dict(zip(fields, row, strict=False))
        xid = str(cells.get("id") or "")
        if xid:
            module, _, name = xid.rpartition(".")
            found = state.find_xmlid(module or "__import__", name)
            exists = found is not None and found["res_id"] in state.tables["pos.config"]
            updates, creates = updates + exists, creates + (not exists)
        elif cells.get(".id"):
            updates += 1
        else:
            creates += 1
    return creates, updates


def model_call(costs: Costs, state, model: str, method: str, args: list, kwargs: dict) -> float:
    """What `model.method(*args, **kwargs)` costs, the key check cached."""
    if model != "pos.config":
        return costs.call
    if method == "write":
        ids = args[0] if args else kwargs.get("ids")
        count = 1 if isinstance(ids, int) else len(ids or [])
        return _rows(costs.write, costs.write_row, count)
    if method == "create":
        vals = args[0] if args else kwargs.get("vals_list")
        return _rows(costs.create, costs.create_row, 1 if isinstance(vals, dict) else len(vals))
    if method == "load":
        fields = args[0] if args else kwargs.get("fields")
        data = args[1] if len(args) > 1 else kwargs.get("data")
        creates, updates = _load_rows(state, fields or [], data or [])
        total = _rows(costs.create, costs.create_row, creates)
        return total + _rows(costs.update, costs.update_row, updates) or costs.call
    return costs.call


def xmlrpc_call(costs: Costs, state, service: str, method: str, params: tuple) -> float:
    """An XML-RPC call's cost; `execute_kw` pays the key's KDF until Odoo cached its check."""
    if service == "common":
        return costs.authenticate if method in ("authenticate", "login") else 0.0
    if service != "object" or method not in ("execute_kw", "execute") or len(params) < 5:
        return 0.0
    _db, uid, password, model, name, *rest = params
    if method == "execute_kw":
        args = list(rest[0]) if rest else []
        kwargs = dict(rest[1]) if len(rest) > 1 and isinstance(rest[1], dict) else {}
    else:
        args, kwargs = list(rest), {}
    check = 0.0 if (uid, password) in state.checked_keys else costs.authenticate
    return check + model_call(costs, state, model, name, args, kwargs)


def json2_call(costs: Costs, state, model: str, method: str, body: bytes) -> float:
    """A JSON-2 call's cost: its bearer key is checked on every call, which the totals hold."""
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        return costs.call
    if not isinstance(payload, dict):
        return costs.call
    return model_call(costs, state, model, method, [], payload)
