"""Celery tasks: thin wrappers that take ids and call the drain. Safe to run twice."""

import logging
import time

from celery import shared_task
from django.conf import settings
from kombu.exceptions import OperationalError

from cafe.models import Plan, Tenant
from config import logging as log_context
from odoo_sync import audit, drain, due, housekeeping, reporting

log = logging.getLogger("odoo_sync")


@shared_task(name="odoo_sync.tick", ignore_result=True)
def tick() -> int:
    """Beat, every SYNC_TICK_SECONDS: one drain task per tenant with due work (or no contact yet)."""
    started = time.monotonic()
    with log_context.correlation(log_context.new_id("tick")):
        housekeeping.beat("tick")
        tenant_ids = due.tenants_with_due_work()
        for tenant_id in tenant_ids:
            enqueue_drain(tenant_id)
        for tenant_id in set(due.never_contacted_tenants()) - set(tenant_ids):
            enqueue_drain(tenant_id)  # its first login, due work or not
        heartbeat.apply_async(expires=settings.SYNC_TICK_SECONDS)
        reporting.log_queue_health()
        housekeeping.prune_attempts()
        housekeeping.finished("tick", took_ms=int((time.monotonic() - started) * 1000))
    return len(tenant_ids)


@shared_task(name="odoo_sync.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Lets the overview tell whether a worker is consuming the queue."""
    housekeeping.beat("worker")


@shared_task(name="odoo_sync.drain_tenant", ignore_result=True)
def drain_tenant(tenant_id: int) -> dict:
    housekeeping.beat("worker")
    result = drain.drain_tenant(tenant_id)
    if result.status == drain.TenantStatus.MORE:
        enqueue_drain(tenant_id)
    return result.as_dict()


def enqueue_drain(tenant_id: int) -> bool:
    """Queue a drain of one tenant; False (logged) if the broker cannot take it.

    The expiry keeps drains from piling up while workers are down: the tick
    enqueues a fresh one every period anyway. A broker outage must never fail
    the admin edit that asked for the push, so it is logged and left to the tick.
    """
    return _enqueue(drain_tenant, tenant_id, "drain", expires=settings.SYNC_TICK_SECONDS * 2)


def _enqueue(task, tenant_id: int, what: str, **options) -> bool:
    try:
        task.apply_async(
            args=[tenant_id],
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
            **options,
        )
    except OperationalError as exc:
        log.warning("odoo_sync could not enqueue %s of tenant %s: %s", what, tenant_id, exc)
        return False
    return True


@shared_task(name="odoo_sync.audit", ignore_result=True)
def audit_all() -> int:
    """Beat, once a day: the drift audit of every Pro tenant (reported, never fixed by itself)."""
    results = audit.audit(
        Tenant.objects.filter(plan=Plan.PRO, archived_at__isnull=True).order_by("pk")
    )
    return sum(len(result.findings) for result in results)


@shared_task(name="odoo_sync.audit_tenant", ignore_result=True)
def audit_tenant(tenant_id: int) -> int:
    """An operator's "Run audit now" of one tenant: how many findings it saw."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return 0
    return len(audit.audit_tenant(tenant).findings)


def enqueue_audit(tenant_id: int) -> bool:
    """Queue an audit of one tenant; False (logged) if the broker cannot take it."""
    return _enqueue(audit_tenant, tenant_id, "audit")


def push_soon(sender, *, tenant_id: int, **kwargs) -> None:
    """Receiver of `registers.signals.registers_queued`: the on-commit push of an edit."""
    if settings.SYNC_PUSH_ON_COMMIT:
        enqueue_drain(tenant_id)
