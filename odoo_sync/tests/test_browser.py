"""End to end in a real browser: the operator's journey through the admin to the sandbox Odoo.

Drives Debian's Chromium (`apt-get install chromium`) through Playwright; a
downloaded browser is never used. Screenshots (the registers list, the sync
overview, each step of the journey from a new tenant to a fixed key) go to
var/screenshots/ (and to docs/img/ when REGSYNC_DOCS_SCREENSHOTS=1, which is
how the images of the README and docs/admin.md are refreshed).
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from playwright.sync_api import expect

from cafe.models import Tenant
from cafe.tests.factories import OperatorFactory, TenantFactory
from odoo_sync import tasks, tenant_health
from odoo_sync.drain import TenantStatus, drain_tenant
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


def log_in(page, url: str, username: str) -> None:
    """Open `url`, which sends an anonymous browser to the login page, and log in."""
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


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
    log_in(page, f"{live_server.url}/admin/registers/posconfig/", operator.username)
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

    # The overview: the admin's home.
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_selector("#sync-dead-letters")
    text = page.inner_text("#content")
    assert "beat is ticking" in text
    assert "a worker answered recently" in text
    assert re.search(r"Harbour Roasters\s.*Odoo unreachable since", text)
    assert "Access Denied (API key revoked?)" in text
    for path in save_screenshot(page, "overview.png"):
        assert path.stat().st_size > 10_000


def overlap(a: dict, b: dict) -> bool:
    """Whether two of Playwright's bounding boxes overlap on the page."""
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def field_text(page, field: str) -> str:
    """A read-only field of an admin change page, as the operator reads it."""
    return page.inner_text(f".field-{field} .readonly")


