"""Business operations on registers: the only way anything changes a register."""

import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from cafe import text
from cafe.models import Tenant
from odoo_client.names import name_key
from registers.models import (
    NAME_MAX_LENGTH,
    PENDING_STATES,
    PREFIX_MAX_LENGTH,
    ErrorKind,
    PosConfig,
    RegisterEvent,
    SyncState,
)
from registers.signals import registers_queued
from registers.state import (
    SYNC_ACTOR,
    SYSTEM_ACTOR,
    Event,
    allows,
    apply_event,
    lock_register,
)

PREFIX_RE = re.compile(rf"^[A-Z0-9]{{1,{PREFIX_MAX_LENGTH}}}$")


# --- validation ----------------------------------------------------------------


def clean_register_name(name: str) -> str:
    return text.clean_name(name, field="name", what="Register name", max_length=NAME_MAX_LENGTH)


def clean_sequence_prefix(prefix: str) -> str:
    prefix = (prefix or "").strip()
    if not PREFIX_RE.match(prefix):
        raise ValidationError(
            {
                "sequence_prefix": (
                    f"Sequence prefix must be 1 to {PREFIX_MAX_LENGTH} uppercase letters or "
                    f"digits, such as BAR1; got {prefix!r}."
                )
            }
        )
    return prefix


def _check_active_name_free(tenant_id: int, name: str, *, exclude_id: int | None = None) -> None:
    """No two active registers of a tenant read the same: equal but for case or look-alikes.

    Equal is what onboarding calls equal too (`name_key`: case, spacing and
    Unicode form aside), so a tenant never has two registers that one config
    in Odoo could be taken for.
    """
    others = PosConfig.objects.filter(tenant_id=tenant_id, is_active=True)
    if exclude_id is not None:
        others = others.exclude(pk=exclude_id)
    if others.annotate(lname=Lower("name")).filter(lname=name.lower()).exists():
        raise ValidationError(
            {"name": f"An active register named {name!r} already exists for this tenant."}
        )
    key = name_key(name)
    for other in others.values_list("name", flat=True).iterator():
        if name_key(other) == key:
            raise ValidationError(
                {
                    "name": f"{name!r} is the active register {other!r} of this tenant but for "
                    "case, spacing or Unicode form; choose a name that reads differently."
                }
            )
        if text.looks_alike(name, other):
            raise ValidationError(
                {
                    "name": f"{name!r} looks like the active register {other!r} of this "
                    "tenant (it differs only in look-alike letters); choose a name that reads "
                    "differently."
                }
            )


def _save_unique(register: PosConfig, **kwargs) -> None:
    """Save, turning a lost race on the active-name constraint into a ValidationError."""
    try:
        with transaction.atomic():
            register.save(**kwargs)
    except IntegrityError as exc:
        if "cafe_pos_configs_active_name_uniq" in str(exc):
            raise ValidationError(
                {"name": f"An active register named {register.name!r} already exists."}
            ) from exc
        raise


def push_waiting(tenant: Tenant) -> None:
    """Push the tenant's waiting registers once this transaction commits, as an edit does."""
    _push_soon(tenant.pk)


def _push_soon(tenant_id: int) -> None:
    """Tell whoever listens (the sync app) that the tenant has work, once this transaction commits."""
    transaction.on_commit(lambda: registers_queued.send(sender=PosConfig, tenant_id=tenant_id))


def relink_register(register_id: int, *, detail: str = "", actor: str = SYNC_ACTOR) -> bool:
    """Forget a register's Odoo id and queue it to be created again (caller's transaction).

    For an id that points nowhere (another database, or an id Odoo gave to
    another register); the create is an external-id upsert, so a register that
    does exist there is found again, not duplicated. False when the row has no
    id (nothing to forget).
    """
    with transaction.atomic(savepoint=False):
        row = lock_register(register_id)
        if not allows(row, Event.RELINKED):
            return False
        apply_event(row, Event.RELINKED, actor=actor, detail=detail)
        return True


