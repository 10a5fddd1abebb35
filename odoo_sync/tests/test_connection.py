"""The admin's "Test connection": the Odoo version, or the exact reason, never the key."""

import pytest

from cafe.tests.factories import TenantFactory
from odoo_sync.connection import test_odoo_connection as check_connection

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback_odoo_allowed(settings):
    settings.ODOO_ALLOW_PRIVATE_URLS = True
    settings.ODOO_REQUIRE_HTTPS = False


def test_reports_version_and_protocol_of_a_17_server(sandbox_tenant):
    report = check_connection(sandbox_tenant)
    assert (report.ok, report.server_version, report.protocol) == (True, "17.0", "xmlrpc")
    assert "Odoo 17.0 over XML-RPC" in report.message


def test_reports_json2_on_a_19_server(sandbox_tenant, odoo_sandbox):
    odoo_sandbox.reset(version="19.0", api_key=sandbox_tenant.odoo_api_key)
    report = check_connection(sandbox_tenant)
    assert (report.ok, report.server_version, report.protocol) == (True, "19.0", "json2")


def test_rejected_key_is_the_reason_and_the_key_is_not_in_it(sandbox_tenant, odoo_sandbox):
    odoo_sandbox.rotate_key()
    report = check_connection(sandbox_tenant)
    assert not report.ok
    assert report.message.startswith("Odoo rejected the connection")
    assert sandbox_tenant.odoo_api_key not in report.message


def test_wrong_database_is_named(sandbox_tenant):
    sandbox_tenant.odoo_db = "nodb"
    report = check_connection(sandbox_tenant)
    assert not report.ok
    assert 'database "nodb" does not exist' in report.message


def test_unreachable_odoo_says_it_could_not_reach_it(odoo_unreachable_url):
    tenant = TenantFactory(pro=True, odoo_url=odoo_unreachable_url)
    report = check_connection(tenant)
    assert not report.ok
    assert report.message.startswith("Could not reach Odoo")


def test_incomplete_connection_lists_what_is_missing():
    tenant = TenantFactory(odoo_url="http://127.0.0.1:8069", odoo_db="acme")
    report = check_connection(tenant)
    assert (report.ok, report.message) == (
        False,
        "The Odoo connection is incomplete: no login, no API key.",
    )


def test_private_address_is_refused_before_anything_is_sent(settings, odoo_sandbox, sandbox_tenant):
    settings.ODOO_ALLOW_PRIVATE_URLS = False
    report = check_connection(sandbox_tenant)
    assert not report.ok
    assert "127.0.0.1" in report.message
    assert odoo_sandbox.calls() == {}


def test_a_successful_test_ends_the_outage_wait_but_not_the_outage(sandbox_tenant):
    from odoo_sync import due, tenant_health
    from registers.tests.factories import PosConfigFactory

    PosConfigFactory(tenant=sandbox_tenant, pending_create=True)
    tenant_health.record_tenant_unreachable(sandbox_tenant.pk, connection_revision=0, error="down")
    assert check_connection(sandbox_tenant).ok
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_next_attempt_at is None  # the tick drains it at once
    assert sandbox_tenant.odoo_unreachable_since is not None  # until a row goes through
    assert due.tenants_with_due_work() == [sandbox_tenant.pk]