def test_operator_journey_new_tenant_registers_wrong_key_and_fix(
    live_server, transactional_db, odoo_sandbox, browser_page, settings
):
    """What an operator does and sees, from a new tenant to a wrong key and its fix.

    The sandbox Odoo answers over HTTP; drains run in this process (the drain
    refuses to run inside a transaction, hence the transactional database) or
    from "Sync now", which runs the Celery task eagerly in the live server.
    """
    settings.ODOO_ALLOW_PRIVATE_URLS = True  # the sandbox Odoo listens on loopback
    operator = OperatorFactory(username="ops")
    page = browser_page
    admin = f"{live_server.url}/admin"

    # 1. Log in: the admin home is the sync overview, the apps in its sidebar.
    log_in(page, f"{admin}/", operator.username)
    expect(page).to_have_url(f"{admin}/odoo_sync/overview/")
    expect(page.locator("#nav-sidebar .app-odoo_sync")).to_contain_text("Sync overview")

    # 2. A new Pro tenant on the sandbox Odoo; the slug fills in from the name.
    page.locator("#nav-sidebar .app-cafe").get_by_role("link", name="Tenants").click()
    page.get_by_role("link", name="Add tenant").click()
    expect(page.locator("#nav-sidebar .app-odoo_sync")).to_contain_text("Sync overview")
    page.locator("#id_name").press_sequentially("Acme Coffee")  # typed: the slug follows keys
    expect(page.locator("#id_slug")).to_have_value("acme-coffee")
    page.select_option("#id_plan", "pro")
    page.fill("#id_odoo_url", odoo_sandbox.url)
    page.fill("#id_odoo_db", odoo_sandbox.db)
    page.fill("#id_odoo_login", odoo_sandbox.login)
    page.fill("#id_new_api_key", odoo_sandbox.api_key)
    page.click("input[name=_continue]")  # "Save and continue editing": the tenant's page
    # Saving tested the connection.
    message = page.locator("ul.messagelist li.success").filter(has_text="Connected").inner_text()
    assert message.startswith("Acme Coffee: Connected: Odoo 17.0 over XML-RPC")
    assert f"login '{odoo_sandbox.login}' accepted" in message
    tenant = Tenant.objects.get(slug="acme-coffee")
    assert (tenant.plan, tenant.odoo_server_version) == ("pro", "17.0")

    # 3. Its page: the sync status, Test connection and Sync now.
    assert field_text(page, "sync_status").startswith("Syncing (last contact")
    expect(page.locator("#regsync-sync-now")).to_be_visible()
    assert odoo_sandbox.api_key not in page.content()  # the key is write-only
    for path in save_screenshot(page, "tenant-connected.png"):
        assert path.stat().st_size > 10_000
    page.click("#regsync-test-connection")
    tested = page.locator("ul.messagelist li")
    expect(tested).to_have_count(1)  # the page after saving had two messages
    expect(tested).to_have_text(re.compile(r"^Acme Coffee: Connected: Odoo 17\.0 over XML-RPC"))

    # 4. Two registers; "Sync now" creates them in Odoo (Celery runs eagerly here).
    page.goto(f"{admin}/registers/posconfig/add/")
    for name, prefix, button in [("Bar", "BAR", "_addanother"), ("Terrace", "TER", "_save")]:
        page.select_option("#id_tenant", label="Acme Coffee")
        page.fill("#id_name", name)
        page.fill("#id_sequence_prefix", prefix)
        page.click(f"input[name={button}]")
        expect(page.locator("ul.messagelist li.success")).to_contain_text(name)
    page.wait_for_selector("#result_list")
    assert badge_of(page, "Bar").inner_text() == "Pending create"
    assert badge_of(page, "Terrace").inner_text() == "Pending create"
    assert odoo_sandbox.pos_configs() == []

    page.goto(f"{admin}/cafe/tenant/{tenant.pk}/change/")
    page.click("#regsync-sync-now")
    expect(page.locator("ul.messagelist li.success")).to_contain_text(
        "A sync of Acme Coffee has started"
    )
    registers = page.locator(".field-register_list")
    expect(registers).to_contain_text("Bar")
    assert registers.locator(".regsync-badge").all_inner_texts() == ["Synced", "Synced"]
    assert sorted(c["name"] for c in odoo_sandbox.pos_configs()) == ["Bar", "Terrace"]
    bar = PosConfig.objects.get(tenant=tenant, name="Bar")
    terrace = PosConfig.objects.get(tenant=tenant, name="Terrace")

    page.get_by_role("link", name="All registers of Acme Coffee").click()
    page.wait_for_selector("#result_list")
    assert badge_of(page, "Bar").inner_text() == "Synced"
    assert badge_of(page, "Terrace").inner_text() == "Synced"
    for path in save_screenshot(page, "registers-synced.png"):
        assert path.stat().st_size > 10_000

    # 5. A rename in the admin reaches Odoo with the next drain.
    page.get_by_role("link", name="Bar", exact=True).click()
    page.fill("#id_name", "Espresso bar")
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist li.success")
    assert badge_of(page, "Espresso bar").inner_text() == "Pending update"
    assert drain_tenant(tenant.pk).updated == 1
    assert odoo_sandbox.pos_config(bar.odoo_pos_config_id)["name"] == "Espresso bar"

    # 6. A wrong API key: saved, but the page says it does not work, and why.
    page.goto(f"{admin}/cafe/tenant/{tenant.pk}/change/")
    wrong_key = "not-the-key-0123456789"
    page.fill("#id_new_api_key", wrong_key)
    page.click("input[name=_continue]")
    warning = page.locator("ul.messagelist li.warning")
    expect(warning).to_contain_text(
        "Acme Coffee: Saved, but the connection does not work yet. "
        f"Odoo refused the login '{odoo_sandbox.login}' with this API key"
    )
    detail = warning.locator("details.regsync-detail")
    expect(detail.locator("summary")).to_have_text("Technical detail for support")
    expect(detail.locator("code")).not_to_be_visible()
    detail.locator("summary").click()
    expect(detail.locator("code")).to_contain_text("OdooAuthError")
    assert wrong_key not in page.content()
    assert field_text(page, "sync_status").startswith("Not connected yet")
    for path in save_screenshot(page, "wrong-key.png"):
        assert path.stat().st_size > 10_000

    # A rename made meanwhile waits; the drain finds the key refused and pauses the tenant.
    page.goto(f"{admin}/registers/posconfig/{terrace.pk}/change/")
    page.fill("#id_name", "Garden terrace")
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist li.success")
    paused = drain_tenant(tenant.pk)
    assert paused.status == TenantStatus.PAUSED
    assert odoo_sandbox.pos_config(terrace.odoo_pos_config_id)["name"] == "Terrace"
    page.reload()
    banner = page.locator("p.regsync-banner")
    expect(banner).to_contain_text("Acme Coffee: paused since")
    expect(banner).to_contain_text("Odoo refused the login")
    expect(banner).to_contain_text("Nothing is sent to its Odoo until the connection is fixed.")
    assert not overlap(banner.bounding_box(), page.locator("ul.object-tools").bounding_box())
    assert badge_of(page, "Garden terrace").inner_text() == "Pending update"
    for path in save_screenshot(page, "paused-banner.png"):
        assert path.stat().st_size > 10_000

    expect(banner.get_by_role("link", name="Open the tenant")).to_have_attribute(
        "href", f"/admin/cafe/tenant/{tenant.pk}/change/"
    )

    # The overview lists it among the paused tenants, with the way to fix it.
    page.locator("ul.object-tools").get_by_role("link", name="Sync overview").click()
    paused_tenants = page.locator("#sync-paused")
    expect(paused_tenants).to_contain_text("Acme Coffee")
    expect(paused_tenants).to_contain_text("Odoo refused the login")
    paused_tenants.get_by_role("link", name="Fix the connection").click()
    page.wait_for_selector(".field-incident_history")
    assert field_text(page, "sync_status").startswith("Paused since")
    incident = page.locator(".field-incident_history tbody tr")
    expect(incident).to_have_count(1)
    expect(incident).to_contain_text("Paused (Odoo refused the connection)")
    expect(incident).to_contain_text("ongoing")
    expect(incident).to_contain_text("Odoo refused the login")
    expect(page.locator(".field-register_list")).to_contain_text("Pending update")
    # Sync now says what to do instead of pretending to sync.
    page.click("#regsync-sync-now")
    expect(page.locator("ul.messagelist li.warning")).to_contain_text(
        "Acme Coffee is paused because Odoo refused its connection: fix the connection first"
    )

    # 7. The right key: connected again, the pause ended by this edit, the rename lands.
    page.fill("#id_new_api_key", odoo_sandbox.api_key)
    page.click("input[name=_continue]")
    connected = page.locator("ul.messagelist li.success").filter(has_text="Connected")
    expect(connected).to_have_text(re.compile(r"^Acme Coffee: Connected: Odoo 17\.0 over XML-RPC"))
    expect(incident).to_contain_text(f"connection edited by {operator.username}")
    expect(incident).not_to_contain_text("ongoing")
    resumed = drain_tenant(tenant.pk)
    assert (resumed.status, resumed.updated) == (TenantStatus.OK, 1)
    assert odoo_sandbox.pos_config(terrace.odoo_pos_config_id)["name"] == "Garden terrace"
    page.reload()
    assert field_text(page, "sync_status").startswith("Syncing (last contact")
    assert page.locator(".field-register_list .regsync-badge").all_inner_texts() == [
        "Synced",
        "Synced",
    ]
    for path in save_screenshot(page, "key-fixed.png"):
        assert path.stat().st_size > 10_000
    page.goto(f"{admin}/registers/posconfig/")
    page.wait_for_selector("#result_list")
    expect(page.locator("p.regsync-banner")).to_have_count(0)


