"""The drift audit: what changed in Odoo behind regsync's back, and local truth winning."""

from datetime import datetime

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


def _kept(tenant, findings, *, at="2026-05-04T09:00Z"):
    """Record `findings` as an audit of `tenant` that read Odoo at `at` would."""
    audit._keep(audit.TenantAudit(tenant, "ok", findings=findings), datetime.fromisoformat(at))
    return [AuditFinding.objects.get(pk=f.pk) for f in findings]


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
    assert (unknown.decision, unknown.needs_attention) == ("", True)
    fixed = AuditFinding.objects.exclude(kind=Kind.UNKNOWN)
    assert {(f.decision, f.decided_by) for f in fixed} == {("local_wins", "ops")}
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
    _kept(
        tenant,
        audit.compare([bar], [record(bar, name="Terrace", external_ids=[foreign])]),
        at="2026-05-05T09:00Z",
    )
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
    # Two audits saw the stale link: one finding, still needing a decision.
    stale = AuditFinding.objects.filter(kind=Kind.STALE_LINK)
    assert [(f.register_id, f.needs_attention) for f in stale] == [(bar.pk, True)]


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
        findings, {"action": "fix_local_wins", "_selected_action": [finding.pk], "confirm": "yes"}
    )
    finding.refresh_from_db()
    assert (finding.decision, finding.decided_by) == ("local_wins", operator.username)

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
    assert (finding.decision, bar.sync_state) == ("", SyncState.SYNC_ERROR)


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
        "STATE",
    ]
    assert "0 finding(s) in 1 tenant(s), 0 need a decision" in text


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
    fix = {"action": "fix_local_wins", "_selected_action": [finding.pk]}
    confirmation = client.post(findings, fix).content.decode()
    assert (
        "left alone: never written from here: the config carries another register&#x27;s "
        "external id" in confirmation
    )
    assert 'value="Yes, write to Odoo"' not in confirmation  # nothing it would do
    client.post(findings, {**fix, "confirm": "yes"})
    page = client.get(findings).content.decode()
    assert f"Needs a decision; never written from here (it carries {foreign})" in page
    assert "Nothing done. Left alone: 1 (never written from here: the config carries" in page
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
    assert "5 findings need a decision" in overview
    findings = reverse("admin:odoo_sync_auditfinding_changelist")
    page = client.get(findings + f"?tenant__id__exact={tenant.pk}").content.decode()
    assert "Renamed in Odoo" in page and "Bar (old) (active)" in page
    ids = list(AuditFinding.objects.values_list("pk", flat=True))
    client.post(findings, {"action": "fix_local_wins", "_selected_action": ids, "confirm": "yes"})
    registers["Bar"].refresh_from_db()
    assert registers["Bar"].sync_state == SyncState.PENDING_UPDATE
    assert registers["Bar"].events.first().actor == operator.username


# --- issue 23: one finding per config and kind, and what an operator decides ---------------------


def test_each_audit_updates_the_same_findings_and_resolves_the_drift_that_is_gone(
    drifted, odoo_sandbox
):
    """Issue 23: every run added rows for the same configs (21 rows for 4 configs)."""
    tenant, registers, _ = drifted
    first = audit.audit_tenant(tenant)
    assert audit.audit_tenant(tenant).run.findings_count == 5
    assert AuditFinding.objects.count() == 5  # not 10
    renamed = AuditFinding.objects.get(kind=Kind.RENAMED)
    assert renamed.first_seen_at == first.run.started_at
    # Renamed again in Odoo: the same finding, with what Odoo has now.
    odoo_sandbox.rename_pos_config(registers["Bar"].odoo_pos_config_id, "Bar (older)")
    third = audit.audit_tenant(tenant)
    renamed.refresh_from_db()
    assert (renamed.odoo_name, renamed.run_id) == ("Bar (older)", third.run.pk)
    assert renamed.first_seen_at == first.run.started_at
    # Put right in Odoo's back office: resolved by the next audit, counted no more.
    odoo_sandbox.rename_pos_config(registers["Bar"].odoo_pos_config_id, "Bar")
    fourth = audit.audit_tenant(tenant)
    renamed.refresh_from_db()
    assert renamed.resolved_at is not None and not renamed.needs_attention
    assert fourth.run.findings_count == 4
    assert AuditFinding.objects.count() == 5
    # Drifting again reopens it.
    odoo_sandbox.rename_pos_config(registers["Bar"].odoo_pos_config_id, "Bar (again)")
    fifth = audit.audit_tenant(tenant)
    renamed.refresh_from_db()
    assert (renamed.resolved_at, renamed.first_seen_at) == (None, fifth.run.started_at)
    assert AuditFinding.objects.count() == 5


