"""Tenant operations on the tenant row: plan, Odoo connection edits, names, staff access."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cafe import services
from cafe.tests.factories import CONNECTION_EDIT as CONNECTION
from cafe.tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


def _edit_connection(tenant, **fields):
    return services.set_odoo_connection(tenant, services.clean_connection_edit(**fields)).tenant


def test_a_connection_edit_says_whether_the_tenant_became_sync_enabled_or_moved(settings):
    settings.ODOO_ALLOW_PRIVATE_URLS = True
    settings.ODOO_REQUIRE_HTTPS = False
    tenant = TenantFactory(plan="pro")
    first = services.set_odoo_connection(tenant, services.clean_connection_edit(**CONNECTION))
    assert first.became_sync_enabled and first.moved_odoo
    again = services.set_odoo_connection(tenant, services.clean_connection_edit(api_key="k2"))
    assert not again.became_sync_enabled and not again.moved_odoo
    other_db = services.set_odoo_connection(tenant, services.clean_connection_edit(db="other"))
    assert other_db.moved_odoo and not other_db.became_sync_enabled
    assert services.set_plan(tenant, plan="starter").became_sync_enabled is False
    assert services.set_plan(tenant, plan="pro").became_sync_enabled is True


def test_the_same_odoo_written_another_way_is_no_move(settings):
    settings.ODOO_ALLOW_PRIVATE_URLS = True
    settings.ODOO_REQUIRE_HTTPS = False
    tenant = TenantFactory(pro=True, odoo_url="http://127.0.0.1", odoo_db="acme")
    edit = services.clean_connection_edit(url="HTTP://127.0.0.1:80/")  # the default port
    same = services.set_odoo_connection(tenant, edit)
    assert same.tenant.odoo_url == "http://127.0.0.1:80" and not same.moved_odoo
    edit = services.clean_connection_edit(url="http://127.0.0.1:8069")
    assert services.set_odoo_connection(tenant, edit).moved_odoo


def test_editing_the_connection_lifts_a_credentials_pause_and_outage_backoff():
    tenant = TenantFactory(
        pro=True,
        odoo_paused_at=timezone.now(),
        odoo_paused_reason="Access Denied",
        odoo_outage_failures=3,
        odoo_next_attempt_at=timezone.now(),
    )
    tenant = _edit_connection(tenant, api_key="new-key")
    tenant.refresh_from_db()
    assert tenant.odoo_paused_at is None
    assert tenant.odoo_outage_failures == 0
    assert tenant.odoo_api_key == "new-key"
    assert tenant.is_sync_enabled


def test_blank_api_key_on_edit_keeps_the_stored_key():
    tenant = TenantFactory(pro=True, odoo_api_key="keep-me")
    _edit_connection(tenant, api_key="", db="other")
    tenant.refresh_from_db()
    assert tenant.odoo_api_key == "keep-me"
    assert tenant.odoo_db == "other"


def test_private_odoo_url_is_rejected_unless_allowed(settings):
    settings.ODOO_ALLOW_PRIVATE_URLS = False
    settings.ODOO_REQUIRE_HTTPS = False
    tenant = TenantFactory()
    with pytest.raises(ValidationError) as exc:
        _edit_connection(tenant, url="http://127.0.0.1:8069")
    assert "odoo_url" in exc.value.message_dict
    tenant.refresh_from_db()
    assert tenant.odoo_url == ""


def test_plain_http_odoo_url_is_rejected_when_https_is_required(settings):
    settings.ODOO_ALLOW_PRIVATE_URLS = True
    settings.ODOO_REQUIRE_HTTPS = True
    with pytest.raises(ValidationError) as exc:
        _edit_connection(TenantFactory(), url="http://127.0.0.1:8069")
    assert "https" in str(exc.value.message_dict["odoo_url"])


def test_unknown_plan_is_rejected():
    with pytest.raises(ValidationError):
        services.set_plan(TenantFactory(), plan="gold")


def test_rename_tenant_strips_and_refuses_empty_names():
    tenant = TenantFactory(name="Old")
    assert services.rename_tenant(tenant, name="  New name ").name == "New name"
    with pytest.raises(ValidationError) as exc:
        services.rename_tenant(tenant, name="   ")
    assert "name" in exc.value.message_dict
    tenant.refresh_from_db()
    assert tenant.name == "New name"


def test_grant_tenant_access_makes_staff_with_the_group_and_revoke_undoes_it():
    from cafe.tests.factories import UserFactory

    user = UserFactory(is_staff=False)
    first, second = TenantFactory(), TenantFactory()
    membership = services.grant_tenant_access(user=user, tenant=first)
    services.grant_tenant_access(user=user, tenant=second)
    user.refresh_from_db()
    assert user.is_staff
    assert user.groups.filter(name=services.TENANT_STAFF_GROUP).exists()

    services.revoke_tenant_access(membership)
    assert user.groups.filter(name=services.TENANT_STAFF_GROUP).exists()  # still has `second`
    services.revoke_tenant_access(user.memberships.get())
    assert not user.groups.filter(name=services.TENANT_STAFF_GROUP).exists()