def test_onboarding_links_by_name_and_an_operator_picks_among_namesakes_in_the_browser(
    live_server, sandbox_tenant, odoo_sandbox, browser_page
):
    """Issue 23: the first "Link to pos.config N" button submitted the change form instead
    (a form nested in a form), and a link read "Created in Odoo" in the history."""
    tenant = sandbox_tenant
    tenant.name = "Acme Coffee"
    tenant.save(update_fields=["name"])
    garden_config = odoo_sandbox.create_pos_config("Garden")
    first = odoo_sandbox.create_pos_config("Terrace")
    second = odoo_sandbox.create_pos_config("terrace ", active=False)
    garden = services.add_register(tenant, name="Garden", prefix="GAR")
    terrace = services.add_register(tenant, name="Terrace", prefix="TER")
    drain_tenant(tenant.pk)
    terrace.refresh_from_db()
    assert terrace.last_sync_error_kind == ErrorKind.AMBIGUOUS
    operator = OperatorFactory(username="ops")
    page = browser_page
    admin = f"{live_server.url}/admin"

    # A register that took the config Odoo had says so, not "Created in Odoo".
    log_in(page, f"{admin}/registers/posconfig/{garden.pk}/change/", operator.username)
    linked = page.locator(".field-history tbody tr").filter(has_text="Linked to the existing")
    expect(linked).to_have_count(1)
    assert linked.locator("td").all_inner_texts()[1:] == [
        "sync",
        "Linked to the existing config in Odoo (in step with Odoo)",
        f"pos.config {garden_config} 'Garden' (found by name)",
    ]
    expect(page.locator(".field-history")).not_to_contain_text("Created in Odoo")
    for path in save_screenshot(page, "onboarding-linked.png"):
        assert path.stat().st_size > 10_000

    # "Which one is it?": the first button opens its confirmation, saying what it writes.
    page.goto(f"{admin}/registers/posconfig/{terrace.pk}/change/")
    choice = page.locator("#regsync-odoo-choice")
    expect(choice).to_contain_text("Which one is it?")
    for path in save_screenshot(page, "onboarding-which-one.png"):
        assert path.stat().st_size > 10_000
    choice.get_by_text(f"Link to pos.config {first}: Terrace").click()
    form = page.locator("#regsync-confirm-form")
    expect(form).to_be_visible()
    content = page.locator("#content")
    expect(content).to_contain_text(
        f"The next sync writes to pos.config {first} in Odoo: the name 'Terrace' "
        "(Odoo has 'Terrace'), active (Odoo has it active), and regsync's external id "
        f"regsync.register_{terrace.uuid.hex}."
    )
    expect(content).to_contain_text(f"Left as they are in Odoo: {second} 'terrace ' (archived).")
    for path in save_screenshot(page, "onboarding-link-confirm.png"):
        assert path.stat().st_size > 10_000
    form.get_by_role("button", name="Yes, link it").click()
    expect(page.locator("ul.messagelist li.success")).to_have_text(
        f"'Terrace' is linked to pos.config {first}; its values go there."
    )
    terrace.refresh_from_db()
    assert (terrace.sync_state, terrace.odoo_pos_config_id) == (SyncState.PENDING_UPDATE, first)
    assert (terrace.name, terrace.is_active, terrace.sequence_prefix) == ("Terrace", True, "TER")
    expect(page.locator(".field-history")).to_contain_text(
        f"pos.config {first} 'Terrace', picked among 2 named alike"
    )

    drain_tenant(tenant.pk)
    terrace.refresh_from_db()
    assert terrace.sync_state == SyncState.SYNCED
    assert [(c["id"], c["name"]) for c in odoo_sandbox.pos_configs()] == [
        (garden_config, "Garden"),
        (first, "Terrace"),
        (second, "terrace "),
    ]
    assert {x["res_id"] for x in odoo_sandbox.external_ids()} == {garden_config, first}


