"""The register sync state machine: one table (state, event) -> state, one function applying it.

Every sync-state change of a register is an event applied here to the locked
row and recorded, with who or what caused it, in a RegisterEvent. What each
event writes is fixed by the event, not by the caller: callers pass only the
values the event carries (an Odoo id, an error). Every event that re-queues a
row ends any claim on it, so a drain that was in flight records `superseded`
instead of overwriting the newer state.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from registers.models import ErrorKind, PosConfig, RegisterEvent, SyncState

PC, PU, OK, ERR = (
    SyncState.PENDING_CREATE,
    SyncState.PENDING_UPDATE,
    SyncState.SYNCED,
    SyncState.SYNC_ERROR,
)

# Who caused an event that no person made.
SYNC_ACTOR = "sync"
SYSTEM_ACTOR = "system"


class Event:
    EDITED = "edited"  # renamed or (de)activated, and the row has an Odoo id
    CREATE_LANDED = "create_landed"  # Odoo holds the pos.config: its id is stored
    # A create took the pos.config Odoo already had under the register's name (onboarding).
    LINKED_EXISTING = "linked_existing"
    WRITE_LANDED = "write_landed"  # Odoo took the name/active write
    ATTEMPT_FAILED = "attempt_failed"  # a transient failure: backing off
    DEAD_LETTERED = "dead_lettered"  # last attempt, or Odoo's permanent verdict on the row
    RELINKED = "relinked"  # the id points nowhere now (another database, stale): create again
    SYNC_ENABLED = "sync_enabled"  # the tenant syncs now: a local-only row is created in Odoo
    OPERATOR_RETRY = "operator_retry"  # "Retry sync now" of a failed row
    OPERATOR_RECREATE = "operator_recreate"  # an operator has a dead create made in Odoo again
    LINKED_BY_OPERATOR = "linked_by_operator"  # an operator picked the pos.config to link
    DRIFT_FIXED = "drift_fixed"  # the audit saw Odoo changed behind our back: local wins
    FORCED_CREATE = "forced_create"  # an operator wants a new config although names match
    # An operator took Odoo's name or active flag for the register (the audit's "Accept
    # Odoo's value"): the register is in step again with nothing sent to Odoo.
    ODOO_VALUE_ACCEPTED = "odoo_value_accepted"


def _has_odoo_id(row: PosConfig) -> bool:
    return row.odoo_pos_config_id is not None


def _no_odoo_id(row: PosConfig) -> bool:
    return row.odoo_pos_config_id is None


def _tied_to_its_odoo(row: PosConfig) -> bool:
    """Holds something true only of the Odoo it was synced with: an id, or the candidates an
    operator is to pick among (an ambiguous create), or an operator's "create a new one"
    decided on that Odoo's configs."""
    if _has_odoo_id(row):
        return True
    if row.sync_state == SyncState.SYNC_ERROR:
        return row.last_sync_error_kind == ErrorKind.AMBIGUOUS
    return row.sync_state == SyncState.PENDING_CREATE and not row.odoo_create_matches_name


def _has_failed(row: PosConfig) -> bool:
    return row.sync_retries > 0


def _retry_in_place(row: PosConfig) -> bool:
    """A dead-lettered update whose record still exists in Odoo."""
    return _has_odoo_id(row) and row.last_sync_error_kind != ErrorKind.MISSING


def _always(row: PosConfig) -> bool:
    return True


@dataclass(frozen=True)
class Move:
    to: str
    # What must be true of the locked row for the event to apply at all.
    requires: Callable[[PosConfig], bool] = _always


