"""In Chromium: what an operator reads during an outage, at start-up and on a tenant's page.

Issue 23's "everywhere else": plain words for an outage and for an https URL
to a plain-http server, one "next try" on the registers list, a fixed key
that sends what waited at once, the overview as the home, a tenant that never
connected, a mistyped tenant archived or deleted, and a history with values.
Uses the fixtures and helpers of test_browser.py (Debian's Chromium).
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cafe.models import Tenant
from cafe.tests.factories import OperatorFactory, TenantFactory, tenant_on
from odoo_sync import housekeeping
from odoo_sync.drain import TenantStatus, drain_tenant
from odoo_sync.tests import test_browser
from odoo_sync.tests.test_browser import field_text, log_in
from registers import services
from registers.tests.factories import PosConfigFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
browser_page = test_browser.browser_page  # the fixture: Debian's Chromium, one page


@pytest.fixture
def operator(settings):
    settings.ODOO_ALLOW_PRIVATE_URLS = True  # the sandbox Odoo listens on loopback
    return OperatorFactory(username="ops")


def test_an_outage_reads_as_the_connection_test_says_it(
    live_server, browser_page, operator, odoo_unreachable_url
):
    page = browser_page
    down = TenantFactory(pro=True, name="Harbour Roasters", odoo_url=odoo_unreachable_url)
    services.add_register(down, name="Bar", prefix="BAR")
    assert drain_tenant(down.pk).status == TenantStatus.UNREACHABLE
    plain = f"Nothing answered at {odoo_unreachable_url}: check the URL and that Odoo is running."

    log_in(page, f"{live_server.url}/admin/cafe/tenant/{down.pk}/change/", operator.username)
    assert field_text(page, "odoo_last_error") == plain
    page.click("#regsync-test-connection")  # the connection test says the same sentence
    expect(page.locator("ul.messagelist li.error")).to_contain_text(plain)

    page.goto(f"{live_server.url}/admin/odoo_sync/overview/")
    outage = page.locator("#sync-unreachable")
    expect(outage).to_contain_text(plain)
    expect(outage.locator("thead")).to_contain_text("Failed attempts")
    html = page.content()
    assert "Max retries" not in html and "Pool(" not in html and "Failed logins" not in html


def test_an_https_url_to_a_plain_http_odoo_says_it_answered_plain_http(
    live_server, browser_page, operator, odoo_sandbox
):
    page = browser_page
    tenant = tenant_on(
        odoo_sandbox, name="Acme", odoo_url=odoo_sandbox.url.replace("http:", "https:")
    )
    log_in(page, f"{live_server.url}/admin/cafe/tenant/{tenant.pk}/change/", operator.username)
    page.click("#regsync-test-connection")
    error = page.locator("ul.messagelist li.error")
    expect(error).to_contain_text(
        f"{tenant.odoo_url} answered in plain HTTP, not HTTPS: check the URL (its port)"
    )
    expect(error).not_to_contain_text("certificate")


def test_the_registers_list_and_its_banner_say_the_same_next_try(
    live_server, browser_page, operator
):
    page = browser_page
    tenant = TenantFactory(pro=True, name="Harbour Roasters")
    now = timezone.now()
    PosConfigFactory(
        tenant=tenant,
        name="Harbour bar",
        sequence_prefix="HB1",
        odoo_pos_config_id=12,
        sync_state="pending_update",
        next_attempt_at=now - timedelta(minutes=7),  # due by itself...
    )
    # ...but its tenant backs off after an outage: not tried before the tenant's next try.
    Tenant.objects.filter(pk=tenant.pk).update(
        odoo_unreachable_since=now,
        odoo_outage_failures=2,
        odoo_next_attempt_at=now + timedelta(minutes=5, seconds=30),
    )
    log_in(page, f"{live_server.url}/admin/registers/posconfig/", operator.username)
    banner = page.locator("p.regsync-banner").inner_text()
    row = page.locator("#result_list tbody tr").filter(has_text="Harbour bar")
    next_attempt = row.locator(".field-next_attempt").inner_text()
    assert next_attempt != "due now"
    assert re.match(r"in \d+ min$", next_attempt)
    assert f"next try {next_attempt}." in banner
    row.get_by_role("link", name="Harbour bar").click()
    assert field_text(page, "next_attempt_detail").startswith(next_attempt + " (")


def test_a_fixed_key_sends_what_waited_at_once(
    live_server, browser_page, operator, odoo_sandbox, settings
):
    settings.SYNC_PUSH_ON_COMMIT = True  # the edits' own push (Celery runs eagerly in tests)
    page = browser_page
    tenant = tenant_on(odoo_sandbox, name="Acme")
    terrace = services.add_register(tenant, name="Terrace", prefix="TER")
    terrace.refresh_from_db()
    assert terrace.odoo_pos_config_id  # pushed on commit
    odoo_sandbox.rotate_key("a-new-key")
    services.rename_register(terrace, name="Garden terrace")  # the push finds the key refused
    tenant.refresh_from_db()
    assert tenant.odoo_paused_at is not None

    log_in(page, f"{live_server.url}/admin/cafe/tenant/{tenant.pk}/change/", operator.username)
    page.fill("#id_new_api_key", "a-new-key")
    page.click("input[name=_continue]")
    expect(page.locator("ul.messagelist li.success").filter(has_text="Connected")).to_have_count(1)
    # No tick, no Sync now: saving the working key sent the rename that waited.
    assert odoo_sandbox.pos_config(terrace.odoo_pos_config_id)["name"] == "Garden terrace"
    page.reload()
    expect(page.locator(".field-register_list .regsync-badge")).to_have_text(["Synced"])


def test_the_home_is_the_overview_and_a_fresh_start_raises_no_beat_alarm(
    live_server, browser_page, operator, monkeypatch
):
    page = browser_page
    monkeypatch.setattr(housekeeping, "PROCESS_STARTED_AT", timezone.now())
    log_in(page, f"{live_server.url}/", operator.username)  # the site's root
    expect(page).to_have_url(f"{live_server.url}/admin/odoo_sync/overview/")
    liveness = page.locator("#sync-liveness")
    expect(liveness).to_contain_text("waiting for the first tick")
    expect(liveness.locator(".regsync-bad")).to_have_count(0)
    expect(page.locator("#sync-per-tenant")).to_contain_text("No tenants yet.")
    page.get_by_role("link", name="Add the first tenant").click()
    expect(page).to_have_url(f"{live_server.url}/admin/cafe/tenant/add/")

    # Beat had its window and never ticked: now it is an alarm.
    monkeypatch.setattr(housekeeping, "PROCESS_STARTED_AT", timezone.now() - timedelta(minutes=10))
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#sync-liveness .regsync-bad").first).to_contain_text(
        "is celery beat running?"
    )


def test_a_tenant_that_never_connected_is_listed_as_cut_off(live_server, browser_page, operator):
    page = browser_page
    TenantFactory(pro=True, name="Mistyped Cafe")
    log_in(page, f"{live_server.url}/admin/odoo_sync/overview/", operator.username)
    cut_off = page.locator("#sync-unreachable")
    expect(cut_off).to_contain_text("Mistyped Cafe")
    expect(cut_off).to_contain_text("Not connected yet")


def test_tenant_history_shows_the_old_and_new_connection_never_the_key(
    live_server, browser_page, operator, odoo_sandbox
):
    page = browser_page
    tenant = tenant_on(odoo_sandbox, name="Acme", odoo_db="acme-typo")
    log_in(page, f"{live_server.url}/admin/cafe/tenant/{tenant.pk}/change/", operator.username)
    page.fill("#id_odoo_db", odoo_sandbox.db)
    page.fill("#id_new_api_key", "a-secret-key-0123")
    page.click("input[name=_continue]")
    page.wait_for_selector("ul.messagelist li")
    page.goto(f"{live_server.url}/admin/cafe/tenant/{tenant.pk}/history/")
    history = page.locator("#change-history")
    expect(history).to_contain_text(
        f"Changed Odoo database from 'acme-typo' to '{odoo_sandbox.db}'."
    )
    expect(history).to_contain_text("Set a new Odoo API key.")
    assert "a-secret-key-0123" not in page.content()


def test_a_mistyped_tenant_is_deleted_and_one_that_synced_is_archived_then_restored(
    live_server, browser_page, operator, odoo_sandbox, odoo_unreachable_url
):
    page = browser_page
    admin = f"{live_server.url}/admin"
    mistyped = TenantFactory(pro=True, name="Acme Cofee", odoo_url=odoo_unreachable_url)
    services.add_register(mistyped, name="Bar", prefix="BAR")
    drain_tenant(mistyped.pk)  # never answered: unreachable, nothing in any Odoo
    synced = tenant_on(odoo_sandbox, name="Harbour Roasters")
    services.add_register(synced, name="Harbour bar", prefix="HB1")
    assert drain_tenant(synced.pk).created == 1

    # The mistyped one: Delete, through Django's confirmation listing its register.
    log_in(page, f"{admin}/cafe/tenant/{mistyped.pk}/change/", operator.username)
    page.get_by_role("link", name="Delete", exact=True).click()
    expect(page.locator("#content")).to_contain_text("Register: Bar")
    page.click("input[type=submit]")
    expect(page.locator("ul.messagelist li.success")).to_contain_text("Acme Cofee")
    assert not Tenant.objects.filter(pk=mistyped.pk).exists()

    # The one that reached Odoo: no Delete (by URL either), but Archive.
    page.goto(f"{admin}/cafe/tenant/{synced.pk}/change/")
    expect(page.get_by_role("link", name="Delete", exact=True)).to_have_count(0)
    assert page.goto(f"{admin}/cafe/tenant/{synced.pk}/delete/").status == 403
    page.goto(f"{admin}/cafe/tenant/{synced.pk}/change/")
    page.click("#regsync-archive")
    expect(page.locator("ul.messagelist li.success")).to_contain_text(
        "Harbour Roasters is archived: it no longer syncs; its registers and history are kept."
    )
    assert field_text(page, "sync_status").startswith("Archived since")
    bar = synced.registers.get()
    services.rename_register(bar, name="Harbour terrace")
    assert drain_tenant(synced.pk).status == TenantStatus.DISABLED  # nothing goes out
    assert odoo_sandbox.pos_config(bar.odoo_pos_config_id)["name"] == "Harbour bar"

    # Restore: it syncs again, the rename made meanwhile included.
    page.click("#regsync-restore")
    expect(page.locator("ul.messagelist li.success")).to_contain_text("is restored")
    assert drain_tenant(synced.pk).updated == 1
    assert odoo_sandbox.pos_config(bar.odoo_pos_config_id)["name"] == "Harbour terrace"
    page.goto(f"{admin}/cafe/tenant/{synced.pk}/history/")
    history = page.locator("#change-history tbody")
    expect(history).to_contain_text("Archived: no longer synced.")
    expect(history).to_contain_text("Restored.")
