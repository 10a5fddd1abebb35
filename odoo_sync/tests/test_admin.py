"""The sync overview page and the read-only sync history, scoped to the user's tenants; admin
edits that must reach (or not reach) the sandbox Odoo."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from cafe.models import Tenant
from cafe.tests.clients import logged_in
from cafe.tests.factories import TenantFactory, TenantStaffFactory
from odoo_sync import housekeeping, tenant_health
from odoo_sync.drain import drain_tenant
from odoo_sync.models import SyncAttempt
from registers import services
from registers.models import RegisterEvent, SyncState
from registers.tests.factories import PosConfigFactory
from registers.tests.test_admin import action, rename_page_values

pytestmark = pytest.mark.django_db

OVERVIEW = reverse("admin:odoo_sync_overview")
ATTEMPTS = reverse("admin:odoo_sync_syncattempt_changelist")


def tenant_row(response, tenant):
    return next(r for r in response.context["overview"]["rows"] if r["tenant"] == tenant)


def test_the_admin_home_and_the_site_root_are_the_overview(operator):
    client = logged_in(operator)
    assert client.get("/").url == reverse("admin:index")
    assert client.get(reverse("admin:index")).url == OVERVIEW


def test_a_staff_user_who_may_not_see_registers_gets_the_stock_home(db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("bare", password="x", is_staff=True)
    response = logged_in(user).get(reverse("admin:index"))
    assert response.status_code == 200 and "app_list" in response.context


def test_the_overview_is_one_entry_of_the_sync_app_in_the_sidebar(operator):
    client = logged_in(operator)
    home = client.get(OVERVIEW)
    [sync_app] = [a for a in home.context["available_apps"] if a["app_label"] == "odoo_sync"]
    assert sync_app["models"][0]["name"] == "Sync overview"
    html = home.content.decode()
    assert html.count(">Odoo sync<") == 1  # the app once, not twice
    # The sidebar of any other admin page lists it too.
    sidebar = client.get(ATTEMPTS).content.decode()
    assert 'id="nav-sidebar"' in sidebar and f'href="{OVERVIEW}"' in sidebar


def test_view_site_opens_the_overview_and_every_page_has_a_favicon(operator):
    html = logged_in(operator).get(OVERVIEW).content.decode()
    assert f'<a href="{OVERVIEW}">View site</a>' in html
    assert 'rel="icon"' in html


def test_the_registers_list_says_which_tenants_are_paused_or_unreachable(operator):
    paused = TenantFactory(pro=True, name="Paused Cafe")
    tenant_health.pause_tenant(
        paused.pk, connection_revision=0, reason="Odoo refused the login 'sync'."
    )
    down = TenantFactory(pro=True, name="Down Cafe")
    tenant_health.record_tenant_unreachable(down.pk, connection_revision=0, error="HTTP 502")
    TenantFactory(pro=True, name="Fine Cafe")
    PosConfigFactory(pending_create=True, tenant=paused, next_attempt_at=timezone.now())
    html = logged_in(operator).get(reverse("admin:registers_posconfig_changelist")).content
    html = html.decode()
    # A paused tenant's row is not "due now": it waits for the fix, as its banner says.
    assert "when the connection is fixed" in html and ">due now<" not in html
    assert "Paused Cafe: paused since" in html and "Odoo refused the login" in html
    assert "Down Cafe: Odoo unreachable since" in html
    assert "Fine Cafe:" not in html
    assert reverse("admin:cafe_tenant_change", args=[paused.pk]) in html


def test_staff_see_banners_only_for_their_own_tenants():
    staff = TenantStaffFactory()
    other = TenantFactory(pro=True, name="Other Cafe")
    tenant_health.pause_tenant(other.pk, connection_revision=0, reason="refused")
    html = logged_in(staff).get(reverse("admin:registers_posconfig_changelist")).content
    assert b"Other Cafe" not in html


@freeze_time("2026-03-02 10:00:00")
def test_overview_counts_states_per_tenant_and_ages_the_oldest_due_row(operator):
    tenant = TenantFactory(pro=True, name="Acme")
    now = timezone.now()
    PosConfigFactory(
        pending_create=True, tenant=tenant, next_attempt_at=now - timedelta(minutes=17)
    )
    PosConfigFactory(
        pushed=True,
        tenant=tenant,
        sync_state=SyncState.PENDING_UPDATE,
        next_attempt_at=now - timedelta(minutes=3),
    )
    PosConfigFactory(
        pushed=True,
        tenant=tenant,
        sync_state=SyncState.PENDING_UPDATE,
        next_attempt_at=now + timedelta(hours=1),  # backing off: not due yet
    )
    PosConfigFactory(dead_update=True, tenant=tenant)
    PosConfigFactory.create_batch(2, pushed=True, tenant=tenant)
    response = logged_in(operator).get(OVERVIEW)
    row = tenant_row(response, tenant)
    assert {k: row["counts"][k] for k in ("pending_create", "pending_update", "sync_error")} == {
        "pending_create": 1,
        "pending_update": 2,
        "sync_error": 1,
    }
    assert (row["counts"]["synced"], row["counts"]["total"]) == (2, 6)
    assert row["oldest_due"] == "17 min"
    assert "17 min" in response.content.decode()


def test_overview_lists_dead_letters_with_their_errors_and_a_post_retry_button(operator):
    dead = PosConfigFactory(
        dead_update=True, name="Terrace", last_sync_error="OdooValidationError: bad name"
    )
    html = logged_in(operator).get(OVERVIEW).content.decode()
    assert "Terrace" in html
    assert "OdooValidationError: bad name" in html
    retry = reverse("admin:registers_posconfig_retry", args=[dead.pk])
    assert f'<form method="post" action="{retry}"' in html


def test_retry_from_the_overview_requeues_and_comes_back(operator):
    dead = PosConfigFactory(dead_update=True)
    client = logged_in(operator)
    response = client.post(
        reverse("admin:registers_posconfig_retry", args=[dead.pk]), {"next": OVERVIEW}
    )
    assert response.status_code == 302
    assert response["Location"] == OVERVIEW
    dead.refresh_from_db()
    assert (dead.sync_state, dead.sync_retries) == (SyncState.PENDING_UPDATE, 0)
    page = client.get(OVERVIEW)
    assert [str(m) for m in page.context["messages"]] == [
        f"Retry sync of {dead.name!r}: 1 register queued for Odoo."
    ]
    assert page.context["overview"]["dead_letters"] == []


def test_overview_shows_paused_tenants_with_the_reason(operator):
    paused = TenantFactory(pro=True, name="Paused cafe")
    tenant_health.pause_tenant(
        paused.pk, connection_revision=0, reason="Odoo rejected the connection: Access Denied"
    )
    html = logged_in(operator).get(OVERVIEW).content.decode()
    assert 'id="sync-paused"' in html
    assert "Odoo rejected the connection: Access Denied" in html
    assert reverse("admin:cafe_tenant_change", args=[paused.pk]) in html


def test_overview_shows_unreachable_tenants_and_since_when(operator):
    with freeze_time("2026-03-02 09:00:00"):
        down = TenantFactory(pro=True, name="Down cafe")
        tenant_health.record_tenant_unreachable(
            down.pk, connection_revision=0, error="connection refused"
        )
    with freeze_time("2026-03-02 10:30:00"):
        html = logged_in(operator).get(OVERVIEW).content.decode()
    assert 'id="sync-unreachable"' in html
    assert "2026-03-02 09:00 UTC (1 h 30 min ago)" in html
    assert "connection refused" in html


def test_overview_says_whether_tick_and_worker_are_alive(operator, settings, monkeypatch):
    settings.SYNC_TICK_SECONDS = 60
    # A process up for a day: beat and the workers have had their time to beat.
    monkeypatch.setattr(housekeeping, "PROCESS_STARTED_AT", datetime(2026, 3, 1, 10, tzinfo=UTC))
    with freeze_time("2026-03-02 10:00:00"):
        housekeeping.beat("tick")
    with freeze_time("2026-03-02 09:00:00"):
        housekeeping.beat("worker")
    with freeze_time("2026-03-02 10:02:00"):
        response = logged_in(operator).get(OVERVIEW)
    overview = response.context["overview"]
    assert (overview["tick"]["alive"], overview["worker"]["alive"]) == (True, False)
    html = response.content.decode()
    assert "beat is ticking" in html
    assert "no worker answered in the last 3 min" in html


@freeze_time("2026-03-02 10:00:00")
def test_overview_with_no_heartbeat_says_so_once_beat_had_its_time(operator, settings, monkeypatch):
    settings.SYNC_TICK_SECONDS = 60
    started = timezone.now()
    monkeypatch.setattr(housekeeping, "PROCESS_STARTED_AT", started)
    # 2 min after start, beat may still be starting: said, without the alarm.
    with freeze_time(started + timedelta(minutes=2)):
        response = logged_in(operator).get(OVERVIEW)
    tick = response.context["overview"]["tick"]
    assert (tick["at"], tick["alive"], tick["starting"]) == (None, False, True)
    html = response.content.decode()
    assert "waiting for the first tick (started 2 min ago" in html
    assert "is celery beat running?" not in html
    # 3 min after start (three tick periods), no tick is an alarm.
    with freeze_time(started + timedelta(minutes=3)):
        response = logged_in(operator).get(OVERVIEW)
    tick = response.context["overview"]["tick"]
    assert (tick["ago"], tick["alive"], tick["starting"]) == ("never", False, False)
    assert "no tick in the last 3 min: is celery beat running?" in response.content.decode()


def test_staff_overview_shows_only_their_tenants():
    mine, theirs = TenantFactory(pro=True, name="Mine"), TenantFactory(pro=True, name="Theirs")
    PosConfigFactory(dead_update=True, tenant=theirs, name="Their dead letter")
    tenant_health.pause_tenant(theirs.pk, connection_revision=0, reason="their secret trouble")
    staff = TenantStaffFactory(tenants=[mine])
    response = logged_in(staff).get(OVERVIEW)
    assert [r["tenant"] for r in response.context["overview"]["rows"]] == [mine]
    html = response.content.decode()
    assert "Their dead letter" not in html
    assert "their secret trouble" not in html


def test_staff_see_dead_creates_but_no_retry_button_for_them(operator):
    tenant = TenantFactory(pro=True)
    dead_create = PosConfigFactory(dead_create=True, tenant=tenant)
    staff = TenantStaffFactory(tenants=[tenant])
    retry = reverse("admin:registers_posconfig_retry", args=[dead_create.pk])
    staff_html = logged_in(staff).get(OVERVIEW).content.decode()
    assert dead_create.name in staff_html
    assert retry not in staff_html
    assert "needs an operator" in staff_html
    assert retry in logged_in(operator).get(OVERVIEW).content.decode()


def test_overview_needs_a_staff_login():
    response = Client().get(OVERVIEW)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


# --- sync history ------------------------------------------------------------------------------


def make_attempt(register, **kwargs):
    return SyncAttempt.objects.create(
        tenant=register.tenant, register=register, action="update", outcome="synced", **kwargs
    )


def test_sync_history_is_read_only(operator):
    attempt = make_attempt(PosConfigFactory(pushed=True), error="HTTP 502 from Odoo")
    client = logged_in(operator)
    assert b"HTTP 502 from Odoo" in client.get(ATTEMPTS).content
    assert client.get(reverse("admin:odoo_sync_syncattempt_add")).status_code == 403
    change = reverse("admin:odoo_sync_syncattempt_change", args=[attempt.pk])
    client.post(change, {"outcome": "dead_lettered"})
    attempt.refresh_from_db()
    assert attempt.outcome == "synced"
    delete = reverse("admin:odoo_sync_syncattempt_delete", args=[attempt.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403


def test_staff_see_only_their_tenants_sync_history():
    mine = PosConfigFactory(pushed=True)
    theirs = make_attempt(PosConfigFactory(pushed=True))
    own = make_attempt(mine)
    staff = TenantStaffFactory(tenants=[Tenant.objects.get(pk=mine.tenant_id)])
    client = logged_in(staff)
    assert list(client.get(ATTEMPTS).context["cl"].result_list) == [own]
    change = reverse("admin:odoo_sync_syncattempt_change", args=[theirs.pk])
    assert client.get(change).status_code == 404


def test_on_the_overview_only_the_overview_is_marked_current_in_the_sidebar(operator):
    html = logged_in(operator).get(OVERVIEW).content.decode()
    assert OVERVIEW == "/admin/odoo_sync/overview/"
    assert html.count(" current-model") == 1
    assert 'class="model-syncoverview current-model"' in html


# --- admin edits and the sandbox Odoo ---------------------------------------------------


def test_a_stale_rename_page_is_refused_and_keeps_what_was_typed_and_odoo_keeps_the_colleagues_name(
    operator, sandbox_tenant, odoo_sandbox, transactional_db
):
    register = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    drain_tenant(sandbox_tenant.pk)
    client = logged_in(operator)
    opened = action(client, "rename_action", [register])
    services.rename_register(register, name="Espresso bar", actor="colleague")
    renamed_at = RegisterEvent.objects.get(register=register, action="renamed").created_at
    events = RegisterEvent.objects.count()

    refused = action(
        client, "rename_action", [register], confirm="yes", **rename_page_values(opened, name="bar")
    )

    assert refused.status_code == 200
    [error] = refused.context["form"].non_field_errors()
    when = timezone.localtime(renamed_at).strftime("%Y-%m-%d %H:%M %Z")
    assert f"renamed 'Bar' -> 'Espresso bar' by colleague at {when}" in error
    assert "Nothing was saved" in error
    register.refresh_from_db()
    assert (register.name, RegisterEvent.objects.count()) == ("Espresso bar", events)
    # What the operator typed is still in the form, now on top of the current revision.
    shown = rename_page_values(refused)
    assert (shown["name"], int(shown["revision"])) == ("bar", register.revision)
    assert "Rename the register &#x27;Espresso bar&#x27;" in refused.content.decode()
    drain_tenant(sandbox_tenant.pk)
    assert odoo_sandbox.pos_config(register.odoo_pos_config_id)["name"] == "Espresso bar"

    # Sent again, knowingly, it applies on top of the colleague's rename.
    again = action(client, "rename_action", [register], confirm="yes", **shown)
    assert again.status_code == 302
    register.refresh_from_db()
    assert register.name == "bar"
    drain_tenant(sandbox_tenant.pk)
    assert odoo_sandbox.pos_config(register.odoo_pos_config_id)["name"] == "bar"