TRANSITIONS: dict[tuple[str, str], Move] = {
    (OK, Event.EDITED): Move(PU, _has_odoo_id),
    (PU, Event.EDITED): Move(PU, _has_odoo_id),
    (ERR, Event.EDITED): Move(PU, _has_odoo_id),
    (PC, Event.CREATE_LANDED): Move(OK),
    (PC, Event.LINKED_EXISTING): Move(OK),
    (PU, Event.WRITE_LANDED): Move(OK, _has_odoo_id),
    (PC, Event.ATTEMPT_FAILED): Move(PC),
    (PU, Event.ATTEMPT_FAILED): Move(PU),
    (PC, Event.DEAD_LETTERED): Move(ERR),
    (PU, Event.DEAD_LETTERED): Move(ERR),
    (OK, Event.RELINKED): Move(PC, _has_odoo_id),
    (PU, Event.RELINKED): Move(PC, _has_odoo_id),
    (ERR, Event.RELINKED): Move(PC, _tied_to_its_odoo),
    (PC, Event.RELINKED): Move(PC, _tied_to_its_odoo),
    (OK, Event.SYNC_ENABLED): Move(PC, _no_odoo_id),
    (ERR, Event.OPERATOR_RETRY): Move(PU, _retry_in_place),
    (PC, Event.OPERATOR_RETRY): Move(PC, _has_failed),
    (PU, Event.OPERATOR_RETRY): Move(PU, _has_failed),
    (ERR, Event.OPERATOR_RECREATE): Move(PC),
    (ERR, Event.LINKED_BY_OPERATOR): Move(PU, _no_odoo_id),
    (OK, Event.DRIFT_FIXED): Move(PU, _has_odoo_id),
    (PU, Event.DRIFT_FIXED): Move(PU, _has_odoo_id),
    (ERR, Event.FORCED_CREATE): Move(PC, _no_odoo_id),
    (OK, Event.ODOO_VALUE_ACCEPTED): Move(OK, _has_odoo_id),
}


class InvalidTransition(Exception):
    """An event the state machine does not allow for the row: a bug in the caller."""


def lock_register(register_id: int) -> PosConfig:
    """The register row, locked until the surrounding transaction ends."""
    return PosConfig.objects.select_for_update().get(pk=register_id)


def allows(row: PosConfig, event: str) -> bool:
    """Whether `event` applies to the row as it is."""
    move = TRANSITIONS.get((row.sync_state, event))
    return move is not None and move.requires(row)


# --- what each event writes ------------------------------------------------------------


def _fresh(row: PosConfig, now: datetime) -> list[str]:
    """Queued anew: no failures, no error, due now, no claim."""
    row.sync_retries = 0
    row.next_attempt_at = now
    row.last_sync_error = ""
    row.last_sync_error_kind = ""
    return ["sync_retries", "next_attempt_at", "last_sync_error", "last_sync_error_kind"]


def _landed(row: PosConfig, now: datetime) -> list[str]:
    row.sync_retries = 0
    row.next_attempt_at = None
    row.last_sync_error = ""
    row.last_sync_error_kind = ""
    row.last_synced_at = now
    return [
        "sync_retries",
        "next_attempt_at",
        "last_sync_error",
        "last_sync_error_kind",
        "last_synced_at",
    ]


def _agreed(written, seen):
    """What Odoo holds, if two accounts of it agree; None (unknown: sent again) if not."""
    return written if written == seen else None


