"""Who may have regsync write to a tenant's Odoo (docs/admin.md, "Who may write to a tenant's Odoo").

Operators: everything. Tenant staff: "Retry sync now" of their own tenant's
registers (it resends what their edits queued), never "Fix (local wins)",
which overwrites what someone set in the customer's Odoo.
"""

import pytest
from django.urls import reverse

from cafe.tests.clients import logged_in
from cafe.tests.factories import OperatorFactory, TenantFactory, TenantStaffFactory
from odoo_sync.drain import drain_tenant
from odoo_sync.tests import test_audit
from registers import services
from registers.models import ErrorKind, PosConfig, SyncState
from registers.state import Event, apply_event_to

FINDINGS = "admin:odoo_sync_auditfinding_changelist"
archived_behind_our_back = test_audit.archived_behind_our_back  # the fixture, shared


def _fix(user, finding):
    client = logged_in(user)
    listing = client.get(reverse(FINDINGS)).content.decode()
    response = client.post(
        reverse(FINDINGS),
        {"action": "fix_local_wins", "_selected_action": [finding.pk], "confirm": "1"},
    )
    return listing, response


def test_staff_cannot_fix_drift_in_their_tenants_odoo(archived_behind_our_back, odoo_sandbox):
    tenant, bar, finding = archived_behind_our_back
    staff = TenantStaffFactory(tenants=[tenant])
    listing, _ = _fix(staff, finding)
    assert "Bar" in listing  # they see the finding ...
    assert 'value="fix_local_wins"' not in listing  # ... but are not offered the fix
    finding.refresh_from_db()
    bar.refresh_from_db()
    assert finding.decision == finding.Decision.NONE
    assert bar.sync_state == SyncState.SYNCED  # nothing queued for Odoo
    drain_tenant(tenant.pk)
    assert odoo_sandbox.pos_config(bar.odoo_pos_config_id)["active"] is False


def test_an_operator_fixes_drift_and_it_reaches_odoo(archived_behind_our_back, odoo_sandbox):
    tenant, bar, finding = archived_behind_our_back
    listing, _ = _fix(OperatorFactory(), finding)
    assert 'value="fix_local_wins"' in listing
    finding.refresh_from_db()
    assert finding.decision == finding.Decision.LOCAL_WINS
    drain_tenant(tenant.pk)
    assert odoo_sandbox.pos_config(bar.odoo_pos_config_id)["active"] is True


@pytest.fixture
def dead_update(sandbox_tenant, odoo_sandbox, transactional_db):
    """'Bar' in Odoo, renamed here, and the write dead-lettered (Odoo refused it, say)."""
    bar = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    drain_tenant(sandbox_tenant.pk)
    bar = services.rename_register(PosConfig.objects.get(pk=bar.pk), name="Espresso bar")
    apply_event_to(
        bar.pk,
        Event.DEAD_LETTERED,
        actor="sync",
        error="Odoo refused the write",
        kind=ErrorKind.PERMANENT,
        retries=3,
    )
    return sandbox_tenant, PosConfig.objects.get(pk=bar.pk)


@pytest.mark.parametrize("role", ["staff", "operator"])
def test_staff_and_operators_retry_their_tenants_register_and_it_reaches_odoo(
    dead_update, odoo_sandbox, role
):
    tenant, bar = dead_update
    user = TenantStaffFactory(tenants=[tenant]) if role == "staff" else OperatorFactory()
    response = logged_in(user).post(reverse("admin:registers_posconfig_retry", args=[bar.pk]))
    assert response.status_code == 302
    bar.refresh_from_db()
    assert bar.sync_state == SyncState.PENDING_UPDATE
    drain_tenant(tenant.pk)
    assert odoo_sandbox.pos_config(bar.odoo_pos_config_id)["name"] == "Espresso bar"


def test_staff_of_another_tenant_cannot_retry(dead_update):
    _, bar = dead_update
    stranger = TenantStaffFactory(tenants=[TenantFactory()])
    response = logged_in(stranger).post(reverse("admin:registers_posconfig_retry", args=[bar.pk]))
    assert response.status_code == 404
    bar.refresh_from_db()
    assert bar.sync_state == SyncState.SYNC_ERROR


def test_only_an_operator_has_a_deleted_register_created_again(dead_update):
    tenant, bar = dead_update
    PosConfig.objects.filter(pk=bar.pk).update(last_sync_error_kind=ErrorKind.MISSING)
    staff = TenantStaffFactory(tenants=[tenant])
    retry = reverse("admin:registers_posconfig_retry", args=[bar.pk])
    logged_in(staff).post(retry)
    bar.refresh_from_db()
    assert bar.sync_state == SyncState.SYNC_ERROR
    logged_in(OperatorFactory()).post(retry)
    bar.refresh_from_db()
    assert bar.sync_state == SyncState.PENDING_CREATE
