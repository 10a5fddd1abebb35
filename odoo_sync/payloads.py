"""Pure builders of what regsync sends to Odoo for a register (no I/O)."""

from __future__ import annotations

import uuid

# The module part of our external ids: no installed module may carry this
# name, or Odoo would treat the records as that module's data.
EXTERNAL_ID_MODULE = "regsync"


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


def pos_config_external_id(register_uuid: uuid.UUID | str) -> tuple[str, str]:
    """`(module, name)` of the external id that makes the create idempotent."""
    value = register_uuid if isinstance(register_uuid, uuid.UUID) else uuid.UUID(register_uuid)
    return (EXTERNAL_ID_MODULE, f"register_{value.hex}")