def test_a_run_that_cannot_read_odoo_changes_no_finding(drifted, odoo_sandbox):
    tenant, _, _ = drifted
    audit.audit_tenant(tenant)
    odoo_sandbox.fail_next(502, count=5)
    down = audit.audit_tenant(tenant)
    assert down.status == "unreachable"
    assert AuditFinding.objects.filter(resolved_at__isnull=True).count() == 5


def test_an_ignored_config_stays_ignored_and_no_longer_counts(drifted, odoo_sandbox):
    from odoo_sync.drain import drain_tenant

    tenant, _, stranger = drifted
    _audit_command("--fix", "--tenant", tenant.slug)  # the four drifted registers: local wins

    drain_tenant(tenant.pk)
    code, _ = _audit_command("--json", "--tenant", tenant.slug)
    assert code == 1  # "Made in Odoo" needs a decision
    unknown = AuditFinding.objects.get(kind=Kind.UNKNOWN, resolved_at__isnull=True)
    assert audit.ignore_findings([unknown], actor="ops") == (1, {})

    code, data = _audit_command("--json", "--tenant", tenant.slug)
    [found] = data["tenants"][0]["findings"]
    assert code == 0
    assert (found["odoo_id"], found["decision"]["what"], found["decision"]["by"]) == (
        stranger,
        "ignored",
        "ops",
    )
    assert found["needs_attention"] is False
    assert odoo_sandbox.pos_config(stranger)["name"] == "Made in Odoo"  # left as it is

    assert audit.stop_ignoring([AuditFinding.objects.get(pk=unknown.pk)], actor="ops") == 1
    code, _ = _audit_command("--json", "--tenant", tenant.slug)
    assert code == 1


def test_adopting_a_config_made_in_odoo_links_a_new_register_and_writes_nothing_else(
    sandbox_tenant, odoo_sandbox, transactional_db
):
    from odoo_sync.drain import drain_tenant
    from registers.models import PosConfig

    made = odoo_sandbox.create_pos_config("Pop-up", active=False)
    [finding] = audit.audit_tenant(sandbox_tenant).findings
    assert finding.kind == Kind.UNKNOWN
    before = len(odoo_sandbox.mutations())
    done, left = audit.adopt_findings([finding], prefixes={finding.pk: "POP"}, actor="ops")
    assert (done, left) == (1, {})
    register = PosConfig.objects.get(tenant=sandbox_tenant)
    assert (register.name, register.is_active, register.sequence_prefix) == ("Pop-up", False, "POP")
    assert (register.odoo_pos_config_id, register.events.first().actor) == (made, "ops")
    assert register.events.first().detail == f"pos.config {made} 'Pop-up' (archived)"
    finding.refresh_from_db()
    assert (finding.decision, finding.register_id, finding.needs_attention) == (
        "adopted",
        register.pk,
        False,
    )

    drain_tenant(sandbox_tenant.pk)
    register.refresh_from_db()
    assert register.sync_state == SyncState.SYNCED
    assert len(odoo_sandbox.mutations()) == before  # no create, no write: only the external id
    assert [(x["module"], x["res_id"]) for x in odoo_sandbox.external_ids()] == [("regsync", made)]
    code, _ = _audit_command("--json", "--tenant", sandbox_tenant.slug)
    assert code == 0


