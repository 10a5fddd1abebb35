"""The drift audit: what changed in Odoo behind regsync's back, and local truth winning."""

import pytest

from cafe.tests.factories import TenantFactory
from odoo_sync import audit
from odoo_sync.models import AuditFinding, AuditRun
from registers.models import SyncState, odoo_external_id
from registers.tests.factories import PosConfigFactory

pytestmark = pytest.mark.django_db
Kind = AuditFinding.Kind


def record(register, **changes):
    values = {
        "id": register.odoo_pos_config_id,
        "name": register.name,
        "active": register.is_active,
        "external_ids": [".".join(odoo_external_id(register.uuid))],
    }
    return {**values, **changes}


def kinds(findings):
    return sorted((f.kind, f.register_id, f.odoo_id) for f in findings)


def test_registers_in_step_have_no_findings():
    tenant = TenantFactory(pro=True)
    bar = PosConfigFactory(tenant=tenant, pushed=True, name="Bar")
    terrace = PosConfigFactory(tenant=tenant, pushed=True, name="Terrace", is_active=False)
    assert audit.compare([bar, terrace], [record(bar), record(terrace)]) == []


def test_each_kind_of_drift_is_found_once_with_both_sides():
    tenant = TenantFactory(pro=True)
    renamed = PosConfigFactory(tenant=tenant, pushed=True, name="Bar")
    archived = PosConfigFactory(tenant=tenant, pushed=True, name="Terrace")
    unarchived = PosConfigFactory(tenant=tenant, pushed=True, name="Old", is_active=False)
    deleted = PosConfigFactory(tenant=tenant, pushed=True, name="Gone")
    stranger = {"id": 999, "name": "Made in Odoo", "active": True, "external_ids": []}
    findings = audit.compare(
        [renamed, archived, unarchived, deleted],
        [
            record(renamed, name="Bar (Odoo)"),
            record(archived, active=False),
            record(unarchived, active=True),
            stranger,
        ],
    )
    assert kinds(findings) == sorted(
        [
            (Kind.RENAMED, renamed.pk, renamed.odoo_pos_config_id),
            (Kind.ARCHIVED, archived.pk, archived.odoo_pos_config_id),
            (Kind.UNARCHIVED, unarchived.pk, unarchived.odoo_pos_config_id),
            (Kind.DELETED, deleted.pk, deleted.odoo_pos_config_id),
            (Kind.UNKNOWN, None, 999),
        ]
    )
    by_kind = {f.kind: f.as_dict() for f in findings}
    assert by_kind[Kind.RENAMED]["local"] == {"name": "Bar", "active": True}
    assert by_kind[Kind.RENAMED]["odoo"] == {"name": "Bar (Odoo)", "active": True}
    assert by_kind[Kind.DELETED]["odoo"] is None
    assert by_kind[Kind.UNKNOWN]["local"] is None and by_kind[Kind.UNKNOWN]["register_id"] is None


def test_a_register_whose_own_change_is_on_its_way_is_not_drift():
    tenant = TenantFactory(pro=True)
    renaming = PosConfigFactory(
        tenant=tenant, pushed=True, name="New name", sync_state=SyncState.PENDING_UPDATE
    )
    assert audit.compare([renaming], [record(renaming, name="Old name")]) == []


def test_a_config_holding_a_registers_external_id_is_not_unknown():
    tenant = TenantFactory(pro=True)
    relinking = PosConfigFactory(tenant=tenant, pending_create=True)  # its id was forgotten
    config = {"id": 5, "name": "Bar", "active": True, "external_ids": []}
    config["external_ids"] = [".".join(odoo_external_id(relinking.uuid))]
    assert audit.compare([relinking], [config]) == []


def _kept(tenant, findings):
    run = AuditRun.objects.create(
        tenant=tenant,
        started_at="2026-05-04T09:00Z",
        finished_at="2026-05-04T09:00Z",
        status="ok",
        findings_count=len(findings),
    )
    for finding in findings:
        finding.run, finding.tenant = run, tenant
        finding.save()
    return findings


def test_fix_makes_local_truth_win_and_never_touches_unknown_configs():
    tenant = TenantFactory(pro=True)
    renamed = PosConfigFactory(tenant=tenant, pushed=True, name="Bar")
    deleted = PosConfigFactory(tenant=tenant, pushed=True, name="Gone")
    stranger = {"id": 999, "name": "Made in Odoo", "active": True, "external_ids": []}
    findings = _kept(
        tenant, audit.compare([renamed, deleted], [record(renamed, name="Bar (Odoo)"), stranger])
    )
    assert audit.fix_findings(findings, actor="ops") == 2
    renamed.refresh_from_db()
    deleted.refresh_from_db()
    assert (renamed.sync_state, renamed.sync_retries) == (SyncState.PENDING_UPDATE, 0)
    assert renamed.events.first().actor == "ops"
    assert (deleted.sync_state, deleted.odoo_pos_config_id) == (SyncState.PENDING_CREATE, None)
    unknown = next(f for f in findings if f.kind == Kind.UNKNOWN)
    unknown.refresh_from_db()
    assert unknown.fixed_at is None
    # Fixing again does nothing more.
    assert audit.fix_findings(AuditFinding.objects.all(), actor="ops") == 0


def test_a_finding_older_than_the_registers_last_relink_is_not_fixed():
    tenant = TenantFactory(pro=True)
    register = PosConfigFactory(tenant=tenant, pushed=True, name="Bar")
    [finding] = _kept(tenant, audit.compare([register], [record(register, name="Other")]))
    register.odoo_pos_config_id = register.odoo_pos_config_id + 1  # linked elsewhere since
    register.save()
    assert audit.fix_findings([finding]) == 0
    register.refresh_from_db()
    assert register.sync_state == SyncState.SYNCED


def test_a_starter_or_paused_tenant_is_reported_without_calling_odoo(odoo_sandbox):
    starter = audit.audit_tenant(TenantFactory())
    assert (starter.status, starter.findings) == ("disabled", [])
    paused = TenantFactory(pro=True, odoo_paused_at="2026-05-04T09:00Z", odoo_paused_reason="no")
    assert audit.audit_tenant(paused).status == "paused"
    assert AuditRun.objects.count() == 2
    assert odoo_sandbox.calls() == {}
