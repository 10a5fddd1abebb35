"""The sync keeps its promises when the tenant's connection, plan or pause changes mid-drain.

DESIGN properties 3 and 11: an outcome lands only while its claim, the row's
state and the tenant's connection still hold; a running drain notices a
changed connection, plan or pause at its next batch. Two sandbox Odoos stand
for the tenant's old and new database, and the new one already holds an
unrelated pos.config under the id the old one gave our register: the record
a stale link would overwrite.
"""

import pytest

from odoo_sync import claims, outcomes, tenant_health, tenants
from odoo_sync.drain import TenantStatus, drain_tenant
from odoo_sync.tests.harness import as_linked
from registers import services
from registers.models import PosConfig, SyncState

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def new_odoo(odoo_sandbox_factory):
    odoo = odoo_sandbox_factory()
    odoo.create_pos_config("Somebody else's till")  # id 1 there, as ours is in the old one
    return odoo


def _move(tenant, odoo):
    return tenants.update_odoo_connection(
        tenant, url=odoo.url, db=odoo.db, login=odoo.login, api_key=odoo.api_key
    )


def _reload(reg):
    reg.refresh_from_db()
    return reg


def test_an_update_in_flight_when_the_tenant_moves_is_superseded_and_created_in_the_new_odoo(
    sandbox_tenant, odoo_sandbox, new_odoo
):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    drain_tenant(sandbox_tenant.pk)
    services.rename_register(reg, name="Bar North")
    [claim] = claims.claim_due(sandbox_tenant.pk, limit=10, connection_revision=0)
    with odoo_sandbox.client() as client:  # the write is on its way to the old Odoo...
        client.write_pos_config(claim.odoo_pos_config_id, {"name": claim.name})
    _move(sandbox_tenant, new_odoo)  # ...when the operator points the tenant elsewhere

    assert outcomes.mark_update_synced(claim) == outcomes.Outcome.SUPERSEDED
    reg = _reload(reg)
    assert (reg.sync_state, reg.odoo_pos_config_id, reg.claim_token) == (
        SyncState.PENDING_CREATE,
        None,
        None,
    )
    assert drain_tenant(sandbox_tenant.pk).created == 1
    reg = _reload(reg)
    assert reg.sync_state == SyncState.SYNCED
    assert new_odoo.pos_config(reg.odoo_pos_config_id)["name"] == "Bar North"
    assert new_odoo.pos_config(1)["name"] == "Somebody else's till"


def test_a_create_that_lands_in_the_old_odoo_after_the_move_is_not_recorded(
    sandbox_tenant, odoo_sandbox, new_odoo
):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    [claim] = claims.claim_due(sandbox_tenant.pk, limit=10, connection_revision=0)
    with odoo_sandbox.client() as client:
        old_id = client.upsert_pos_config(external_id=claim.external_id, name=claim.name)
    _move(sandbox_tenant, new_odoo)

    assert outcomes.mark_create_pushed(claim, odoo_id=old_id, pushed_name="Bar") == (
        outcomes.Outcome.SUPERSEDED
    )
    reg = _reload(reg)
    # Given back, not synced without an id: due again, against the new Odoo.
    assert (reg.sync_state, reg.odoo_pos_config_id, reg.claim_token) == (
        SyncState.PENDING_CREATE,
        None,
        None,
    )
    drain_tenant(sandbox_tenant.pk)
    reg = _reload(reg)
    assert reg.sync_state == SyncState.SYNCED
    assert new_odoo.pos_config(reg.odoo_pos_config_id)["name"] == "Bar"


