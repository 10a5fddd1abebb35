"""In Chromium: the registers list at a laptop's width, pages that follow a sync in flight,
and the overview's trend chart (docs/admin.md)."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from freezegun import freeze_time
from playwright.sync_api import expect

from cafe.tests.factories import OperatorFactory, TenantFactory
from odoo_sync.drain import drain_tenant
from odoo_sync.models import SyncAttempt
from odoo_sync.tests.test_browser import (
    SCREENSHOT_DIRS,
    add_backdrop,
    badge_of,
    browser_page,
    log_in,
    save_screenshot,
)
from registers import services
from registers.models import RegisterEvent, SyncState
from registers.state import Event
from registers.tests.factories import PosConfigFactory

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

    # "Export CSV" downloads the list as it is filtered.
    page.locator("#changelist-filter").get_by_role("link", name="Sync error").click()
    with page.expect_download() as download:
        page.click("#regsync-export-csv")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("id,tenant,name,active")
    assert [line.split(",")[2] for line in text.splitlines()[1:]] == ["Pop-up stand"]


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


def a_day_of_sync(tenant, *, failing_hours=(), pace=1):
    """24 hours of edits landing in Odoo (edit-to-Odoo 0.4-3 s), failing in `failing_hours`
    (hours ago), the last of those dead-lettered. Times are set as the rows are written."""
    register = PosConfigFactory(tenant=tenant, pushed=True)
    now = timezone.now()
    for hours_ago in range(23, -1, -1):
        for n in range((hours_ago * 7 + 3) % 5 + pace):
            edited = now - timedelta(hours=hours_ago, minutes=50 - 9 * n)
            waited = timedelta(milliseconds=400 + ((hours_ago + n) % 6) * 500)
            with freeze_time(edited):
                RegisterEvent.objects.create(
                    register=register,
                    action=Event.EDITED,
                    from_state=SyncState.SYNCED,
                    to_state=SyncState.PENDING_UPDATE,
                )
            failing = hours_ago in failing_hours
            with freeze_time(edited + waited):
                if not failing:
                    RegisterEvent.objects.create(
                        register=register,
                        action=Event.WRITE_LANDED,
                        from_state=SyncState.PENDING_UPDATE,
                        to_state=SyncState.SYNCED,
                    )
                last = failing and hours_ago == min(failing_hours) and n == 0
                SyncAttempt.objects.create(
                    tenant=tenant,
                    register=register,
                    action="update",
                    outcome=(
                        SyncAttempt.Outcome.DEAD_LETTERED
                        if last
                        else SyncAttempt.Outcome.RETRY
                        if failing
                        else SyncAttempt.Outcome.SYNCED
                    ),
                    duration_ms=int(waited.total_seconds() * 1000),
                )


def test_the_overview_draws_the_last_24_hours_overall_and_per_tenant(live_server, browser_page):
    a_day_of_sync(TenantFactory(pro=True, name="Acme Coffee"), pace=3)
    a_day_of_sync(TenantFactory(pro=True, name="Harbour Roasters"), failing_hours=(9, 8, 7))
    page = browser_page
    page.set_viewport_size(LAPTOP)
    log_in(page, f"{live_server.url}/admin/odoo_sync/overview/", OperatorFactory().username)
    trend = page.locator("#sync-trend")
    overall = trend.locator("figure svg.regsync-trend")
    expect(overall).to_be_visible()
    expect(overall.locator("g.regsync-hour")).to_have_count(24)
    expect(overall.locator("polyline.regsync-p95")).to_have_count(1)
    box = overall.bounding_box()
    assert box["x"] + box["width"] <= LAPTOP["width"]
    expect(trend.locator("figcaption")).to_contain_text("failed")
    rows = trend.locator("table.regsync-trend-tenants tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Harbour Roasters")  # most failures first
    expect(rows.first).to_contain_text("1 dead letter")
    expect(rows.first.locator("svg rect[fill='#991b1b']")).to_have_count(1)
    for directory in SCREENSHOT_DIRS:
        path = Path(directory) / "overview-trend.png"
        trend.screenshot(path=str(path))
        assert path.stat().st_size > 5_000