class StaleEdit(ValidationError):
    """The register changed since the form was opened: nothing was written."""


def _check_not_stale(row: PosConfig, expected_revision: int | None) -> None:
    if expected_revision is None or row.revision == expected_revision:
        return
    since = list(
        RegisterEvent.objects.filter(register=row, revision__gt=expected_revision)
        .exclude(actor=SYNC_ACTOR)
        .exclude(action__in=STATE_EVENTS)
        .order_by("created_at", "id")
    )
    changes = "; ".join(
        f"{_EDIT_WORDS.get(e.action, e.action)}{' ' + e.detail if e.detail else ''}"
        f" by {e.actor or 'someone'} at {e.created_at:%Y-%m-%d %H:%M %Z}"
        for e in since
    )
    raise StaleEdit(
        f"This register was changed after you opened it ({changes or 'by someone else'}). "
        "Nothing was saved: the form now shows the current values; make your change "
        "again if it is still needed."
    )


_EDIT_WORDS = {
    "renamed": "renamed",
    "deactivated": "deactivated",
    "reactivated": "reactivated",
    "prefix_changed": "sequence prefix changed",
}
STATE_EVENTS = tuple(v for k, v in vars(Event).items() if k.isupper())


def _record_edit(row: PosConfig, action: str, *, actor: str, detail: str = "") -> None:
    RegisterEvent.objects.create(
        register=row,
        action=action,
        from_state=row.sync_state,
        detail=detail,
        actor=actor[:150],
        revision=row.revision,
    )


# --- operations ----------------------------------------------------------------


@transaction.atomic
def add_register(tenant: Tenant, *, name: str, prefix: str, actor: str = SYSTEM_ACTOR) -> PosConfig:
    """Insert a register; a sync-enabled tenant's is queued for `pos.config.create`."""
    name = clean_register_name(name)
    prefix = clean_sequence_prefix(prefix)
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    _check_active_name_free(tenant.pk, name)
    now = timezone.now()
    if tenant.is_sync_enabled:
        state, due = SyncState.PENDING_CREATE, now
    else:
        state, due = SyncState.SYNCED, None
    register = PosConfig(
        tenant=tenant, name=name, sequence_prefix=prefix, sync_state=state, next_attempt_at=due
    )
    _save_unique(register)
    RegisterEvent.objects.create(
        register=register, action="added", to_state=state, actor=actor[:150], revision=0
    )
    if state == SyncState.PENDING_CREATE:
        _push_soon(tenant.pk)
    return register


_KEEP = object()


@transaction.atomic
def edit_register(
    register: PosConfig,
    *,
    name: str | object = _KEEP,
    active: bool | object = _KEEP,
    prefix: str | object = _KEEP,
    expected_revision: int | None = None,
    actor: str = SYSTEM_ACTOR,
) -> PosConfig:
    """Change any of name, active and prefix at once, as one edit.

    `expected_revision` is the optimistic lock of a form: when the register
    was edited since (by anyone), StaleEdit says what changed and by whom, and
    nothing is written. Only the values given are touched. A name or active
    change Odoo must see queues the write-back (`queue_odoo_update`); a prefix
    change stays local.
    """
    row = lock_register(register.pk)
    _check_not_stale(row, expected_revision)
    odoo_sees = _edit(row, name=name, active=active, prefix=prefix, actor=actor)
    return queue_odoo_update(row, actor=actor) if odoo_sees else row