def test_a_connection_edit_stops_a_running_drain_at_its_next_batch(
    settings, sandbox_tenant, odoo_sandbox, new_odoo, wait_until
):
    from odoo_sync.tests.test_concurrency import _in_thread

    settings.SYNC_BATCH_SIZE = 1
    regs = [services.add_register(sandbox_tenant, name=f"R{n}", prefix=f"R{n}") for n in range(3)]
    odoo_sandbox.add_latency(0.3, method="pos.config.load")
    drain, box = _in_thread(drain_tenant, sandbox_tenant.pk)
    wait_until(lambda: odoo_sandbox.call_count("pos.config.load") == 1, what="first create sent")
    _move(sandbox_tenant, new_odoo)
    drain.join(timeout=30)

    assert "error" not in box, box.get("error")
    result = box["result"]
    assert result.status == TenantStatus.CHANGED
    assert result.created == 0  # the one in flight was superseded, not recorded
    assert odoo_sandbox.call_count("pos.config.load") == 1  # nothing more to the old Odoo
    rows = PosConfig.objects.filter(pk__in=[r.pk for r in regs])
    assert {(r.sync_state, r.odoo_pos_config_id, r.claim_token) for r in rows} == {
        (SyncState.PENDING_CREATE, None, None)
    }

    assert drain_tenant(sandbox_tenant.pk).created == 3
    new_ids = {c["id"] for c in new_odoo.pos_configs()}
    assert {r.odoo_pos_config_id for r in rows.all()} <= new_ids
    assert new_odoo.pos_config(1)["name"] == "Somebody else's till"


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (lambda t: tenants.change_plan(t, plan="starter"), TenantStatus.DISABLED),
        (lambda t: tenant_health.pause_tenant(t.pk, connection_revision=0, reason="x"), "paused"),
    ],
    ids=["downgraded_to_starter", "paused"],
)
def test_a_plan_change_or_pause_stops_pushes_within_one_batch(
    settings, sandbox_tenant, odoo_sandbox, wait_until, change, status
):
    from odoo_sync.tests.test_concurrency import _in_thread

    settings.SYNC_BATCH_SIZE = 1
    for n in range(3):
        services.add_register(sandbox_tenant, name=f"R{n}", prefix=f"R{n}")
    odoo_sandbox.add_latency(0.3, method="pos.config.load")
    drain, box = _in_thread(drain_tenant, sandbox_tenant.pk)
    wait_until(lambda: odoo_sandbox.call_count("pos.config.load") == 1, what="first create sent")
    change(sandbox_tenant)
    drain.join(timeout=30)

    assert "error" not in box, box.get("error")
    assert box["result"].status == status
    assert odoo_sandbox.call_count("pos.config.load") == 1
    assert not PosConfig.objects.filter(claim_token__isnull=False).exists()


@pytest.mark.parametrize(
    "requeue",
    [
        lambda reg: services.retry_sync(reg),
        lambda reg: services.rename_register(reg, name="Renamed"),
        lambda reg: services.relink_register(reg.pk),
    ],
    ids=["operator_retry", "edited", "relinked"],
)
def test_requeueing_a_row_ends_any_claim_on_it(sandbox_tenant, odoo_sandbox, requeue):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    drain_tenant(sandbox_tenant.pk)
    services.rename_register(reg, name="Bar 2")
    PosConfig.objects.filter(pk=reg.pk).update(sync_retries=2)  # it failed before
    [claim] = claims.claim_due(sandbox_tenant.pk, limit=1, connection_revision=0)
    requeue(_reload(reg))
    assert _reload(reg).claim_token is None
    assert outcomes.mark_update_synced(claim) == outcomes.Outcome.SUPERSEDED
    assert (
        outcomes.mark_failed(claim, error="late", kind="transient") == outcomes.Outcome.SUPERSEDED
    )
    assert _reload(reg).sync_state != SyncState.SYNCED


# --- failures after login: whose are they? ----------------------------------------------


