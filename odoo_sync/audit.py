"""The drift audit: what changed in a tenant's Odoo behind regsync's back, and local truth winning.

`audit_tenant` reads every pos.config of the tenant's Odoo (active and
archived, in pages) with the regsync external ids each carries, and compares
it with the registers that are in step (`synced`): a register whose own change
is still on its way is not drift. Each run is kept (`AuditRun`,
`AuditFinding`) for the overview. `fix_findings` makes local truth win where
that is safe: a renamed, archived or unarchived config is written again from
the register; a deleted one is created again. Left alone, only reported: a
config no register links to (`unknown_in_odoo`), and a register's linked
config that carries another register's external id (`stale_link_in_odoo`:
not ours, DESIGN property 14). Nothing is ever deleted in Odoo.
"""

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from cafe.models import Plan, Tenant
from odoo_client.errors import OdooAuthError, OdooError
from odoo_sync.drain import client_for
from odoo_sync.explain import explain
from odoo_sync.models import AuditFinding, AuditRun
from registers.models import (
    PosConfig,
    SyncState,
    another_registers_external_id,
    odoo_external_id,
)
from registers.services import relink_register
from registers.signals import registers_queued
from registers.state import Event, allows, apply_event, lock_register

log = logging.getLogger("odoo_sync")

Kind = AuditFinding.Kind
Status = AuditRun.Status
AUDIT_ACTOR = "audit"
PAGE_SIZE = 200
# Findings that are reported, never fixed: writing there would write a config that is not ours.
LEFT_ALONE = {
    Kind.UNKNOWN: "not a register here",
    Kind.STALE_LINK: "the config carries another register's external id",
}


@dataclass
class TenantAudit:
    tenant: Tenant
    status: str
    findings: list[AuditFinding] = field(default_factory=list)
    error: str = ""
    run: AuditRun | None = None

    def as_dict(self) -> dict:
        return {
            "tenant": self.tenant.slug,
            "status": self.status,
            "findings": [finding.as_dict() for finding in self.findings],
        }


def _finding(kind, register=None, record=None) -> AuditFinding:
    return AuditFinding(
        kind=kind,
        register=register,
        odoo_id=record["id"] if record else (register.odoo_pos_config_id if register else None),
        local_name=register.name if register else None,
        local_active=register.is_active if register else None,
        odoo_name=record["name"] if record else None,
        odoo_active=record["active"] if record else None,
        odoo_external_id=next(iter(record.get("external_ids") or ()), "") if record else "",
    )


def compare(registers: list[PosConfig], records: list[dict]) -> list[AuditFinding]:
    """Drift between a tenant's registers and its Odoo's pos.configs (`id`, `name`, `active`,
    `external_ids`: the regsync external ids attached to each, as "module.name")."""
    by_id = {record["id"]: record for record in records}
    ours = {".".join(odoo_external_id(register.uuid)) for register in registers}
    linked = {r.odoo_pos_config_id for r in registers if r.odoo_pos_config_id is not None}
    findings = []
    for register in registers:
        if register.odoo_pos_config_id is None:
            continue  # not in Odoo yet
        record = by_id.get(register.odoo_pos_config_id)
        if record and another_registers_external_id(record.get("external_ids", ()), register.uuid):
            # Whatever its state: a write queued for it would land on another register's config.
            findings.append(_finding(Kind.STALE_LINK, register, record))
            continue
        if register.sync_state != SyncState.SYNCED:
            continue  # its own change is on the way: not drift
        if record is None:
            findings.append(_finding(Kind.DELETED, register))
            continue
        if record["name"] != register.name:
            findings.append(_finding(Kind.RENAMED, register, record))
        if record["active"] != register.is_active:
            kind = Kind.ARCHIVED if register.is_active else Kind.UNARCHIVED
            findings.append(_finding(kind, register, record))
    for record in records:
        if record["id"] in linked or ours & set(record.get("external_ids", ())):
            continue  # a register's: linked, or to be found again by its external id
        findings.append(_finding(Kind.UNKNOWN, record=record))
    return findings


