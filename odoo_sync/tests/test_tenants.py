"""A tenant's plan or connection change moves its registers' sync (odoo_sync.tenants)."""

import pytest

from cafe.tests.factories import CONNECTION_EDIT as CONNECTION
from cafe.tests.factories import TenantFactory
from odoo_sync import tenants
from registers.models import SyncState
from registers.tests.factories import PosConfigFactory

pytestmark = pytest.mark.django_db

# A module global, not a test's local: error reports show locals only.
NEW_KEY = "fresh-key-that-must-not-show-" + "7f3a" * 4


def test_upgrade_to_pro_with_complete_connection_queues_local_registers_for_create(settings):
    settings.ODOO_ALLOW_PRIVATE_URLS = True
    settings.ODOO_REQUIRE_HTTPS = False
    tenant = TenantFactory()
    local = PosConfigFactory(tenant=tenant)
    dead_create = PosConfigFactory(tenant=tenant, dead_create=True)
    tenants.update_odoo_connection(tenant, **CONNECTION)
    local.refresh_from_db()
    assert local.sync_state == SyncState.SYNCED  # still Starter: nothing queued

    tenants.change_plan(tenant, plan="pro")
    local.refresh_from_db()
    dead_create.refresh_from_db()
    assert local.sync_state == SyncState.PENDING_CREATE
    assert local.next_attempt_at is not None
    assert dead_create.sync_state == SyncState.SYNC_ERROR  # left for the operator


def test_completing_a_pro_tenants_connection_queues_its_registers(settings):
    settings.ODOO_ALLOW_PRIVATE_URLS = True
    settings.ODOO_REQUIRE_HTTPS = False
    tenant = TenantFactory(plan="pro")
    reg = PosConfigFactory(tenant=tenant)
    tenants.update_odoo_connection(tenant, **CONNECTION)
    reg.refresh_from_db()
    assert reg.sync_state == SyncState.PENDING_CREATE


def test_moving_to_another_odoo_database_relinks_every_register():
    tenant = TenantFactory(pro=True)
    linked = PosConfigFactory(tenant=tenant, odoo_pos_config_id=7, sync_state=SyncState.SYNCED)
    tenants.update_odoo_connection(tenant, db="another-db", actor="ops")
    linked.refresh_from_db()
    assert linked.sync_state == SyncState.PENDING_CREATE
    assert linked.odoo_pos_config_id is None
    assert linked.events.first().actor == "ops"


def test_a_new_key_for_the_same_odoo_keeps_the_links():
    tenant = TenantFactory(pro=True)
    linked = PosConfigFactory(tenant=tenant, odoo_pos_config_id=7, sync_state=SyncState.SYNCED)
    tenants.update_odoo_connection(tenant, api_key="rotated")
    linked.refresh_from_db()
    assert (linked.sync_state, linked.odoo_pos_config_id) == (SyncState.SYNCED, 7)


def test_an_error_report_from_a_connection_edit_never_shows_the_new_key():
    import sys

    from django.core.exceptions import ValidationError
    from django.views.debug import ExceptionReporter

    tenant = TenantFactory(pro=True)
    try:
        tenants.update_odoo_connection(tenant, url="ftp://odoo.example.com", api_key=NEW_KEY)
    except ValidationError:
        exc_info = sys.exc_info()
    html = ExceptionReporter(None, *exc_info).get_traceback_html()
    assert "odoo_sync/tenants.py" in html  # the frame holding the key is in the report...
    assert NEW_KEY not in html  # ...without its variables


def test_only_a_tenant_that_never_reached_odoo_can_be_deleted_and_archiving_stops_sync(
    settings,
):
    from django.utils import timezone

    from cafe import services as cafe_services
    from cafe.models import Tenant
    from odoo_sync.models import SyncAttempt
    from registers.models import PosConfig

    mistyped = TenantFactory(pro=True)
    PosConfigFactory(tenant=mistyped, sync_state=SyncState.PENDING_CREATE)
    assert tenants.never_reached_odoo(mistyped)
    tenants.delete_tenant(mistyped)
    assert not Tenant.objects.filter(pk=mistyped.pk).exists()
    assert not PosConfig.objects.filter(tenant_id=mistyped.pk).exists()

    # Each trace of Odoo keeps a tenant: archive it instead.
    contacted = TenantFactory(pro=True, odoo_last_contact_at=timezone.now())
    linked = TenantFactory(pro=True)
    PosConfigFactory(tenant=linked, odoo_pos_config_id=7)
    called = TenantFactory(pro=True)
    register = PosConfigFactory(tenant=called)
    SyncAttempt.objects.create(
        tenant=called, register=register, action="create", outcome="retry", duration_ms=5
    )
    for tenant in (contacted, linked, called):
        assert not tenants.never_reached_odoo(tenant)
        with pytest.raises(tenants.CannotDelete, match="archive it instead"):
            tenants.delete_tenant(tenant)
        assert Tenant.objects.filter(pk=tenant.pk).exists()

    archived = cafe_services.archive_tenant(linked)
    assert archived.archived_at is not None and not archived.has_odoo
    assert not Tenant.objects.with_odoo().filter(pk=linked.pk).exists()
    restored = tenants.restore(archived)
    assert restored.archived_at is None and restored.has_odoo


def test_tenant_staff_can_neither_archive_nor_delete_their_tenant(db):
    from django.urls import reverse

    from cafe.tests.clients import logged_in
    from cafe.tests.factories import TenantStaffFactory

    tenant = TenantFactory(pro=True)
    staff = logged_in(TenantStaffFactory(tenants=[tenant]))
    assert staff.post(reverse("admin:cafe_tenant_archive", args=[tenant.pk])).status_code == 403
    assert staff.get(reverse("admin:cafe_tenant_delete", args=[tenant.pk])).status_code == 403
    page = staff.get(reverse("admin:cafe_tenant_change", args=[tenant.pk])).content.decode()
    assert "regsync-archive" not in page
    tenant.refresh_from_db()
    assert tenant.archived_at is None
