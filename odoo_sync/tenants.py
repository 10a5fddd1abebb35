"""A tenant's plan or Odoo connection changes: what that does to its registers' sync.

The admin and the commands call these, never `cafe.services.set_plan` /
`set_odoo_connection` alone: the tenant row and its registers change in one
transaction. Becoming sync-enabled queues the registers kept locally; moving
to another Odoo (URL or database) relinks every register, since the ids held
point nowhere there (the creates are external-id upserts: found, not
duplicated, where they exist).
"""

from django.db import transaction

from cafe import services as tenant_services
from cafe.models import Tenant
from cafe.services import TenantChange
from odoo_sync import due, tasks, tenant_health
from odoo_sync.models import AuditRun, SyncAttempt
from registers import services as register_services
from registers.state import SYSTEM_ACTOR


def _follow(change: TenantChange, actor: str) -> Tenant:
    tenant_health.end_incidents_that_are_over(
        change.tenant, ended_by=f"connection edited by {actor}"
    )
    if change.moved_odoo:
        register_services.relink_all_to_odoo(change.tenant, actor=actor)
    if change.became_sync_enabled:
        register_services.queue_pending_creates(change.tenant, actor=actor)
    return change.tenant


def change_plan(tenant: Tenant, *, plan: str, actor: str = SYSTEM_ACTOR) -> Tenant:
    """Move a tenant between plans; becoming sync-enabled queues its local-only registers."""
    with transaction.atomic():
        return _follow(tenant_services.set_plan(tenant, plan=plan), actor)


def update_odoo_connection(tenant: Tenant, *, actor: str = SYSTEM_ACTOR, **fields) -> Tenant:
    """Edit the connection (url, db, login, api_key, protocol); see cafe.services.set_odoo_connection."""
    # Checking the URL waits on DNS: done before the transaction opens.
    edit = tenant_services.clean_connection_edit(**fields)
    with transaction.atomic():
        return _follow(tenant_services.set_odoo_connection(tenant, edit), actor)


def _not_now(tenant: Tenant) -> str:
    """Why nothing is asked of the tenant's Odoo now; "" when it may be."""
    if not tenant.has_odoo:
        return f"{tenant.name} does not sync to Odoo: it needs the Pro plan and a connection."
    if tenant.odoo_paused_at is not None:
        return (
            f"{tenant.name} is paused because Odoo refused its connection: fix the connection "
            "first (saving it lifts the pause)."
        )
    return ""


def restore(tenant: Tenant, *, actor: str = SYSTEM_ACTOR) -> Tenant:
    """Bring an archived tenant back: if it syncs again, its local registers are queued."""
    with transaction.atomic():
        return _follow(tenant_services.restore_tenant(tenant), actor)


def never_reached_odoo(tenant: Tenant) -> bool:
    """Nothing of this tenant is in, or ever came from, an Odoo: deleting it loses nothing.

    No login accepted now, no register with an Odoo id, no call made for a
    register, no drift audit. Anything else is archived, never deleted.
    """
    return (
        tenant.odoo_last_contact_at is None
        and not tenant.registers.filter(odoo_pos_config_id__isnull=False).exists()
        and not SyncAttempt.objects.filter(tenant=tenant).exists()
        and not AuditRun.objects.filter(tenant=tenant).exists()
    )


class CannotDelete(Exception):
    """The tenant reached Odoo once: archive it instead."""


def delete_tenant(tenant: Tenant) -> None:
    """Delete a tenant that never reached Odoo, with its registers (a mistyped tenant)."""
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if not never_reached_odoo(tenant):
            raise CannotDelete(
                f"{tenant.name} has reached its Odoo: archive it instead (it keeps its history)."
            )
        tenant.registers.all().delete()
        tenant.delete()


def connection_saved_and_works(tenant: Tenant) -> None:
    """Odoo accepted a connection just saved: what waited goes out on commit, not at the next tick."""
    if tenant.is_sync_enabled and due.count_due(tenant.pk):
        register_services.push_waiting(tenant)


def sync_now(tenant: Tenant) -> tuple[bool, str]:
    """The operator's "Sync now": a drain of the tenant at once, past an outage's wait.

    Never past a credentials pause (only an edit of the connection lifts it)
    nor a register's own backoff. Returns whether a drain was queued and what
    to tell the operator.
    """
    tenant = Tenant.objects.get(pk=tenant.pk)
    if why := _not_now(tenant):
        return False, why
    tenant_health.try_tenant_now(tenant.pk, connection_revision=tenant.odoo_connection_revision)
    if not tasks.enqueue_drain(tenant.pk):
        return False, "The sync queue cannot be reached right now: the next tick will try again."
    return True, f"A sync of {tenant.name} has started: its registers show the result shortly."


def audit_now(tenant: Tenant) -> tuple[bool, str]:
    """The operator's "Run audit now": the tenant's drift audit, queued at once (it only reads
    Odoo). Returns whether it was queued and what to tell the operator."""
    tenant = Tenant.objects.get(pk=tenant.pk)
    if why := _not_now(tenant):
        return False, why
    if not tasks.enqueue_audit(tenant.pk):
        return False, "The sync queue cannot be reached right now: try again in a moment."
    return True, (
        f"An audit of {tenant.name} has started: its findings show under Drift findings shortly."
    )