def _effect(row: PosConfig, event: str, now: datetime, values: dict) -> list[str]:
    if event == Event.DRIFT_FIXED:
        # Odoo was changed behind our back: a value is known to be Odoo's only where what
        # we last wrote and what the audit read (`odoo_name`, `odoo_active`) agree, so the
        # write sends every field in which either differs from the register.
        row.odoo_name = _agreed(row.odoo_name, values["odoo_name"])
        row.odoo_active = _agreed(row.odoo_active, values["odoo_active"])
        return [*_fresh(row, now), "odoo_name", "odoo_active"]
    if event in (Event.EDITED, Event.SYNC_ENABLED, Event.OPERATOR_RETRY):
        return _fresh(row, now)
    if event in (Event.RELINKED, Event.OPERATOR_RECREATE):
        row.odoo_pos_config_id = None
        row.odoo_link_unconfirmed = row.odoo_made_by_regsync = False
        row.odoo_name = row.odoo_active = None
        fields = [
            *_fresh(row, now),
            "odoo_pos_config_id",
            "odoo_link_unconfirmed",
            "odoo_made_by_regsync",
            "odoo_name",
            "odoo_active",
        ]
        if event == Event.RELINKED:
            # Whatever was found or decided in the Odoo it leaves means nothing in the
            # next: its create looks that Odoo up again.
            row.odoo_link_candidates = []
            row.odoo_create_matches_name = True
            fields += ["odoo_link_candidates", "odoo_create_matches_name"]
        return fields
    if event == Event.LINKED_BY_OPERATOR:
        row.odoo_pos_config_id = values["odoo_id"]
        row.odoo_link_unconfirmed = True
        row.odoo_made_by_regsync = False
        row.odoo_link_candidates = []
        row.odoo_name = row.odoo_active = None  # unknown: the first write sends both
        return [
            *_fresh(row, now),
            "odoo_pos_config_id",
            "odoo_link_unconfirmed",
            "odoo_made_by_regsync",
            "odoo_link_candidates",
            "odoo_name",
            "odoo_active",
        ]
    if event == Event.FORCED_CREATE:
        row.odoo_create_matches_name = False
        row.odoo_link_candidates = []
        return [*_fresh(row, now), "odoo_create_matches_name", "odoo_link_candidates"]
    if event == Event.ODOO_VALUE_ACCEPTED:
        # The audit's read of Odoo is what Odoo holds now (the register took from it).
        row.odoo_name = values["odoo_name"]
        row.odoo_active = values["odoo_active"]
        return ["odoo_name", "odoo_active"]
    if event in (Event.CREATE_LANDED, Event.LINKED_EXISTING):
        row.odoo_pos_config_id = values["odoo_id"]
        row.odoo_create_matches_name = True
        row.odoo_made_by_regsync = event == Event.CREATE_LANDED
        row.odoo_name = values.get("odoo_name")
        row.odoo_active = values.get("odoo_active")
        return [
            *_landed(row, now),
            "odoo_pos_config_id",
            "odoo_create_matches_name",
            "odoo_made_by_regsync",
            "odoo_name",
            "odoo_active",
        ]
    if event == Event.WRITE_LANDED:
        row.odoo_link_unconfirmed = False
        row.odoo_name = values.get("odoo_name")
        row.odoo_active = values.get("odoo_active")
        fields = [*_landed(row, now), "odoo_link_unconfirmed", "odoo_name", "odoo_active"]
        if values.get("odoo_id", row.odoo_pos_config_id) != row.odoo_pos_config_id:
            # Written by its external id, which Odoo now has on another record (restored
            # from a backup): that record is the register's.
            row.odoo_pos_config_id = values["odoo_id"]
            fields.append("odoo_pos_config_id")
        return fields
    if event in (Event.ATTEMPT_FAILED, Event.DEAD_LETTERED):
        row.sync_retries = values["retries"]
        row.next_attempt_at = values.get("next_attempt_at")
        row.last_sync_error = values["error"]
        row.last_sync_error_kind = values["kind"]
        row.odoo_link_candidates = values.get("candidates", [])
        return [
            "sync_retries",
            "next_attempt_at",
            "last_sync_error",
            "last_sync_error_kind",
            "odoo_link_candidates",
        ]
    raise InvalidTransition(f"no effect defined for event {event!r}")