def test_a_config_is_adopted_only_if_it_is_nobody_elses_and_its_name_is_free(
    sandbox_tenant, odoo_sandbox, transactional_db
):
    from cafe.tests.factories import tenant_on
    from odoo_sync.drain import drain_tenant
    from registers import services

    services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    drain_tenant(sandbox_tenant.pk)
    odoo_sandbox.create_pos_config("BAR")  # an active namesake made in Odoo
    odoo_sandbox.create_pos_config("Old till", xmlid="regsync.register_" + "e" * 32)
    neighbour = tenant_on(odoo_sandbox)  # another tenant on the same Odoo
    services.add_register(neighbour, name="Kiosk", prefix="KIO")
    drain_tenant(neighbour.pk)

    findings = audit.audit_tenant(sandbox_tenant).findings
    # The neighbour's register's config is theirs, not unknown here.
    assert sorted(f.odoo_name for f in findings) == ["BAR", "Old till"]
    done, left = audit.adopt_findings(
        findings, prefixes={f.pk: "NEW" for f in findings}, actor="ops"
    )
    assert done == 0
    assert left == {
        "An active register named 'BAR' already exists for this tenant.": 1,
        "it carries regsync.register_" + "e" * 32 + ": it is (or was) another register's": 1,
    }
    assert sandbox_tenant.registers.count() == 1


def test_accepting_odoos_value_changes_the_register_here_and_sends_nothing(drifted, odoo_sandbox):
    from odoo_sync.drain import drain_tenant

    tenant, registers, _ = drifted
    findings = audit.audit_tenant(tenant).findings
    before = len(odoo_sandbox.mutations())
    done, left = audit.accept_odoo_values(findings, actor="ops")
    assert done == 3  # renamed, archived, unarchived
    assert left == {
        "only a rename, archive or unarchive made in Odoo can be accepted": 2  # deleted, unknown
    }
    bar, terrace, patio = (registers[n] for n in ("Bar", "Terrace", "Patio"))
    for register in (bar, terrace, patio):
        register.refresh_from_db()
        assert register.sync_state == SyncState.SYNCED
    assert (bar.name, terrace.is_active, patio.is_active) == ("Bar (old)", False, True)
    assert [(e.action, e.actor) for e in bar.events.all()[:2]] == [
        ("odoo_value_accepted", "ops"),
        ("renamed", "ops"),
    ]
    assert bar.events.first().detail == (
        f"Odoo's name 'Bar (old)', from pos.config {bar.odoo_pos_config_id}"
    )
    drain_tenant(tenant.pk)
    assert len(odoo_sandbox.mutations()) == before  # nothing sent to Odoo
    kinds = {f.kind for f in audit.audit_tenant(tenant).needing_attention}
    assert kinds == {Kind.DELETED, Kind.UNKNOWN}


def test_odoos_value_is_not_accepted_over_a_change_made_here_since_the_audit(drifted):
    from registers import services

    tenant, registers, _ = drifted
    renamed = next(f for f in audit.audit_tenant(tenant).findings if f.kind == Kind.RENAMED)
    services.rename_register(registers["Bar"], name="Bar North", actor="colleague")
    done, left = audit.accept_odoo_values([renamed], actor="ops")
    assert done == 0
    assert list(left) == [
        f"Register 'Bar North' changed since the audit read pos.config {renamed.odoo_id} "
        "(it is pending update now): run the audit again."
    ]
    registers["Bar"].refresh_from_db()
    assert registers["Bar"].name == "Bar North"