def test_the_same_access_error_on_every_row_is_the_tenants_not_a_dead_letter_per_register(
    sandbox_tenant, odoo_sandbox
):
    for n in range(4):
        services.add_register(sandbox_tenant, name=f"R{n}", prefix=f"R{n}")
    odoo_sandbox.set_pos_manager(False)  # the integration user lost its PoS rights
    result = drain_tenant(sandbox_tenant.pk)
    sandbox_tenant.refresh_from_db()
    assert result.status == TenantStatus.UNREACHABLE
    assert result.dead_lettered == 0
    assert "refused access on 3 registers in a row" in sandbox_tenant.odoo_last_error
    assert "not allowed to create" in sandbox_tenant.odoo_last_error  # Odoo's own words
    assert set(PosConfig.objects.values_list("sync_state", "sync_retries", "claim_token")) == {
        (SyncState.PENDING_CREATE, 0, None)
    }

    odoo_sandbox.set_pos_manager(True)  # rights given back: the next try clears it
    assert drain_tenant(sandbox_tenant.pk, ignore_outage_backoff=True).created == 4
    sandbox_tenant.refresh_from_db()
    assert (sandbox_tenant.odoo_unreachable_since, sandbox_tenant.odoo_last_error) == (None, "")


def test_two_rows_failing_alike_with_none_gone_through_are_the_tenants_too(
    sandbox_tenant, odoo_sandbox
):
    for n in range(2):
        services.add_register(sandbox_tenant, name=f"R{n}", prefix=f"R{n}")
    # The batch's load, then each row sent alone: all meet the same conflict.
    odoo_sandbox.serialization_failure_next(count=3, method="pos.config.load")
    result = drain_tenant(sandbox_tenant.pk)
    assert result.status == TenantStatus.UNREACHABLE
    assert set(PosConfig.objects.values_list("sync_retries", flat=True)) == {0}


def test_a_failure_on_one_row_among_successes_is_that_rows_own(sandbox_tenant, odoo_sandbox):
    for n in range(3):
        services.add_register(sandbox_tenant, name=f"R{n}", prefix=f"R{n}")
    # The batch's one load meets a conflict that names no row: each row is then
    # sent alone, and the first of those meets the conflict too: that row's own.
    odoo_sandbox.serialization_failure_next(count=2, method="pos.config.load")
    result = drain_tenant(sandbox_tenant.pk)
    assert (result.status, result.created, result.create_failed) == (TenantStatus.OK, 2, 1)
    assert sorted(PosConfig.objects.values_list("sync_retries", flat=True)) == [0, 0, 1]


def test_a_long_outage_after_login_dead_letters_nothing(sandbox_tenant, odoo_sandbox):
    from datetime import timedelta

    from django.utils import timezone
    from freezegun import freeze_time

    with freeze_time("2026-11-24 10:00:00") as clock:
        for n in range(3):
            services.add_register(sandbox_tenant, name=f"R{n}", prefix=f"R{n}")
        for _ in range(12):  # two days of a proxy answering 502 to every call but the login
            odoo_sandbox.fail_next(status=502, count=3, method="pos.config.load")
            assert drain_tenant(sandbox_tenant.pk).status == TenantStatus.UNREACHABLE
            clock.tick(timedelta(hours=4))
        sandbox_tenant.refresh_from_db()
        assert sandbox_tenant.odoo_outage_failures == 12
        assert sandbox_tenant.odoo_next_attempt_at > timezone.now() - timedelta(hours=4)
    assert not PosConfig.objects.filter(sync_state=SyncState.SYNC_ERROR).exists()
    assert set(PosConfig.objects.values_list("sync_retries", flat=True)) == {0}


def test_a_drain_outside_prefork_keeps_to_the_same_time_budget(
    settings, sandbox_tenant, odoo_sandbox
):
    """`odoo_sync --once` and the thread pool have no task time limit: the drain keeps its own.

    It stops claiming once one more row could overrun the soft limit, gives
    the rest back, and says MORE (the task then queues the next drain).
    """
    import time

    settings.ODOO_CONNECT_TIMEOUT, settings.ODOO_READ_TIMEOUT = 0.2, 0.5
    row_budget = 2 * (0.2 + 0.5)
    settings.SYNC_TASK_SOFT_TIME_LIMIT = row_budget + 5 + 1  # one second to claim in
    settings.SYNC_BATCH_SIZE = 2  # 15 batches of 0.2 s loads: more than that second
    for n in range(30):
        services.add_register(sandbox_tenant, name=f"R{n}", prefix=f"R{n}")
    odoo_sandbox.add_latency(0.2, method="pos.config.load")
    started = time.monotonic()
    result = drain_tenant(sandbox_tenant.pk)
    assert time.monotonic() - started < settings.SYNC_TASK_SOFT_TIME_LIMIT
    assert result.status == TenantStatus.MORE
    assert 0 < result.created < 30
    waiting = PosConfig.objects.filter(sync_state=SyncState.PENDING_CREATE).count()
    assert result.created + waiting == 30  # the rest wait for the next drain, uncharged
    assert not PosConfig.objects.filter(claim_token__isnull=False).exists()


