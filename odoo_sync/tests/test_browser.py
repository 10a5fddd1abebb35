"""End to end in a real browser: edit registers in the admin, drain to the sandbox Odoo, see synced.

Drives Debian's Chromium (`apt-get install chromium`) through Playwright; a
downloaded browser is never used. Screenshots of the registers list and the
sync overview go to var/screenshots/ (and to docs/img/ when
REGSYNC_DOCS_SCREENSHOTS=1, which is how the README's images are refreshed).
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from cafe.tests.factories import OperatorFactory, TenantFactory
from odoo_sync import tasks, tenant_health
from odoo_sync.drain import drain_tenant
from registers import services
from registers.models import ErrorKind, PosConfig, SyncState
from registers.tests.factories import PosConfigFactory

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"  # UserFactory's
SCREENSHOT_DIRS = [django_settings.BASE_DIR / "var" / "screenshots"]
if os.environ.get("REGSYNC_DOCS_SCREENSHOTS") == "1":
    SCREENSHOT_DIRS.append(django_settings.BASE_DIR / "docs" / "img")


@pytest.fixture
def browser_page(monkeypatch, settings):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip("Debian's Chromium is not installed here (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; Django's ORM
    # calls made here in between are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The live server speaks plain http.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1680, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        yield page
        context.close()
        browser.close()


def save_screenshot(page, name: str) -> list[Path]:
    paths = []
    for directory in SCREENSHOT_DIRS:
        directory.mkdir(parents=True, exist_ok=True)
        path = Path(directory) / name
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    return paths


def badge_of(page, register_name: str):
    row = page.locator("#result_list tbody tr").filter(
        has=page.get_by_role("link", name=register_name, exact=True)
    )
    return row.locator(".regsync-badge")


def add_backdrop(tenant) -> None:
    """Rows in other states, so the screenshots show what an operator meets."""
    now = timezone.now()
    PosConfigFactory(
        tenant=tenant,
        name="Kiosk",
        sequence_prefix="KIO",
        sync_state=SyncState.PENDING_CREATE,
        sync_retries=2,
        next_attempt_at=now + timedelta(minutes=4),
        last_sync_error="OdooUnreachableError: HTTP 502 from Odoo",
        last_sync_error_kind=ErrorKind.TRANSIENT,
    )
    PosConfigFactory(
        tenant=tenant,
        name="Pop-up stand",
        sequence_prefix="POP",
        odoo_pos_config_id=999,
        sync_state=SyncState.SYNC_ERROR,
        sync_retries=1,
        last_sync_error=(
            "pos.config 999 was deleted in Odoo, so this register cannot be updated there. "
            "Archive registers in Odoo instead of deleting them; 'Retry sync now' creates it "
            "in Odoo again."
        ),
        last_sync_error_kind=ErrorKind.MISSING,
    )
    harbour = TenantFactory(pro=True, name="Harbour Roasters", slug="harbour")
    PosConfigFactory(
        tenant=harbour,
        name="Harbour bar",
        sequence_prefix="HB1",
        odoo_pos_config_id=12,
        sync_state=SyncState.PENDING_UPDATE,
        next_attempt_at=now - timedelta(minutes=7),
    )
    tenant_health.record_tenant_unreachable(
        harbour.pk, connection_revision=0, error="Could not connect to Odoo: connection refused"
    )
    corner = TenantFactory(pro=True, name="Corner Deli", slug="corner")
    PosConfigFactory(tenant=corner, name="Deli counter", sequence_prefix="DC1")
    tenant_health.pause_tenant(
        corner.pk,
        connection_revision=0,
        reason="Odoo rejected the connection: Access Denied (API key revoked?)",
    )
    starter = TenantFactory(name="Little Bakery", slug="little-bakery")
    PosConfigFactory(tenant=starter, name="Front till", sequence_prefix="FT1")


def test_rename_and_deactivate_in_the_browser_then_drain_to_odoo(
    live_server, sandbox_tenant, odoo_sandbox, browser_page
):
    tenant = sandbox_tenant
    tenant.name = "Acme Coffee"
    tenant.save(update_fields=["name"])
    bar = services.add_register(tenant, name="Bar", prefix="BAR")
    terrace = services.add_register(tenant, name="Terrace", prefix="TER")
    created = drain_tenant(tenant.pk)
    assert created.created == 2
    bar.refresh_from_db()
    terrace.refresh_from_db()
    assert (bar.sync_state, terrace.sync_state) == (SyncState.SYNCED, SyncState.SYNCED)
    operator = OperatorFactory(username="operator")
    page = browser_page

    # Log in and open the registers list.
    page.goto(f"{live_server.url}/admin/registers/posconfig/")
    page.fill("#id_username", operator.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")

    # Rename "Bar" on its change form.
    page.get_by_role("link", name="Bar", exact=True).click()
    page.fill("#id_name", "Espresso bar")
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist li.success")

    # Deactivate "Terrace" with the action, through its confirmation page.
    page.check(f"input[name=_selected_action][value='{terrace.pk}']")
    page.select_option("select[name=action]", "deactivate_selected")
    page.click("button[name=index]")
    page.wait_for_selector("#regsync-confirm-form")
    assert "queued for Odoo" in page.inner_text("#content")
    page.click("#regsync-confirm-form input[type=submit]")
    message = page.inner_text("ul.messagelist li.success")
    assert message == "Deactivated: 1 register queued for Odoo."

    assert badge_of(page, "Espresso bar").inner_text() == "Pending update"
    assert badge_of(page, "Terrace").inner_text() == "Pending update"
    bar.refresh_from_db()
    terrace.refresh_from_db()
    assert (bar.name, bar.sync_state) == ("Espresso bar", SyncState.PENDING_UPDATE)
    assert (terrace.is_active, terrace.sync_state) == (False, SyncState.PENDING_UPDATE)

    # The drain writes both to the sandbox Odoo; the list shows them synced.
    drained = drain_tenant(tenant.pk)
    assert (drained.updated, drained.update_failed) == (2, 0)
    assert odoo_sandbox.pos_config(bar.odoo_pos_config_id)["name"] == "Espresso bar"
    assert odoo_sandbox.pos_config(terrace.odoo_pos_config_id)["active"] is False

    add_backdrop(tenant)
    tasks.tick()  # the real beat tick and worker heartbeat (tasks run eagerly in tests)
    page.reload()
    assert badge_of(page, "Espresso bar").inner_text() == "Synced"
    assert badge_of(page, "Terrace").inner_text() == "Synced"
    assert PosConfig.objects.get(pk=bar.pk).sync_state == SyncState.SYNCED
    # Dead letters come first in the list.
    first_row = page.locator("#result_list tbody tr").first
    assert "Pop-up stand" in first_row.inner_text()
    for path in save_screenshot(page, "registers.png"):
        assert path.stat().st_size > 10_000

    # The overview, linked from the admin index.
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Sync overview").click()
    page.wait_for_selector("#sync-dead-letters")
    text = page.inner_text("#content")
    assert "beat is ticking" in text
    assert "a worker answered recently" in text
    assert re.search(r"Harbour Roasters\s.*Odoo unreachable since", text)
    assert "Access Denied (API key revoked?)" in text
    for path in save_screenshot(page, "overview.png"):
        assert path.stat().st_size > 10_000
