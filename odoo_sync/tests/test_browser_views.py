"""In Chromium: the registers list at a laptop's width, pages that follow a sync in flight,
and the overview's trend chart (docs/admin.md)."""

import pytest
from playwright.sync_api import expect

from cafe.tests.factories import OperatorFactory
from odoo_sync.drain import drain_tenant
from odoo_sync.tests.test_browser import (
    add_backdrop,
    badge_of,
    browser_page,
    log_in,
    save_screenshot,
)
from registers import services

pytestmark = pytest.mark.e2e
browser_page = browser_page  # the fixture, shared

LAPTOP = {"width": 1280, "height": 800}


def test_at_1280_px_the_registers_list_shows_next_attempt_and_last_error(
    live_server, sandbox_tenant, browser_page
):
    add_backdrop(sandbox_tenant)
    page = browser_page
    page.set_viewport_size(LAPTOP)
    log_in(page, f"{live_server.url}/admin/registers/posconfig/", OperatorFactory().username)
    page.wait_for_selector("#result_list")
    results = page.locator("#changelist .results")
    scroll_width, visible_width = results.evaluate("r => [r.scrollWidth, r.clientWidth]")
    assert scroll_width <= visible_width  # no horizontal scrollbar over the table
    visible = results.bounding_box()
    right = min(LAPTOP["width"], visible["x"] + visible["width"])
    for column in ("next_attempt", "last_error"):
        box = page.locator(f"#result_list th.column-{column}").bounding_box()
        assert box["x"] + box["width"] <= right, column
    expect(page.locator("#result_list td.field-last_error").first).to_contain_text("deleted")
    save_screenshot(page, "registers-1280.png")


def test_the_list_and_the_register_page_follow_a_create_to_odoo_without_a_reload(
    live_server, sandbox_tenant, odoo_sandbox, browser_page
):
    bar = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    page = browser_page
    log_in(page, f"{live_server.url}/admin/registers/posconfig/", OperatorFactory().username)
    expect(badge_of(page, "Bar")).to_have_text("Pending create")
    expect(page.locator("body")).to_have_attribute("data-regsync-live", "polling")
    drain_tenant(sandbox_tenant.pk)  # the drain, outside the browser
    expect(badge_of(page, "Bar")).to_have_text("Synced")
    [config] = odoo_sandbox.pos_configs()
    row = page.locator("#result_list tbody tr").filter(has_text="Bar")
    expect(row.locator("td.field-odoo_id")).to_have_text(str(config["id"]))
    expect(page.locator("body")).to_have_attribute("data-regsync-live", "idle")

    bar = services.rename_register(bar.__class__.objects.get(pk=bar.pk), name="Espresso bar")
    page.goto(f"{live_server.url}/admin/registers/posconfig/{bar.pk}/change/")
    badge = page.locator(".field-sync_badge .regsync-badge")
    expect(badge).to_have_text("Pending update")
    drain_tenant(sandbox_tenant.pk)
    expect(badge).to_have_text("Synced")
    expect(page.locator(".field-history")).to_contain_text("Change written to Odoo")
    expect(page.locator("body")).to_have_attribute("data-regsync-live", "idle")
    assert odoo_sandbox.pos_config(config["id"])["name"] == "Espresso bar"