def _edit(row: PosConfig, *, name, active, prefix, actor: str) -> bool:
    """Apply an edit to the locked row and record it; whether Odoo must see it (name, active)."""
    if name is not _KEEP:
        name = clean_register_name(name)
    if prefix is not _KEEP:
        prefix = clean_sequence_prefix(prefix)
    # Deactivate before a rename and reactivate after it, so that a register
    # going inactive may take the name of an active one, and one coming back
    # is checked under its new name.
    odoo_sees = False
    if active is False:
        odoo_sees |= _set_active(row, False, actor=actor)
    if name is not _KEEP and row.name != name:
        if row.is_active:
            _check_active_name_free(row.tenant_id, name, exclude_id=row.pk)
        old, row.name = row.name, name
        row.revision += 1
        _save_unique(row, update_fields=["name", "revision", "updated_at"])
        _record_edit(row, "renamed", actor=actor, detail=f"{old!r} -> {name!r}")
        odoo_sees = True
    if active is True:
        odoo_sees |= _set_active(row, True, actor=actor)
    if prefix is not _KEEP and row.sequence_prefix != prefix:
        old, row.sequence_prefix = row.sequence_prefix, prefix
        row.revision += 1
        row.save(update_fields=["sequence_prefix", "revision", "updated_at"])
        _record_edit(row, "prefix_changed", actor=actor, detail=f"{old!r} -> {prefix!r}")
    return odoo_sees


def _set_active(row: PosConfig, active: bool, *, actor: str) -> bool:
    if row.is_active == active:
        return False
    if active:
        _check_active_name_free(row.tenant_id, row.name, exclude_id=row.pk)
    row.is_active = active
    row.revision += 1
    _save_unique(row, update_fields=["is_active", "revision", "updated_at"])
    _record_edit(row, "reactivated" if active else "deactivated", actor=actor)
    return True


def rename_register(
    register: PosConfig,
    *,
    name: str,
    expected_revision: int | None = None,
    actor: str = SYSTEM_ACTOR,
) -> PosConfig:
    return edit_register(register, name=name, expected_revision=expected_revision, actor=actor)


def set_register_active(
    register: PosConfig, *, active: bool, actor: str = SYSTEM_ACTOR
) -> PosConfig:
    return edit_register(register, active=active, actor=actor)


def set_register_prefix(
    register: PosConfig, *, prefix: str, actor: str = SYSTEM_ACTOR
) -> PosConfig:
    """Local only: Odoo's pos.config has no sequence prefix, so nothing is queued."""
    return edit_register(register, prefix=prefix, actor=actor)


def queue_odoo_update(register: PosConfig, *, actor: str = SYSTEM_ACTOR) -> PosConfig:
    """Flag a register's name/active for write-back to Odoo, within the caller's transaction.

    Guard rails, in order: no Odoo id -> nothing to write back to; pending
    create -> the create pushes the live name and its divergence check catches
    the rest; otherwise (synced, pending update, or a dead letter with an Odoo
    id) -> `edited`: pending update with fresh attempts, due now, and any
    write in flight is superseded (its claim ends).
    """
    with transaction.atomic(savepoint=False):
        row = lock_register(register.pk)
        if not allows(row, Event.EDITED):
            return row
        apply_event(row, Event.EDITED, actor=actor)
        _push_soon(row.tenant_id)
        return row


def queue_pending_creates(tenant: Tenant, *, actor: str = SYSTEM_ACTOR) -> int:
    """Queue a newly sync-enabled tenant's local-only registers for creation in Odoo.

    Only rows that are `synced` with no Odoo id (kept locally while the tenant
    was Starter, unconfigured or paused); a dead-lettered create is left for
    the operator.
    """
    with transaction.atomic(savepoint=False):
        ids = list(
            PosConfig.objects.filter(
                tenant=tenant, odoo_pos_config_id__isnull=True, sync_state=SyncState.SYNCED
            ).values_list("pk", flat=True)
        )
        queued = 0
        for pk in ids:
            row = lock_register(pk)
            if allows(row, Event.SYNC_ENABLED):
                apply_event(row, Event.SYNC_ENABLED, actor=actor)
                queued += 1
        if queued:
            _push_soon(tenant.pk)
        return queued


class RetryOutcome:
    QUEUED_UPDATE = "queued_update"  # dead-lettered update: fresh attempts
    QUEUED_CREATE = "queued_create"  # dead-lettered create: queued as a create again
    RECREATE = "recreate"  # its pos.config was deleted in Odoo: create it again
    RETRIED = "retried"  # backing off after a failure: due now, fresh attempts
    NEEDS_OPERATOR = "needs_operator"  # creating in Odoo again is an operator's call
    NOTHING_TO_RETRY = "nothing_to_retry"  # synced, or pending and not failed yet


