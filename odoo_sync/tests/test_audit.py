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
    assert by_kind[Kind.RENAMED]["odoo"] == {
        "name": "Bar (Odoo)",
        "active": True,
        "external_id": ".".join(odoo_external_id(renamed.uuid)),
    }
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


def test_a_linked_config_carrying_another_registers_external_id_is_a_stale_link_in_any_state():
    tenant = TenantFactory(pro=True)
    bar = PosConfigFactory(tenant=tenant, pushed=True, name="Bar")
    kiosk = PosConfigFactory(
        tenant=tenant, pushed=True, name="Kiosk", sync_state=SyncState.PENDING_UPDATE
    )
    linked_by_hand = PosConfigFactory(tenant=tenant, pushed=True, name="Patio")
    elsewhere = PosConfigFactory.build().uuid  # a register of another tenant, or gone
    foreign = ".".join(odoo_external_id(elsewhere))
    findings = audit.compare(
        [bar, kiosk, linked_by_hand],
        [
            record(bar, name="Terrace", external_ids=[foreign]),
            record(kiosk, external_ids=[foreign]),
            record(linked_by_hand, external_ids=[]),  # no external id yet: still its own
        ],
    )
    assert kinds(findings) == sorted(
        [
            (Kind.STALE_LINK, bar.pk, bar.odoo_pos_config_id),
            (Kind.STALE_LINK, kiosk.pk, kiosk.odoo_pos_config_id),
        ]
    )
    assert {f.odoo_external_id for f in findings} == {foreign}


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


def test_an_older_finding_is_not_fixed_once_a_later_audit_found_the_link_stale():
    tenant = TenantFactory(pro=True)
    bar = PosConfigFactory(tenant=tenant, pushed=True, name="Bar")
    [renamed] = _kept(tenant, audit.compare([bar], [record(bar, name="Terrace")]))
    foreign = ".".join(odoo_external_id(PosConfigFactory.build().uuid))
    _kept(tenant, audit.compare([bar], [record(bar, name="Terrace", external_ids=[foreign])]))
    assert audit.fix_findings([renamed]) == 0
    bar.refresh_from_db()
    assert bar.sync_state == SyncState.SYNCED


def test_a_starter_or_paused_tenant_is_reported_without_calling_odoo(odoo_sandbox):
    starter = audit.audit_tenant(TenantFactory())
    assert (starter.status, starter.findings) == ("disabled", [])
    paused = TenantFactory(pro=True, odoo_paused_at="2026-05-04T09:00Z", odoo_paused_reason="no")
    assert audit.audit_tenant(paused).status == "paused"
    assert AuditRun.objects.count() == 2
    assert odoo_sandbox.calls() == {}


# --- against the sandbox over HTTP: the command, the fix, the beat task, the admin -----------


@pytest.fixture
def drifted(sandbox_tenant, odoo_sandbox, transactional_db):
    """A tenant in step with its Odoo, then edited in Odoo's back office behind regsync's back."""
    from odoo_sync.drain import drain_tenant
    from registers import services

    names = ["Bar", "Terrace", "Kiosk", "Patio"]
    registers = {
        n: services.add_register(sandbox_tenant, name=n, prefix=f"P{i}")
        for i, n in enumerate(names)
    }
    services.set_register_active(registers["Patio"], active=False)
    drain_tenant(sandbox_tenant.pk)
    for register in registers.values():
        register.refresh_from_db()
    odoo_sandbox.rename_pos_config(registers["Bar"].odoo_pos_config_id, "Bar (old)")
    odoo_sandbox.set_pos_config_active(registers["Terrace"].odoo_pos_config_id, False)
    odoo_sandbox.set_pos_config_active(registers["Patio"].odoo_pos_config_id, True)
    odoo_sandbox.delete_pos_config(registers["Kiosk"].odoo_pos_config_id)
    stranger = odoo_sandbox.create_pos_config("Made in Odoo")
    return sandbox_tenant, registers, stranger