def test_a_decision_no_longer_holds_once_a_later_audit_sees_the_drift_again(
    archived_behind_our_back, odoo_sandbox
):
    from odoo_sync.drain import drain_tenant

    tenant, bar, finding = archived_behind_our_back
    assert audit.fix_findings([finding], actor="ops") == 1
    drain_tenant(tenant.pk)  # active again in Odoo
    odoo_sandbox.set_pos_config_active(bar.odoo_pos_config_id, False)  # archived again
    [seen] = audit.audit_tenant(tenant).findings
    assert seen.pk == finding.pk
    assert (seen.decision, seen.needs_attention) == ("", True)


def test_the_command_and_the_admin_count_the_same_findings(drifted, operator):
    """One rule for what needs a decision: the exit code, the overview and /metrics."""
    from django.urls import reverse

    from cafe.tests.clients import logged_in
    from odoo_sync import reporting

    tenant, _, _ = drifted
    audit.audit_tenant(tenant)
    unknown = AuditFinding.objects.get(kind=Kind.UNKNOWN)
    audit.ignore_findings([unknown], actor="ops")
    code, data = _audit_command("--json", "--tenant", tenant.slug)
    needing = [f for f in data["tenants"][0]["findings"] if f["needs_attention"]]
    assert (code, len(needing)) == (1, 4)
    assert reporting.findings_needing_attention([tenant.pk]).count() == 4
    overview = logged_in(operator).get(reverse("admin:odoo_sync_overview")).content.decode()
    assert "4 findings need a decision" in overview and "1 ignored" in overview


def test_run_audit_now_from_the_tenant_page_and_from_the_overview(drifted, operator):
    from django.urls import reverse

    from cafe.tests.clients import logged_in

    tenant, _, _ = drifted
    client = logged_in(operator)
    page = client.get(reverse("admin:cafe_tenant_change", args=[tenant.pk])).content.decode()
    assert 'id="regsync-audit-now"' in page and "Never audited." in page
    audit_now = reverse("admin:cafe_tenant_audit_now", args=[tenant.pk])
    response = client.post(audit_now, follow=True)
    assert f"An audit of {tenant.name} has started" in response.content.decode()
    assert "5 findings need a decision" in response.content.decode()  # the tenant's page
    overview_url = reverse("admin:odoo_sync_overview")
    overview = client.get(overview_url).content.decode()
    assert f'action="{audit_now}"' in overview
    response = client.post(audit_now, {"next": overview_url})
    assert response["Location"] == overview_url
    assert AuditRun.objects.filter(tenant=tenant).count() == 2
    assert AuditFinding.objects.count() == 5


def test_staff_run_their_tenants_audit_and_settle_drift_but_neither_adopt_nor_ignore(drifted):
    from django.urls import reverse

    from cafe.tests.clients import logged_in
    from cafe.tests.factories import TenantFactory, TenantStaffFactory

    tenant, _, _ = drifted
    client = logged_in(TenantStaffFactory(tenants=[tenant]))
    assert client.post(reverse("admin:cafe_tenant_audit_now", args=[tenant.pk])).status_code == 302
    other = TenantFactory(pro=True)
    assert client.post(reverse("admin:cafe_tenant_audit_now", args=[other.pk])).status_code == 404
    findings = reverse("admin:odoo_sync_auditfinding_changelist")
    page = client.get(findings).content.decode()
    # Accepting Odoo's value writes nothing to Odoo; "Local wins" overwrites what someone set
    # there, which only operators decide (access.may_override_odoo, docs/admin.md).
    assert "Accept Odoo&#x27;s value…" in page and 'value="fix_local_wins"' not in page
    assert "Adopt as registers…" not in page and "Ignore…" not in page
    unknown = AuditFinding.objects.get(kind=Kind.UNKNOWN)
    client.post(findings, {"action": "ignore", "_selected_action": [unknown.pk], "confirm": "1"})
    unknown.refresh_from_db()
    assert unknown.decision == ""


