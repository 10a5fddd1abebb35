"""Business operations on registers: the only way anything changes a register."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone

from cafe.models import Tenant
from registers.models import (
    NAME_MAX_LENGTH,
    PENDING_STATES,
    PREFIX_MAX_LENGTH,
    ErrorKind,
    PosConfig,
    RegisterEvent,
    SyncState,
)
from registers.state import lock_register, transition

PREFIX_RE = re.compile(rf"^[A-Z0-9]{{1,{PREFIX_MAX_LENGTH}}}$")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


# --- validation ----------------------------------------------------------------


def clean_register_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Register name cannot be empty."})
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            {"name": f"Register name is {len(name)} characters long; at most {NAME_MAX_LENGTH}."}
        )
    if _CONTROL_CHARS.search(name):
        raise ValidationError({"name": "Register name cannot contain line breaks or tabs."})
    return name


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
    clash = PosConfig.objects.filter(tenant_id=tenant_id, is_active=True).annotate(
        lname=Lower("name")
    )
    if exclude_id is not None:
        clash = clash.exclude(pk=exclude_id)
    if clash.filter(lname=name.lower()).exists():
        raise ValidationError(
            {"name": f"An active register named {name!r} already exists for this tenant."}
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


def _push_soon(tenant_id: int) -> None:
    """Have the tenant's drain run as soon as this transaction commits (the tick is the net)."""
    if not settings.SYNC_PUSH_ON_COMMIT:
        return
    from odoo_sync.tasks import enqueue_drain  # the sync app builds on this one

    transaction.on_commit(lambda: enqueue_drain(tenant_id))


def _fresh_attempts() -> dict:
    """The sync columns of a register queued anew: no failures, no error, due now."""
    return {
        "sync_retries": 0,
        "next_attempt_at": timezone.now(),
        "last_sync_error": "",
        "last_sync_error_kind": "",
    }


def requeue_create(
    register_id: int, *, action: str, detail: str = "", forget_odoo_id: bool = False, guard=None
) -> PosConfig | None:
    """Queue one register to be created in Odoo, with fresh attempts (caller's transaction).

    `forget_odoo_id` drops a link that points nowhere (another database, or an
    id Odoo gave to another register); the create is an external-id upsert,
    so a register that does exist there is found again, not duplicated.
    """
    extra = {"odoo_pos_config_id": None} if forget_odoo_id else {}
    return transition(
        PosConfig(pk=register_id),
        SyncState.PENDING_CREATE,
        action=action,
        detail=detail,
        guard=guard,
        **_fresh_attempts(),
        **extra,
    )


# --- operations ----------------------------------------------------------------


@transaction.atomic
def add_register(tenant: Tenant, *, name: str, prefix: str) -> PosConfig:
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
    RegisterEvent.objects.create(register=register, action="added", to_state=state)
    if state == SyncState.PENDING_CREATE:
        _push_soon(tenant.pk)
    return register


@transaction.atomic
def rename_register(register: PosConfig, *, name: str) -> PosConfig:
    name = clean_register_name(name)
    row = lock_register(register.pk)
    if row.name == name:
        return row
    _check_active_name_free(row.tenant_id, name, exclude_id=row.pk)
    old = row.name
    row.name = name
    row.revision = F("revision") + 1
    _save_unique(row, update_fields=["name", "revision", "updated_at"])
    RegisterEvent.objects.create(
        register=row, action="renamed", from_state=row.sync_state, detail=f"{old!r} -> {name!r}"
    )
    return queue_odoo_update(row)


@transaction.atomic
def set_register_active(register: PosConfig, *, active: bool) -> PosConfig:
    row = lock_register(register.pk)
    if row.is_active == active:
        return row
    if active:
        _check_active_name_free(row.tenant_id, row.name, exclude_id=row.pk)
    row.is_active = active
    row.revision = F("revision") + 1
    _save_unique(row, update_fields=["is_active", "revision", "updated_at"])
    RegisterEvent.objects.create(
        register=row,
        action="reactivated" if active else "deactivated",
        from_state=row.sync_state,
    )
    return queue_odoo_update(row)


@transaction.atomic
def set_register_prefix(register: PosConfig, *, prefix: str) -> PosConfig:
    """Local only: Odoo's pos.config has no sequence prefix, so nothing is queued."""
    prefix = clean_sequence_prefix(prefix)
    row = lock_register(register.pk)
    if row.sequence_prefix != prefix:
        old = row.sequence_prefix
        row.sequence_prefix = prefix
        row.save(update_fields=["sequence_prefix", "updated_at"])
        RegisterEvent.objects.create(
            register=row, action="prefix_changed", detail=f"{old!r} -> {prefix!r}"
        )
    return row


def queue_odoo_update(register: PosConfig) -> PosConfig:
    """Flag a register's name/active for write-back to Odoo, within the caller's transaction.

    Guard rails, in order: no Odoo id -> nothing to write back to; pending
    create -> the create pushes the live name and its divergence check catches
    the rest; otherwise (synced, pending update, or a dead letter with an Odoo
    id) -> pending update with fresh attempts, due now.
    """
    with transaction.atomic(savepoint=False):
        row = lock_register(register.pk)
        if row.odoo_pos_config_id is None or row.sync_state == SyncState.PENDING_CREATE:
            return row
        row = transition(row, SyncState.PENDING_UPDATE, action="queued_update", **_fresh_attempts())
        _push_soon(row.tenant_id)
        return row


def queue_pending_creates(tenant: Tenant) -> int:
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
            queued += (
                requeue_create(
                    pk,
                    action="queued_create",
                    guard=lambda r: (
                        r.odoo_pos_config_id is None and r.sync_state == SyncState.SYNCED
                    ),
                )
                is not None
            )
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


def retry_sync(register: PosConfig, *, operator: bool = True) -> str:
    """The "Retry sync now" action: fresh attempts, due now, as plan_retry says."""
    with transaction.atomic():
        row = lock_register(register.pk)
        outcome = plan_retry(row, operator=operator)
        if outcome in (RetryOutcome.NOTHING_TO_RETRY, RetryOutcome.NEEDS_OPERATOR):
            return outcome
        fresh = _fresh_attempts()
        to_state = {
            RetryOutcome.QUEUED_UPDATE: SyncState.PENDING_UPDATE,
            RetryOutcome.QUEUED_CREATE: SyncState.PENDING_CREATE,
            RetryOutcome.RECREATE: SyncState.PENDING_CREATE,
            RetryOutcome.RETRIED: row.sync_state,
        }[outcome]
        if outcome == RetryOutcome.RECREATE:
            fresh["odoo_pos_config_id"] = None
        transition(row, to_state, action="operator_retry", detail=outcome, **fresh)
        _push_soon(row.tenant_id)
        return outcome


def relink_all_to_odoo(tenant: Tenant) -> int:
    """Forget every Odoo id of a tenant and queue those registers for creation.

    For a tenant moved to another Odoo database (or the demo's sandbox Odoo,
    which starts empty): the ids it had point nowhere now. The creates are
    external-id upserts, so registers that do exist there are found, not
    duplicated. Registers without an id are not links and are left as they are.
    """
    with transaction.atomic():
        linked = PosConfig.objects.filter(tenant=tenant, odoo_pos_config_id__isnull=False)
        ids = list(linked.values_list("pk", flat=True))
        for pk in ids:
            requeue_create(pk, action="relinked", forget_odoo_id=True)
        if ids:
            _push_soon(tenant.pk)
        return len(ids)