def _audit_command(*args):
    import json
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    try:
        call_command("odoo_sync", "--audit", *args, stdout=out, stderr=StringIO())
        code = 0
    except SystemExit as exc:
        code = exc.code
    text = out.getvalue()
    return code, (json.loads(text) if "--json" in args else text)


def test_the_audit_command_reports_each_drift_as_json_and_exits_1(drifted):
    tenant, registers, stranger = drifted
    code, data = _audit_command("--json", "--tenant", tenant.slug)
    assert code == 1
    [report] = data["tenants"]
    assert (report["tenant"], report["status"]) == (tenant.slug, "ok")
    found = {(f["kind"], f["register_id"] or f["odoo_id"]): f for f in report["findings"]}
    assert set(found) == {
        ("renamed_in_odoo", registers["Bar"].pk),
        ("archived_in_odoo", registers["Terrace"].pk),
        ("unarchived_in_odoo", registers["Patio"].pk),
        ("deleted_in_odoo", registers["Kiosk"].pk),
        ("unknown_in_odoo", stranger),
    }
    renamed = found[("renamed_in_odoo", registers["Bar"].pk)]
    assert renamed["local"] == {"name": "Bar", "active": True}
    assert renamed["odoo"] == {
        "name": "Bar (old)",
        "active": True,
        "external_id": ".".join(odoo_external_id(registers["Bar"].uuid)),
    }
    assert found[("deleted_in_odoo", registers["Kiosk"].pk)]["odoo"] is None
    assert found[("unknown_in_odoo", stranger)]["local"] is None


def test_fix_makes_local_truth_win_in_odoo_and_leaves_unknown_configs_alone(drifted, odoo_sandbox):
    from odoo_sync.drain import drain_tenant

    tenant, _, stranger = drifted
    code, text = _audit_command("--fix", "--tenant", tenant.slug)
    assert code == 1 and "4 fixed (local wins)" in text
    drain_tenant(tenant.pk)
    configs = {c["name"]: c for c in odoo_sandbox.pos_configs()}
    assert configs["Bar"]["active"] and not configs["Patio"]["active"]
    assert configs["Terrace"]["active"] and configs["Kiosk"]["active"]  # Kiosk created again
    assert configs["Made in Odoo"]["id"] == stranger  # never touched, never deleted
    code, data = _audit_command("--json", "--tenant", tenant.slug)
    assert [f["kind"] for f in data["tenants"][0]["findings"]] == ["unknown_in_odoo"]


def test_fix_never_writes_a_config_that_carries_another_registers_external_id(
    sandbox_tenant, odoo_sandbox, transactional_db
):
    """Odoo restored from a backup: the ids regsync holds were handed out again, here to
    another tenant's registers on the same Odoo database. Those links are stale."""
    from cafe.tests.factories import tenant_on
    from odoo_sync.drain import drain_tenant
    from registers import services

    backup = odoo_sandbox.backup()
    bar = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    drain_tenant(sandbox_tenant.pk)
    odoo_sandbox.restore_backup(backup)
    neighbour = tenant_on(odoo_sandbox)
    terrace = services.add_register(neighbour, name="Terrace", prefix="TER")
    drain_tenant(neighbour.pk)
    bar.refresh_from_db()
    terrace.refresh_from_db()
    assert bar.odoo_pos_config_id == terrace.odoo_pos_config_id  # the id came again
    patio = services.add_register(sandbox_tenant, name="Patio", prefix="PAT")
    drain_tenant(sandbox_tenant.pk)
    patio.refresh_from_db()
    odoo_sandbox.rename_pos_config(patio.odoo_pos_config_id, "Patio (old)")

    code, data = _audit_command("--json", "--tenant", sandbox_tenant.slug)
    found = {f["register_id"]: f for f in data["tenants"][0]["findings"]}
    assert (code, set(found)) == (1, {bar.pk, patio.pk})
    assert found[bar.pk]["kind"] == "stale_link_in_odoo"
    assert found[bar.pk]["odoo"] == {
        "name": "Terrace",
        "active": True,
        "external_id": ".".join(odoo_external_id(terrace.uuid)),
    }
    assert found[patio.pk]["kind"] == "renamed_in_odoo"

    code, text = _audit_command("--fix", "--tenant", sandbox_tenant.slug)
    assert "1 fixed (local wins)" in text
    drain_tenant(sandbox_tenant.pk)
    assert odoo_sandbox.pos_config(terrace.odoo_pos_config_id)["name"] == "Terrace"
    assert odoo_sandbox.pos_config(patio.odoo_pos_config_id)["name"] == "Patio"
    bar.refresh_from_db()
    assert bar.sync_state == SyncState.SYNCED  # left for the operator, not queued
    stale = AuditFinding.objects.filter(kind=Kind.STALE_LINK)
    assert [(f.register_id, f.fixed_at) for f in stale] == [(bar.pk, None), (bar.pk, None)]