def test_every_decision_confirms_first_and_says_what_it_will_do(drifted, operator, odoo_sandbox):
    from django.urls import reverse

    from cafe.tests.clients import logged_in

    tenant, registers, stranger = drifted
    audit.audit_tenant(tenant)
    client = logged_in(operator)
    findings = reverse("admin:odoo_sync_auditfinding_changelist")
    everything = list(AuditFinding.objects.values_list("pk", flat=True))
    bar, kiosk = registers["Bar"], registers["Kiosk"]
    expected = {
        "fix_local_wins": [
            f"writes the name &#x27;Bar&#x27; to pos.config {bar.odoo_pos_config_id} in Odoo "
            "(Odoo has &#x27;Bar (old)&#x27;)",
            f"creates &#x27;Kiosk&#x27; in Odoo again (pos.config {kiosk.odoo_pos_config_id} "
            "was deleted there)",
            "left alone: never written from here: not a register here",
        ],
        "accept_odoo_value": [
            "the register &#x27;Bar&#x27; is renamed &#x27;Bar (old)&#x27; here; nothing is "
            "sent to Odoo",
            "the register &#x27;Terrace&#x27; is deactivated here",
        ],
        "adopt": [
            "becomes the register &#x27;Made in Odoo&#x27; (active) of",
            f"attaches regsync&#x27;s external id to pos.config {stranger} in Odoo and writes "
            "nothing else",
            'name="prefix_',
            'value="MADE"',
        ],
        "ignore": [f"pos.config {stranger} &#x27;Made in Odoo&#x27; is ignored"],
    }
    for action, lines in expected.items():
        page = client.post(findings, {"action": action, "_selected_action": everything})
        html = page.content.decode()
        assert 'id="regsync-confirm-form"' in html, action
        for line in lines:
            assert line in html, (action, line)
    assert AuditFinding.objects.exclude(decision="").count() == 0  # nothing decided yet
    bar.refresh_from_db()
    assert (bar.name, bar.sync_state) == ("Bar", SyncState.SYNCED)

    # A prefix the register rules refuse comes back on the form; nothing is adopted.
    unknown = AuditFinding.objects.get(kind=Kind.UNKNOWN)
    adopt = {"action": "adopt", "_selected_action": [unknown.pk], "confirm": "yes"}
    html = client.post(findings, {**adopt, f"prefix_{unknown.pk}": "made"}).content.decode()
    assert "Sequence prefix must be 1 to 10 uppercase letters or digits" in html
    assert tenant.registers.filter(name="Made in Odoo").count() == 0
    response = client.post(findings, {**adopt, f"prefix_{unknown.pk}": "MADE"}, follow=True)
    assert "Adopted 1 config(s) as registers" in response.content.decode()
    assert tenant.registers.get(name="Made in Odoo").sequence_prefix == "MADE"


def test_the_findings_page_speaks_the_words_of_the_admin_guides_glossary():
    """Each decision the findings page offers, and each status it shows, is a glossary word."""
    import re

    from django.conf import settings
    from django.contrib import admin as django_admin

    guide = (settings.BASE_DIR / "docs" / "admin.md").read_text()
    glossary = guide[guide.index("## Glossary") : guide.index("## Screenshots")]
    rows = re.findall(r"^\| ([^|]+?) \|", glossary, flags=re.M)
    terms = {term.strip().lower() for row in rows for term in re.split(r"[,/]", row)} - {"word"}
    model_admin = django_admin.site._registry[AuditFinding]
    offered = [
        getattr(model_admin, name).short_description.rstrip("…").split(":")[0].lower()
        for name in model_admin.actions
    ]
    statuses = [label.lower() for value, label in AuditFinding.Decision.choices if value]
    words = [*offered, *statuses, "needs a decision", "resolved"]
    assert [w for w in words if not any(w.startswith(term) for term in terms)] == []
    assert offered == [
        "local wins",
        "accept odoo's value",
        "adopt as registers",
        "ignore",
        "stop ignoring",
    ]
