"""Celery tasks in eager mode (unit level): the tick and the on-commit push.

Real worker and beat processes are exercised in test_e2e.py.
"""

import pytest

from cafe.tests.factories import TenantFactory
from odoo_sync import due, housekeeping, tasks
from registers import services
from registers.models import PosConfig, SyncState

pytestmark = pytest.mark.django_db(transaction=True)


def test_tick_drains_each_tenant_with_due_work_and_survives_a_dead_odoo(
    sandbox_tenant, odoo_sandbox, odoo_unreachable_url
):
    services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    down = TenantFactory(pro=True, odoo_url=odoo_unreachable_url)
    services.add_register(down, name="Bar", prefix="BAR")
    starter = TenantFactory()
    services.add_register(starter, name="Bar", prefix="BAR")

    assert tasks.tick.delay().get() == 2
    assert housekeeping.last_beat("tick") is not None
    assert housekeeping.last_beat("worker") is not None
    assert PosConfig.objects.get(tenant=sandbox_tenant).sync_state == SyncState.SYNCED
    down.refresh_from_db()
    assert down.odoo_unreachable_since is not None  # backed off, not crashed
    assert PosConfig.objects.get(tenant=down).sync_retries == 0
    assert due.tenants_with_due_work() == []  # the dead Odoo's tenant waits out its backoff


def test_admin_edit_pushes_its_tenant_on_commit(settings, sandbox_tenant, odoo_sandbox):
    settings.SYNC_PUSH_ON_COMMIT = True
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    reg.refresh_from_db()
    assert reg.sync_state == SyncState.SYNCED  # drained on commit, no tick needed
    services.rename_register(reg, name="Bar North")
    reg.refresh_from_db()
    assert reg.sync_state == SyncState.SYNCED
    assert odoo_sandbox.pos_config(reg.odoo_pos_config_id)["name"] == "Bar North"


def test_prefix_change_pushes_nothing(settings, sandbox_tenant, odoo_sandbox):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    tasks.drain_tenant.delay(sandbox_tenant.pk)
    settings.SYNC_PUSH_ON_COMMIT = True
    calls = odoo_sandbox.calls()
    services.set_register_prefix(reg, prefix="NEW")
    assert odoo_sandbox.calls() == calls