def apply_event(
    row: PosConfig,
    event: str,
    *,
    actor: str,
    detail: str = "",
    now: datetime | None = None,
    writes: "BatchWrites | None" = None,
    **values,
) -> PosConfig:
    """Apply `event` to a row locked by the caller's transaction, write it, and record it.

    `row` must come from `lock_register` in the current transaction. `values`
    are what the event carries: `odoo_id` (create_landed, linked_existing,
    linked_by_operator), `retries`, `error`, `kind` and `next_attempt_at`
    (attempt_failed, dead_lettered), `odoo_name` and `odoo_active` as the
    audit read them (drift_fixed, odoo_value_accepted). With `writes`, the row and its RegisterEvent are kept
    there unsaved, for the caller to write a whole batch in one statement each.
    Raises InvalidTransition for an event the table does not allow for the
    row's state, or whose precondition the row does not meet.
    """
    move = TRANSITIONS.get((row.sync_state, event))
    if move is None or not move.requires(row):
        raise InvalidTransition(
            f"register {row.pk}: event {event!r} does not apply in state {row.sync_state!r}"
            + ("" if move is None else " (precondition not met)")
        )
    now = now or timezone.now()
    from_state = row.sync_state
    row.sync_state = move.to
    in_flight = row.claim_token is not None
    row.claim_token = None
    row.claimed_until = None
    if in_flight:
        # A call in flight may have changed Odoo: what Odoo holds is unknown
        # until a landed create or write says it again (its effect sets it).
        row.odoo_name = row.odoo_active = None
    written = _effect(row, event, now, values)
    fields = ["sync_state", "claim_token", "claimed_until", "updated_at", *written]
    if in_flight:
        fields += [f for f in ("odoo_name", "odoo_active") if f not in fields]
    if writes is None:
        row.save(update_fields=fields)
    else:
        row.updated_at = now  # the batch's own UPDATE does not apply auto_now
        writes.changed(row, fields)
    record = RegisterEvent(
        register=row,
        action=event,
        from_state=from_state,
        to_state=move.to,
        detail=detail[:2000],
        actor=actor[:150],
        revision=row.revision,
    )
    if writes is None:
        record.save()
    else:
        writes.events.append(record)
    return row


class BatchWrites:
    """The rows and events one transaction changed, written together: one UPDATE per set
    of changed fields and one INSERT of events, instead of a statement per row and event.

    The rows must stay locked by the caller's transaction until `write`; anything that
    reads one of them from the database before then must call `write_rows` first.
    """

    def __init__(self) -> None:
        self.events: list[RegisterEvent] = []
        self._rows: dict[int, tuple[PosConfig, set[str]]] = {}

    def changed(self, row: PosConfig, fields) -> None:
        self._rows.setdefault(row.pk, (row, set()))[1].update(fields)

    def write_rows(self) -> None:
        """One parametrised UPDATE per set of changed fields, sent for all its rows at once.

        `executemany` (pipelined by psycopg 3), not `bulk_update`, whose CASE
        expressions cost more CPU than the statements they save.
        """
        groups: dict[tuple[str, ...], list[PosConfig]] = {}
        for row, fields in self._rows.values():
            groups.setdefault(tuple(sorted(fields)), []).append(row)
        self._rows = {}
        meta, qn = PosConfig._meta, connection.ops.quote_name
        with connection.cursor() as cursor:
            for names, rows in groups.items():
                columns = [meta.get_field(name) for name in names]
                sets = ", ".join(f"{qn(f.column)} = %s" for f in columns)
                cursor.executemany(
                    # identifiers from the model's own meta, quoted; every value a parameter
                    f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn(meta.pk.column)} = %s",  # noqa: S608
                    [
                        [f.get_db_prep_save(getattr(row, f.attname), connection) for f in columns]
                        + [row.pk]
                        for row in rows
                    ],
                )

    def write(self) -> None:
        self.write_rows()
        RegisterEvent.objects.bulk_create(self.events)
        self.events = []


def apply_event_to(register_id: int, event: str, *, actor: str, detail: str = "", **values):
    """Lock the register and apply `event` (in the caller's transaction, or its own)."""
    with transaction.atomic(savepoint=False):
        return apply_event(lock_register(register_id), event, actor=actor, detail=detail, **values)