def audit_tenant(tenant: Tenant) -> TenantAudit:
    """Read the tenant's Odoo and record what drifted (a run is kept whatever the status)."""
    started = timezone.now()
    if tenant.plan != Plan.PRO or not tenant.has_odoo:
        result = TenantAudit(tenant, Status.DISABLED)
    elif tenant.odoo_paused_at is not None:
        result = TenantAudit(tenant, Status.PAUSED, error=tenant.odoo_paused_reason)
    else:
        result = _read_and_compare(tenant)
    result.run = _keep(result, started)
    return result


def _read_and_compare(tenant: Tenant) -> TenantAudit:
    try:
        with client_for(tenant) as client:
            client.authenticate()
            records = client.read_all_pos_configs(page_size=PAGE_SIZE)
    except OdooAuthError as exc:
        return TenantAudit(tenant, Status.PAUSED, error=explain(exc, tenant).text)
    except OdooError as exc:
        return TenantAudit(tenant, Status.UNREACHABLE, error=explain(exc, tenant).text)
    registers = list(PosConfig.objects.filter(tenant=tenant).order_by("pk"))
    return TenantAudit(tenant, Status.OK, findings=compare(registers, records))


@transaction.atomic
def _keep(result: TenantAudit, started) -> AuditRun:
    run = AuditRun.objects.create(
        tenant=result.tenant,
        started_at=started,
        finished_at=timezone.now(),
        status=result.status,
        error=result.error[:2000],
        findings_count=len(result.findings),
    )
    for finding in result.findings:
        finding.run = run
        finding.tenant = result.tenant
    AuditFinding.objects.bulk_create(result.findings)
    return run


def audit(tenants) -> list[TenantAudit]:
    """Audit each tenant in turn; one tenant's Odoo never stops the others."""
    return [audit_tenant(tenant) for tenant in tenants]


def fix_finding(finding: AuditFinding, *, actor: str = AUDIT_ACTOR) -> bool:
    """Local truth wins for one finding, where safe; True when the write (or create) that
    fixes it was queued, and only then is the finding marked fixed.

    A drifted register is re-queued with Odoo's values as the audit read them
    (`drift_fixed`), so the write sends what Odoo differs in even when the
    register is already pending an update of something else; a write then in
    flight is superseded. A dead letter stays the operator's to retry.
    """
    if finding.kind in LEFT_ALONE or finding.register_id is None or finding.fixed_at:
        return False
    with transaction.atomic():
        row = lock_register(finding.register_id)
        if row.odoo_pos_config_id != finding.odoo_id or _known_stale(finding):
            return False  # moved on since the audit, or a later audit found the link stale
        if finding.kind == Kind.DELETED:
            fixed = relink_register(row.pk, detail="deleted in Odoo: created again", actor=actor)
        elif allows(row, Event.DRIFT_FIXED):
            apply_event(
                row,
                Event.DRIFT_FIXED,
                actor=actor,
                detail=f"{finding.kind}: local wins",
                odoo_name=finding.odoo_name,
                odoo_active=finding.odoo_active,
            )
            fixed = True
        else:
            fixed = False
        if fixed:
            AuditFinding.objects.filter(pk=finding.pk).update(fixed_at=timezone.now())
    return fixed


def _known_stale(finding: AuditFinding) -> bool:
    """Whether the tenant's latest audit found this register's link stale (an older finding
    fixed from the admin must not write a config that is not the register's)."""
    latest = (
        AuditRun.objects.filter(tenant_id=finding.tenant_id, status=Status.OK)
        .order_by("-started_at", "-id")
        .first()
    )
    return (
        latest is not None
        and latest.findings.filter(
            kind=Kind.STALE_LINK, register_id=finding.register_id, odoo_id=finding.odoo_id
        ).exists()
    )


def fix_findings(findings, *, actor: str = AUDIT_ACTOR) -> int:
    """Fix each finding (see `fix_finding`); how many were fixed. Their tenants push soon."""
    fixed = [finding for finding in findings if fix_finding(finding, actor=actor)]
    for tenant_id in sorted({finding.tenant_id for finding in fixed}):
        transaction.on_commit(
            lambda tenant_id=tenant_id: registers_queued.send(sender=PosConfig, tenant_id=tenant_id)
        )
    return len(fixed)