def plan_retry(register: PosConfig, *, operator: bool) -> str:
    """What "Retry sync now" does to this register (a RetryOutcome), without doing it.

    Only an operator re-creates a register in Odoo: a dead-lettered create (no
    Odoo id) or one whose pos.config was deleted there. Nothing else ever puts
    a dead-lettered create back in the queue.
    """
    if register.sync_state == SyncState.SYNC_ERROR:
        if register.odoo_pos_config_id is None:
            return RetryOutcome.QUEUED_CREATE if operator else RetryOutcome.NEEDS_OPERATOR
        if register.last_sync_error_kind == ErrorKind.MISSING:
            return RetryOutcome.RECREATE if operator else RetryOutcome.NEEDS_OPERATOR
        return RetryOutcome.QUEUED_UPDATE
    if register.sync_state in PENDING_STATES and register.sync_retries > 0:
        return RetryOutcome.RETRIED
    return RetryOutcome.NOTHING_TO_RETRY


_RETRY_EVENTS = {
    RetryOutcome.QUEUED_UPDATE: Event.OPERATOR_RETRY,
    RetryOutcome.RETRIED: Event.OPERATOR_RETRY,
    RetryOutcome.QUEUED_CREATE: Event.OPERATOR_RECREATE,
    RetryOutcome.RECREATE: Event.OPERATOR_RECREATE,
}


def retry_sync(register: PosConfig, *, operator: bool = True, actor: str = SYSTEM_ACTOR) -> str:
    """The "Retry sync now" action: fresh attempts, due now, as plan_retry says."""
    with transaction.atomic():
        row = lock_register(register.pk)
        outcome = plan_retry(row, operator=operator)
        if outcome in (RetryOutcome.NOTHING_TO_RETRY, RetryOutcome.NEEDS_OPERATOR):
            return outcome
        apply_event(row, _RETRY_EVENTS[outcome], actor=actor, detail=outcome)
        _push_soon(row.tenant_id)
        return outcome


def relink_all_to_odoo(tenant: Tenant, *, actor: str = SYSTEM_ACTOR) -> int:
    """Forget every Odoo id of a tenant and queue those registers for creation.

    For a tenant moved to another Odoo database (or the demo's sandbox Odoo,
    which starts empty): the ids it had point nowhere now. The creates are
    external-id upserts, so registers that do exist there are found, not
    duplicated. An ambiguous register's candidates, and an operator's "create
    a new one", were found and decided in the Odoo it leaves: those registers
    are looked up again in the new one. Other registers without an id are left
    as they are; a create of theirs in flight to the old Odoo is superseded by
    the connection's new revision.
    """
    with transaction.atomic():
        tied = PosConfig.objects.filter(tenant=tenant).filter(
            Q(odoo_pos_config_id__isnull=False)
            | Q(sync_state=SyncState.SYNC_ERROR, last_sync_error_kind=ErrorKind.AMBIGUOUS)
            | Q(sync_state=SyncState.PENDING_CREATE, odoo_create_matches_name=False)
        )
        relinked = sum(
            relink_register(pk, actor=actor, detail="the tenant's Odoo database changed")
            for pk in tied.values_list("pk", flat=True)
        )
        if relinked:
            _push_soon(tenant.pk)
        return relinked


def holder_of_odoo_config(
    tenant: Tenant, odoo_id: int, *, exclude: int | None = None
) -> PosConfig | None:
    """The register (other than `exclude`) that links this pos.config, of any tenant on the
    same Odoo database as `tenant`: ownership is the database's, not the tenant's."""
    holders = PosConfig.objects.filter(
        tenant_id__in=Tenant.objects.sharing_odoo_with(tenant), odoo_pos_config_id=odoo_id
    )
    if exclude is not None:
        holders = holders.exclude(pk=exclude)
    return holders.select_related("tenant").first()


