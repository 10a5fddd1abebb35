"""The register sync state machine: allowed transitions and the one function that applies them."""

from collections.abc import Callable

from django.db import transaction

from registers.models import PosConfig, RegisterEvent, SyncState

PC, PU, OK, ERR = (
    SyncState.PENDING_CREATE,
    SyncState.PENDING_UPDATE,
    SyncState.SYNCED,
    SyncState.SYNC_ERROR,
)

ALLOWED_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (PC, PC),  # create failed and backing off, or retried by the operator
        (PC, OK),  # create landed
        (PC, PU),  # create landed but the row changed mid-flight
        (PC, ERR),  # create dead-lettered
        (PU, PU),  # queued again, or write failed and backing off
        (PU, PC),  # tenant re-linked to another Odoo database
        (PU, OK),  # write landed
        (PU, ERR),  # write dead-lettered
        (OK, PU),  # renamed/deactivated, has an Odoo id
        (OK, PC),  # tenant became sync-enabled: local-only row must be created
        (OK, OK),  # local-only edit bookkeeping
        (ERR, PU),  # admin edit or retry of a dead-lettered update
        (ERR, PC),  # operator retries a dead-lettered create, or one deleted in Odoo
        (ERR, ERR),
    }
)


class InvalidTransition(Exception):
    """A state change the state machine does not allow: a bug in the caller."""


def lock_register(register_id: int) -> PosConfig:
    """The register row, locked until the surrounding transaction ends."""
    return PosConfig.objects.select_for_update().get(pk=register_id)


def transition(
    register: PosConfig,
    to_state: str,
    *,
    action: str,
    detail: str = "",
    guard: Callable[[PosConfig], bool] | None = None,
    **changes,
) -> PosConfig | None:
    """Lock the register, check the move is allowed, write it, and record it.

    `guard` sees the freshly locked row; when it returns False nothing is
    written and None is returned (a claim that is no longer ours, an edit that
    raced the Odoo call). `changes` are other columns written with the state.
    """
    with transaction.atomic(savepoint=False):
        row = lock_register(register.pk)
        if guard is not None and not guard(row):
            return None
        from_state = row.sync_state
        if (from_state, to_state) not in ALLOWED_TRANSITIONS:
            raise InvalidTransition(f"register {row.pk}: {from_state} -> {to_state} ({action})")
        row.sync_state = to_state
        for field, value in changes.items():
            setattr(row, field, value)
        row.save(update_fields=["sync_state", "updated_at", *changes])
        if from_state != to_state or detail:
            RegisterEvent.objects.create(
                register=row,
                action=action,
                from_state=from_state,
                to_state=to_state,
                detail=detail[:2000],
            )
    return row
