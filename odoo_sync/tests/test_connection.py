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
    assert report.message.startswith(f"Odoo refused the login {sandbox_tenant.odoo_login!r}")
    assert "create a new API key" in report.message
    assert sandbox_tenant.odoo_api_key not in report.message + report.detail


@pytest.mark.parametrize("version", ["17.0", "19.0"])
def test_a_database_that_does_not_exist_is_named_in_words(sandbox_tenant, odoo_sandbox, version):
    odoo_sandbox.reset(version=version, api_key=sandbox_tenant.odoo_api_key)
    sandbox_tenant.odoo_db = "nosuchdb"
    report = check_connection(sandbox_tenant)
    assert not report.ok
    assert report.message == (
        f"Odoo at {sandbox_tenant.odoo_url} has no database named 'nosuchdb': check the "
        "database name (Odoo shows it on its login page's database selector)."
    )
    assert "rejected" not in report.message
    assert "nosuchdb" in report.detail  # Odoo's own words, for support


def test_nothing_listening_says_so_and_what_to_check(odoo_unreachable_url):
    tenant = TenantFactory(pro=True, odoo_url=odoo_unreachable_url)
    report = check_connection(tenant)
    assert not report.ok
    assert report.message == (
        f"Nothing answered at {odoo_unreachable_url}: check the URL and that Odoo is running."
    )
    assert "HTTPConnectionPool" not in report.message  # the library's words stay in the detail
    assert "OdooUnreachableError" in report.detail
    # The client never retries: the detail does not say it did (urllib3's pool wrapper).
    assert "Max retries" not in report.detail and "Pool(" not in report.detail
    assert "Connection refused" in report.detail


def test_an_https_url_to_a_plain_http_server_says_it_answered_plain_http(odoo_sandbox):
    url = odoo_sandbox.url.replace("http://", "https://")
    tenant = TenantFactory(pro=True, odoo_url=url)
    report = check_connection(tenant)
    assert report.message == (
        f"{url} answered in plain HTTP, not HTTPS: check the URL (its port), "
        "or ask whoever runs your Odoo for its https address."
    )
    assert "certificate" not in report.message
    assert report.detail.startswith("OdooUnreachableError: The server answered in plain HTTP")


def test_a_host_name_that_does_not_resolve_says_so():
    tenant = TenantFactory(pro=True, odoo_url="http://no-such-host.invalid")
    report = check_connection(tenant)
    assert report.message == (
        "The name 'no-such-host.invalid' is not known on the internet: check the URL."
    )


def test_odoo_that_cannot_reach_its_own_database_never_shows_its_internal_host(
    sandbox_tenant, odoo_sandbox
):
    odoo_sandbox.database_down_next(method="common.authenticate")
    report = check_connection(sandbox_tenant)
    assert not report.ok
    assert "cannot reach its own database" in report.message
    assert "Odoo's database server" in report.detail
    assert "5432" not in report.detail and 'connection to server at "' not in report.detail


def test_a_maintenance_page_says_a_web_page_answered_instead_of_odoo(sandbox_tenant, odoo_sandbox):
    odoo_sandbox.reply_body_next(
        "<html><title>Down for maintenance</title></html>",
        status=200,
        content_type="text/html",
        method="common.authenticate",
    )
    report = check_connection(sandbox_tenant)
    assert "answered with a web page instead of Odoo" in report.message
    assert "Down for maintenance" in report.detail


def test_a_successful_test_fills_in_the_version_and_the_last_contact(sandbox_tenant):
    assert sandbox_tenant.odoo_last_contact_at is None
    assert check_connection(sandbox_tenant).ok
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_server_version == "17.0"
    assert sandbox_tenant.odoo_last_contact_at is not None


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