# --- onboarding: an operator settles an ambiguous create ---------------------------------


class NotAmbiguous(ValidationError):
    """The register is not waiting for an operator to pick its Odoo config."""


def _ambiguous_row(register: PosConfig, expected_connection_revision: int | None) -> PosConfig:
    row = lock_register(register.pk)
    if row.sync_state != SyncState.SYNC_ERROR or row.last_sync_error_kind != ErrorKind.AMBIGUOUS:
        raise NotAmbiguous(
            f"Register {row.name!r} is not waiting for a choice of Odoo config "
            f"(it is {row.get_sync_state_display().lower()})."
        )
    revision = Tenant.objects.values_list("odoo_connection_revision", flat=True).get(
        pk=row.tenant_id
    )
    if expected_connection_revision is not None and expected_connection_revision != revision:
        # The ids on that page were another Odoo's: the same number here is another config.
        raise NotAmbiguous(
            f"{row.tenant.name}'s Odoo connection changed since this page was opened: the "
            f"configs named like {row.name!r} are looked up again in the Odoo it points at now."
        )
    return row


@transaction.atomic
def link_register_to_odoo(
    register: PosConfig,
    *,
    odoo_pos_config_id: int,
    actor: str = SYSTEM_ACTOR,
    expected_connection_revision: int | None = None,
) -> PosConfig:
    """Link an ambiguous register to the config the operator picked among the candidates.

    Local truth is then written to it, and regsync's external id attached, by
    the next drain. Operator-only (the admin checks); recorded with who did it.
    With `expected_connection_revision` (the page's), a choice made before the
    tenant moved to another Odoo is refused: its ids were that Odoo's.
    """
    row = _ambiguous_row(register, expected_connection_revision)
    candidates = {c["id"] for c in row.odoo_link_candidates}
    if odoo_pos_config_id not in candidates:
        raise ValidationError(
            f"pos.config {odoo_pos_config_id} is not one of the configs found for "
            f"{row.name!r} ({', '.join(str(c) for c in sorted(candidates)) or 'none'})."
        )
    taken = holder_of_odoo_config(row.tenant, odoo_pos_config_id)
    if taken is not None:
        owner = "" if taken.tenant_id == row.tenant_id else f" of {taken.tenant.name}"
        raise ValidationError(
            f"pos.config {odoo_pos_config_id} is already the register {taken.name!r}'s{owner}."
        )
    picked = next(c for c in row.odoo_link_candidates if c["id"] == odoo_pos_config_id)
    apply_event(
        row,
        Event.LINKED_BY_OPERATOR,
        actor=actor,
        detail=f"pos.config {odoo_pos_config_id} {picked['name']!r}"
        f"{'' if picked['active'] else ' (archived)'}, picked among "
        f"{len(row.odoo_link_candidates)} named alike",
        odoo_id=odoo_pos_config_id,
    )
    _push_soon(row.tenant_id)
    return row


@transaction.atomic
def force_create_in_odoo(
    register: PosConfig,
    *,
    actor: str = SYSTEM_ACTOR,
    expected_connection_revision: int | None = None,
) -> PosConfig:
    """Create a new config in Odoo for an ambiguous register, whatever names match there."""
    row = _ambiguous_row(register, expected_connection_revision)
    apply_event(row, Event.FORCED_CREATE, actor=actor, detail="a new pos.config, by hand")
    _push_soon(row.tenant_id)
    return row


# --- the drift audit: an operator settles a finding --------------------------------------


def _as_register_name(odoo_name: str) -> str:
    """Odoo's name of a config, if regsync takes it as a register's name unchanged."""
    name = clean_register_name(odoo_name)
    if name != odoo_name:
        raise ValidationError(
            {
                "name": f"Odoo's name {odoo_name!r} cannot be a register's name as it is "
                "(surrounding spaces, or another Unicode form): change it in Odoo first."
            }
        )
    return name