def run_action(page, pks, action: str) -> None:
    """Select these rows of a changelist and run an action on them (its confirmation follows)."""
    for pk in pks:
        page.check(f"input[name=_selected_action][value='{pk}']")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.wait_for_selector("#regsync-confirm-form")


def test_drift_audit_in_the_browser_run_decide_and_confirm_each_write(
    live_server, sandbox_tenant, odoo_sandbox, browser_page
):
    """Issue 23: run the audit from the tenant's page and the overview; accept Odoo's value,
    let local win, adopt and ignore from the findings, each through its confirmation page."""
    from odoo_sync.models import AuditFinding

    tenant = sandbox_tenant
    tenant.name = "Acme Coffee"
    tenant.save(update_fields=["name"])
    bar = services.add_register(tenant, name="Bar", prefix="BAR")
    terrace = services.add_register(tenant, name="Terrace", prefix="TER")
    drain_tenant(tenant.pk)
    bar.refresh_from_db()
    terrace.refresh_from_db()
    # Odoo's back office, behind regsync's back.
    odoo_sandbox.rename_pos_config(bar.odoo_pos_config_id, "Espresso bar")
    odoo_sandbox.set_pos_config_active(terrace.odoo_pos_config_id, False)
    popup = odoo_sandbox.create_pos_config("Pop-up")
    test_till = odoo_sandbox.create_pos_config("Test till")
    operator = OperatorFactory(username="ops")
    page = browser_page
    admin = f"{live_server.url}/admin"

    # "Run audit now" on the tenant's page (Celery runs eagerly here).
    log_in(page, f"{admin}/cafe/tenant/{tenant.pk}/change/", operator.username)
    page.click("#regsync-audit-now")
    expect(page.locator("ul.messagelist li.success")).to_contain_text(
        "An audit of Acme Coffee has started"
    )
    drift = page.locator(".field-drift_audit .readonly")
    expect(drift).to_contain_text("4 findings need a decision")
    drift.get_by_role("link").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(4)
    for path in save_screenshot(page, "audit-findings.png"):
        assert path.stat().st_size > 10_000

    def finding(kind, odoo_id):
        return AuditFinding.objects.get(kind=kind, odoo_id=odoo_id).pk

    Kind = AuditFinding.Kind
    # Local wins for the archive: the confirmation lists what goes to Odoo.
    run_action(page, [finding(Kind.ARCHIVED, terrace.odoo_pos_config_id)], "fix_local_wins")
    expect(page.locator("#content")).to_contain_text(
        f"makes pos.config {terrace.odoo_pos_config_id} active again in Odoo (archived there)"
    )
    for path in save_screenshot(page, "audit-local-wins.png"):
        assert path.stat().st_size > 10_000
    page.click("#regsync-confirm-form input[type=submit]")
    expect(page.locator("ul.messagelist li.success")).to_have_text(
        "Local wins: 1 finding(s) queued to be written to Odoo."
    )
    # Odoo's name for Bar was meant: accept it.
    run_action(page, [finding(Kind.RENAMED, bar.odoo_pos_config_id)], "accept_odoo_value")
    expect(page.locator("#content")).to_contain_text(
        "the register 'Bar' is renamed 'Espresso bar' here; nothing is sent to Odoo"
    )
    page.click("#regsync-confirm-form input[type=submit]")
    expect(page.locator("ul.messagelist li.success")).to_have_text(
        "Odoo's value accepted for 1 register(s); nothing was sent to Odoo."
    )
    # The pop-up till made in Odoo becomes a register; the test till is ignored.
    run_action(page, [finding(Kind.UNKNOWN, popup)], "adopt")
    prefix = page.locator(f"#id_prefix_{finding(Kind.UNKNOWN, popup)}")
    expect(prefix).to_have_value("POPU")
    prefix.fill("POP")
    for path in save_screenshot(page, "audit-adopt.png"):
        assert path.stat().st_size > 10_000
    page.click("#regsync-confirm-form input[type=submit]")
    expect(page.locator("ul.messagelist li.success")).to_contain_text("Adopted 1 config(s)")
    run_action(page, [finding(Kind.UNKNOWN, test_till)], "ignore")
    page.click("#regsync-confirm-form input[type=submit]")
    expect(page.locator("ul.messagelist li.success")).to_have_text(
        "Ignored 1 config(s): they no longer count as drift."
    )
    expect(page.locator("#changelist")).to_contain_text("0 drift findings")  # none need you
    page.get_by_role("link", name="Not resolved").click()
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Test till")).to_contain_text("Ignored by ops")
    expect(rows.filter(has_text="Terrace")).to_contain_text(
        "Local wins by ops: queued to be written to Odoo"
    )

    # The next sync writes what local wins said, and attaches the adopted till's external id.
    drain_tenant(tenant.pk)
    assert odoo_sandbox.pos_config(terrace.odoo_pos_config_id)["active"] is True
    assert odoo_sandbox.pos_config(bar.odoo_pos_config_id)["name"] == "Espresso bar"
    adopted = PosConfig.objects.get(tenant=tenant, odoo_pos_config_id=popup)
    assert (adopted.name, adopted.sequence_prefix, adopted.sync_state) == (
        "Pop-up",
        "POP",
        SyncState.SYNCED,
    )
    assert odoo_sandbox.pos_config(test_till)["name"] == "Test till"  # left as it is

    # "Run audit now" on the overview: in step, the ignored till shown as such.
    page.goto(f"{admin}/odoo_sync/overview/")
    row = page.locator("#sync-per-tenant tbody tr").filter(has_text="Acme Coffee")
    row.get_by_role("button", name="Run audit now").click()
    expect(page.locator("ul.messagelist li.success")).to_contain_text("An audit of Acme Coffee")
    expect(row.locator(".regsync-audit")).to_contain_text("in step (1 ignored)")
    for path in save_screenshot(page, "audit-overview.png"):
        assert path.stat().st_size > 10_000
    assert AuditFinding.objects.count() == 4  # two audits, one finding per config and kind