def test_an_update_outcome_never_lands_on_a_pending_create_row(sandbox_tenant, odoo_sandbox):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    drain_tenant(sandbox_tenant.pk)
    services.rename_register(reg, name="Bar 2")
    [claim] = claims.claim_due(sandbox_tenant.pk, limit=1, connection_revision=0)
    # Whatever moved the row back to pending_create, the claim alone is not enough.
    PosConfig.objects.filter(pk=reg.pk).update(
        sync_state=SyncState.PENDING_CREATE, odoo_pos_config_id=None
    )
    assert outcomes.mark_update_synced(claim) == outcomes.Outcome.SUPERSEDED
    reg = _reload(reg)
    assert (reg.sync_state, reg.odoo_pos_config_id) == (SyncState.PENDING_CREATE, None)


# --- replies that say nothing about the row ---------------------------------------------

MAINTENANCE_PAGE = (
    "<!DOCTYPE html><html><head><title>Site under maintenance</title></head>"
    "<body><p>Back soon. Internal ref 10.0.3.7:5432</p></body></html>"
)


@pytest.mark.parametrize(
    "fault",
    [
        lambda odoo, m: odoo.database_down_next(method=m),
        lambda odoo, m: odoo.reply_body_next(
            MAINTENANCE_PAGE, status=200, content_type="text/html", method=m
        ),
        lambda odoo, m: odoo.reply_body_next(
            "<html><title>Request blocked</title></html>",
            status=403,
            content_type="text/html",
            method=m,
        ),
    ],
    ids=["odoo_lost_its_database", "html_page_with_200", "waf_403"],
)
def test_a_reply_that_says_nothing_about_the_row_is_the_tenants_outage_even_after_a_success(
    sandbox_tenant, odoo_sandbox, fault
):
    updated = services.add_register(sandbox_tenant, name="U", prefix="U")
    drain_tenant(sandbox_tenant.pk)
    as_linked(updated)  # a config Odoo had: its update is a `write`, after the create's load
    services.rename_register(updated, name="U2")
    created = services.add_register(sandbox_tenant, name="C", prefix="C")
    fault(odoo_sandbox, "pos.config.write")
    result = drain_tenant(sandbox_tenant.pk)  # C's create lands first, then U's write meets it
    assert result.status == TenantStatus.UNREACHABLE
    assert (result.created, result.update_failed, result.dead_lettered) == (1, 0, 0)
    assert _reload(created).sync_state == SyncState.SYNCED
    updated = _reload(updated)
    assert (updated.sync_state, updated.sync_retries, updated.last_sync_error) == (
        SyncState.PENDING_UPDATE,
        0,
        "",
    )
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_outage_failures == 1
    assert "<" not in sandbox_tenant.odoo_last_error  # Odoo's words or a page title, no markup
    assert "10.0.3.7" not in sandbox_tenant.odoo_last_error


def test_a_tenant_url_that_now_points_inside_the_network_is_refused_at_connect(
    settings, sandbox_tenant, odoo_sandbox
):
    services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    settings.ODOO_ALLOW_PRIVATE_URLS = False  # production: the URL passed when it was saved
    result = drain_tenant(sandbox_tenant.pk)
    assert result.status == TenantStatus.UNREACHABLE
    assert "loopback address" in result.error
    assert sum(odoo_sandbox.calls().values()) == 0  # not one byte reached it