@transaction.atomic
def accept_odoo_value(
    register: PosConfig,
    *,
    odoo_id: int,
    field: str,
    was: str | bool,
    odoo_name: str,
    odoo_active: bool,
    actor: str = SYSTEM_ACTOR,
) -> PosConfig:
    """The register takes Odoo's name or active flag (`field`: "name" or "active"), as the
    audit read the config (`odoo_name`, `odoo_active`): "Accept Odoo's value".

    Nothing is sent to Odoo: the register is in step with it again. Refused
    (ValidationError, nothing written) unless the register is still in step
    with that config and still holds `was`, the value the audit compared: a
    change made here since, or on its way to Odoo, is never overwritten. The
    edit follows `edit_register`'s rules (a name regsync accepts as it is,
    no two active registers named alike) and is recorded with who made it.
    """
    row = lock_register(register.pk)
    current = row.name if field == "name" else row.is_active
    if row.odoo_pos_config_id != odoo_id or row.sync_state != SyncState.SYNCED or current != was:
        raise ValidationError(
            f"Register {row.name!r} changed since the audit read pos.config {odoo_id} "
            f"(it is {row.get_sync_state_display().lower()} now): run the audit again."
        )
    if field == "name":
        _edit(row, name=_as_register_name(odoo_name), active=_KEEP, prefix=_KEEP, actor=actor)
        detail = f"Odoo's name {odoo_name!r}"
    else:
        _edit(row, name=_KEEP, active=odoo_active, prefix=_KEEP, actor=actor)
        detail = f"Odoo's active flag ({'active' if odoo_active else 'archived'})"
    apply_event(
        row,
        Event.ODOO_VALUE_ACCEPTED,
        actor=actor,
        detail=f"{detail}, from pos.config {odoo_id}",
        odoo_name=odoo_name,
        odoo_active=odoo_active,
    )
    return row


@transaction.atomic
def adopt_odoo_config(
    tenant: Tenant,
    *,
    odoo_id: int,
    name: str,
    active: bool,
    prefix: str,
    connection_revision: int,
    actor: str = SYSTEM_ACTOR,
) -> PosConfig:
    """Make a config found in the tenant's Odoo (made in Odoo's back office) a register of
    the tenant, linked to it, with its name and active flag: the audit's "Adopt".

    The register starts as pending update with its link unconfirmed, Odoo's
    values known: the next drain attaches regsync's external id to the config
    and writes nothing else. Refused (ValidationError, nothing written) when
    the tenant does not sync to Odoo, its connection changed since the audit
    (`connection_revision`), or a register of any tenant on the same Odoo
    links the config already (DESIGN property 14).
    """
    name = _as_register_name(name)
    prefix = clean_sequence_prefix(prefix)
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    if not tenant.has_odoo:
        raise ValidationError(f"{tenant.name} does not sync to Odoo now: nothing to adopt.")
    if tenant.odoo_connection_revision != connection_revision:
        raise ValidationError(
            f"The Odoo connection of {tenant.name} changed since the audit: run the audit again."
        )
    holder = holder_of_odoo_config(tenant, odoo_id)
    if holder is not None:
        whose = "" if holder.tenant_id == tenant.pk else f" of {holder.tenant.name}"
        raise ValidationError(
            f"pos.config {odoo_id} is already linked to the register {holder.name!r}{whose}."
        )
    if active:
        _check_active_name_free(tenant.pk, name)
    register = PosConfig(
        tenant=tenant,
        name=name,
        is_active=active,
        sequence_prefix=prefix,
        odoo_pos_config_id=odoo_id,
        odoo_link_unconfirmed=True,
        odoo_name=name,
        odoo_active=active,
        sync_state=SyncState.PENDING_UPDATE,
        next_attempt_at=timezone.now(),
    )
    _save_unique(register)
    RegisterEvent.objects.create(
        register=register,
        action="adopted",
        to_state=register.sync_state,
        detail=f"pos.config {odoo_id} {name!r} ({'active' if active else 'archived'})",
        actor=actor[:150],
        revision=0,
    )
    _push_soon(tenant.pk)
    return register
