"""Pure builders of what regsync sends to Odoo for a register (no I/O)."""

from __future__ import annotations


def build_pos_config_create_payload(*, name: str) -> dict:
    """Values for a new `pos.config`: the live name, active like Odoo's default."""
    return {"name": name, "active": True}


def build_pos_config_update_payload(*, name: str | None = None, active: bool | None = None) -> dict:
    """Values for a `pos.config` write: only name and active, empties dropped.

    A blank name is dropped rather than sent, since Odoo requires one; `{}`
    means there is nothing to write.
    """
    payload: dict = {}
    if name is not None and name.strip():
        payload["name"] = name
    if active is not None:
        payload["active"] = bool(active)
    return payload