@pytest.fixture
def archived_behind_our_back(sandbox_tenant, odoo_sandbox, transactional_db):
    """'Bar', in step with Odoo, archived there behind regsync's back; the audit found it."""
    from odoo_sync.drain import drain_tenant
    from registers import services

    bar = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    drain_tenant(sandbox_tenant.pk)
    bar.refresh_from_db()
    odoo_sandbox.set_pos_config_active(bar.odoo_pos_config_id, False)
    [finding] = audit.audit_tenant(sandbox_tenant).findings
    assert finding.kind == Kind.ARCHIVED
    return sandbox_tenant, bar, finding


def test_a_fix_after_a_local_rename_writes_every_field_odoo_differs_in(
    archived_behind_our_back, odoo_sandbox, operator
):
    """Renamed here after the audit (pending update), then fixed from the findings page:
    the queued write must carry `active` too, though the rename alone would not."""
    from django.urls import reverse

    from cafe.tests.clients import logged_in
    from odoo_sync.drain import drain_tenant
    from registers import services

    tenant, bar, finding = archived_behind_our_back
    services.rename_register(bar, name="Bar North", actor="colleague")
    findings = reverse("admin:odoo_sync_auditfinding_changelist")
    logged_in(operator).post(
        findings, {"action": "fix_local_wins", "_selected_action": [finding.pk]}
    )
    finding.refresh_from_db()
    assert finding.fixed_at is not None

    drain_tenant(tenant.pk)
    config = odoo_sandbox.pos_config(bar.odoo_pos_config_id)
    assert (config["name"], config["active"]) == ("Bar North", True)
    bar.refresh_from_db()
    assert bar.sync_state == SyncState.SYNCED
    code, _ = _audit_command("--json", "--tenant", tenant.slug)
    assert code == 0


def test_a_fix_while_a_write_is_in_flight_supersedes_it_and_the_next_write_fixes_odoo(
    archived_behind_our_back, odoo_sandbox
):
    from odoo_sync import claims, outcomes
    from odoo_sync.drain import drain_tenant
    from registers import services

    tenant, bar, finding = archived_behind_our_back
    services.rename_register(bar, name="Bar North")
    [claim] = claims.claim_due(tenant.pk, limit=10, connection_revision=0)
    assert claim.update_payload() == {"name": "Bar North"}  # what Odoo last heard from us
    with odoo_sandbox.client() as client:
        client.update_pos_configs([(claim.odoo_pos_config_id, claim.update_payload())])
    assert audit.fix_findings([finding]) == 1  # while that write is in flight
    # The write in flight could not fix the drift: its outcome is not recorded as synced.
    assert outcomes.mark_update_synced(claim) == outcomes.Outcome.SUPERSEDED

    drain_tenant(tenant.pk)
    config = odoo_sandbox.pos_config(bar.odoo_pos_config_id)
    assert (config["name"], config["active"]) == ("Bar North", True)


def test_a_finding_is_not_marked_fixed_when_no_write_is_queued(archived_behind_our_back):
    from registers import services
    from registers.state import Event, apply_event_to

    _, bar, finding = archived_behind_our_back
    services.rename_register(bar, name="Bar North")
    apply_event_to(bar.pk, Event.DEAD_LETTERED, actor="sync", retries=5, error="x", kind="x")
    assert audit.fix_findings([finding]) == 0  # a dead letter is the operator's to retry
    finding.refresh_from_db()
    bar.refresh_from_db()
    assert (finding.fixed_at, bar.sync_state) == (None, SyncState.SYNC_ERROR)


def test_in_step_exits_0_with_a_table(sandbox_tenant, odoo_sandbox, transactional_db):
    from odoo_sync.drain import drain_tenant
    from registers import services

    services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    drain_tenant(sandbox_tenant.pk)
    code, text = _audit_command()
    assert code == 0
    assert text.splitlines()[0].split() == [
        "TENANT",
        "STATUS",
        "FINDING",
        "REGISTER",
        "ODOO",
        "ID",
        "HERE",
        "IN",
        "ODOO",
    ]
    assert "0 finding(s) in 1 tenant(s)" in text


def test_an_unreachable_or_rejecting_odoo_is_a_status_not_a_crash(
    sandbox_tenant, odoo_sandbox, odoo_unreachable_url, transactional_db
):
    odoo_sandbox.rotate_key()
    down = TenantFactory(pro=True, slug="down", odoo_url=odoo_unreachable_url)
    code, data = _audit_command("--json")
    statuses = {t["tenant"]: t["status"] for t in data["tenants"]}
    assert statuses == {sandbox_tenant.slug: "paused", down.slug: "unreachable"}
    assert code == 0


def test_fix_without_audit_is_a_usage_error():
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--fix goes with --audit"):
        call_command("odoo_sync", "--once", "--fix")


def test_the_admin_leaves_a_stale_link_alone_and_says_whose_config_it_is(operator):
    from django.urls import reverse

    from cafe.tests.clients import logged_in

    tenant = TenantFactory(pro=True)
    bar = PosConfigFactory(tenant=tenant, pushed=True, name="Bar")
    foreign = ".".join(odoo_external_id(PosConfigFactory.build().uuid))
    [finding] = _kept(
        tenant, audit.compare([bar], [record(bar, name="Terrace", external_ids=[foreign])])
    )
    client = logged_in(operator)
    findings = reverse("admin:odoo_sync_auditfinding_changelist")
    client.post(findings, {"action": "fix_local_wins", "_selected_action": [finding.pk]})
    page = client.get(findings).content.decode()
    assert f"left alone (the config carries another register&#x27;s external id: {foreign})" in page
    assert "Nothing fixed. Left alone: 1 (the config carries" in page
    bar.refresh_from_db()
    assert bar.sync_state == SyncState.SYNCED


def test_the_daily_audit_runs_from_beat_and_the_overview_shows_it(drifted, operator, settings):
    from django.urls import reverse

    from cafe.tests.clients import logged_in
    from odoo_sync import tasks

    assert "odoo-sync-audit" in settings.CELERY_BEAT_SCHEDULE
    tenant, registers, _ = drifted
    assert tasks.audit_all() == 5
    client = logged_in(operator)
    overview = client.get(reverse("admin:odoo_sync_overview")).content.decode()
    assert "5 findings" in overview
    findings = reverse("admin:odoo_sync_auditfinding_changelist")
    page = client.get(findings + f"?tenant__id__exact={tenant.pk}").content.decode()
    assert "Renamed in Odoo" in page and "Bar (old) (active)" in page
    ids = list(AuditFinding.objects.values_list("pk", flat=True))
    client.post(findings, {"action": "fix_local_wins", "_selected_action": ids})
    registers["Bar"].refresh_from_db()
    assert registers["Bar"].sync_state == SyncState.PENDING_UPDATE
    assert registers["Bar"].events.first().actor == operator.username
