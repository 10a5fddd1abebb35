"""Races and crashes: one drain per tenant, no duplicate pos.config, no lost edit."""

import os
import signal
import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone
from freezegun import freeze_time

from cafe.tests.factories import TenantFactory
from odoo_sync import claims, outcomes
from odoo_sync.drain import TenantStatus, drain_tenant
from registers import services
from registers.models import PosConfig, SyncState

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(fn, *args, **kwargs):
    """Run fn in a thread with its own DB connection; returns (thread, box with result)."""
    box = {}

    def target():
        try:
            box["result"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the test that joins
            box["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def test_two_drains_of_one_tenant_at_once_push_each_row_exactly_once(sandbox_tenant, odoo_sandbox):
    for n in range(6):
        services.add_register(sandbox_tenant, name=f"R{n}", prefix=f"R{n}")
    odoo_sandbox.add_latency(0.05, method="pos.config.load")
    barrier = threading.Barrier(2)

    def drain_together():
        barrier.wait()
        return drain_tenant(sandbox_tenant.pk)

    runs = [_in_thread(drain_together) for _ in range(2)]
    for thread, _ in runs:
        thread.join(timeout=30)
    results = [box["result"] for _, box in runs]
    assert sorted(r.status for r in results) == [TenantStatus.BUSY, TenantStatus.OK]
    assert sum(r.created for r in results) == 6
    assert odoo_sandbox.call_count("pos.config.load") == 1  # one batch, sent once
    assert len(odoo_sandbox.pos_configs()) == 6
    assert set(PosConfig.objects.values_list("sync_state", flat=True)) == {SyncState.SYNCED}


def test_concurrent_claims_never_share_a_row(sandbox_tenant):
    for n in range(40):
        services.add_register(sandbox_tenant, name=f"R{n}", prefix=f"R{n}")
    barrier = threading.Barrier(4)

    def claim():
        barrier.wait()
        return [
            c.register_id
            for c in claims.claim_due(sandbox_tenant.pk, limit=15, connection_revision=0)
        ]

    runs = [_in_thread(claim) for _ in range(4)]
    for thread, _ in runs:
        thread.join(timeout=30)
    claimed = [rid for _, box in runs for rid in box["result"]]
    assert len(claimed) == len(set(claimed)) == 40


@pytest.mark.parametrize("lock_backend", ["db", "redis"])
def test_drain_lock_is_exclusive_and_expires_with_its_holder(settings, lock_backend):
    from odoo_sync.locks import tenant_lock

    if lock_backend == "redis" and not settings.REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must run on Redis: REDIS_URL is not set")
        pytest.skip("REDIS_URL is not set (CI always sets it)")
    tenant = TenantFactory(pro=True)
    first = tenant_lock(tenant.pk, backend=lock_backend)
    second = tenant_lock(tenant.pk, backend=lock_backend)
    assert first.acquire()
    assert not second.acquire()
    assert not second.extend()
    second.release()  # not the holder: must not free the lock
    assert not tenant_lock(tenant.pk, backend=lock_backend).acquire()
    assert first.extend()
    first.release()
    assert second.acquire()
    second.release()


def test_worker_killed_after_odoo_applied_the_create_makes_no_duplicate(
    sandbox_tenant, odoo_sandbox, child_env, wait_until
):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    # Odoo applies the create, then the reply never comes back in time.
    odoo_sandbox.timeout_next(seconds=60, method="pos.config.load", apply=True)
    child = subprocess.Popen(
        [sys.executable, "manage.py", "odoo_sync", "--once"],
        env={**child_env, "SYNC_LOCK_BACKEND": "db"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: len(odoo_sandbox.pos_configs()) == 1, what="create applied in Odoo")
        wait_until(lambda: PosConfig.objects.get(pk=reg.pk).claim_token, what="row claimed")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    reg.refresh_from_db()
    assert reg.sync_state == SyncState.PENDING_CREATE
    assert reg.odoo_pos_config_id is None
    odoo_sandbox.clear_faults()

    settings.SYNC_LOCK_BACKEND = "db"
    # While the dead worker's claim runs, nobody else pushes the row...
    assert drain_tenant(sandbox_tenant.pk).created == 0
    # ...and once it expires, the next drain reclaims it and the upsert finds
    # the pos.config that already landed.
    later = timezone.now() + timedelta(seconds=settings.SYNC_CLAIM_SECONDS + 1)
    with freeze_time(later):
        result = drain_tenant(sandbox_tenant.pk)
    reg.refresh_from_db()
    assert result.created == 1
    [odoo] = odoo_sandbox.pos_configs()
    assert reg.sync_state == SyncState.SYNCED
    assert reg.odoo_pos_config_id == odoo["id"]


def test_a_drain_whose_claim_was_taken_over_cannot_overwrite_the_newer_outcome(
    sandbox_tenant, odoo_sandbox
):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    [stale] = claims.claim_due(sandbox_tenant.pk, limit=1, connection_revision=0)
    later = timezone.now() + timedelta(seconds=settings.SYNC_CLAIM_SECONDS + 1)
    with freeze_time(later):
        [fresh] = claims.claim_due(sandbox_tenant.pk, limit=1, connection_revision=0)
        outcomes.mark_create_pushed(fresh, odoo_id=77, pushed_name="Bar")
    assert outcomes.mark_failed(stale, error="late timeout", kind="transient") == "superseded"
    assert outcomes.mark_create_pushed(stale, odoo_id=99, pushed_name="Bar") == "superseded"
    reg.refresh_from_db()
    assert (reg.sync_state, reg.odoo_pos_config_id, reg.sync_retries) == (SyncState.SYNCED, 77, 0)


def test_one_tenants_odoo_timing_out_does_not_delay_another_tenant(
    settings, sandbox_tenant, odoo_sandbox, odoo_sandbox_factory, wait_until
):
    settings.ODOO_READ_TIMEOUT = 3
    other_odoo = odoo_sandbox_factory()
    other = TenantFactory(
        plan="pro",
        odoo_url=other_odoo.url,
        odoo_db=other_odoo.db,
        odoo_login=other_odoo.login,
        odoo_api_key=other_odoo.api_key,
    )
    services.add_register(sandbox_tenant, name="Slow", prefix="SLOW")
    fast_reg = services.add_register(other, name="Fast", prefix="FAST")
    odoo_sandbox.timeout_next(seconds=30, method="pos.config.load")

    slow, box = _in_thread(drain_tenant, sandbox_tenant.pk)
    wait_until(lambda: odoo_sandbox.call_count("pos.config.load") == 1, what="slow call sent")
    result = drain_tenant(other.pk)
    assert slow.is_alive()  # the slow tenant is still waiting on its Odoo...
    fast_reg.refresh_from_db()
    assert result.created == 1  # ...while the other tenant's drain already finished
    assert fast_reg.sync_state == SyncState.SYNCED

    slow.join(timeout=30)
    # The read timeout fired on the first row: the tenant's outage, not the row's.
    assert box["result"].status == TenantStatus.UNREACHABLE
    sandbox_tenant.refresh_from_db()
    assert "took longer than 3 s to reply" in sandbox_tenant.odoo_last_error  # plain words
    assert PosConfig.objects.get(name="Slow").sync_retries == 0


def test_no_row_lock_or_transaction_is_held_while_odoo_is_called(
    sandbox_tenant, odoo_sandbox, wait_until
):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    drain_tenant(sandbox_tenant.pk)
    services.rename_register(reg, name="Second")
    odoo_sandbox.add_latency(1.0, method="pos.config.load")
    loads = odoo_sandbox.call_count("pos.config.load")  # the create's
    drain, box = _in_thread(drain_tenant, sandbox_tenant.pk)
    wait_until(
        lambda: odoo_sandbox.call_count("pos.config.load") == loads + 1, what="write in flight"
    )
    # The row is claimed but not locked: an admin edit goes straight through.
    services.rename_register(reg, name="Third")
    assert drain.is_alive()
    drain.join(timeout=30)
    # The edit ended the claim of the write of "Second" (superseded); the same
    # drain claims the row again and writes "Third".
    reg.refresh_from_db()
    assert (reg.name, reg.sync_state) == ("Third", SyncState.SYNCED)
    assert box["result"].updated == 1
    assert list(reg.sync_attempts.order_by("id").values_list("outcome", flat=True))[-2:] == [
        "superseded",
        "synced",
    ]
    assert odoo_sandbox.pos_config(reg.odoo_pos_config_id)["name"] == "Third"


def test_key_revoked_mid_drain_pauses_the_tenant_without_charging_the_rows(
    sandbox_tenant, odoo_sandbox, wait_until
):
    first = services.add_register(sandbox_tenant, name="A", prefix="A")
    second = services.add_register(sandbox_tenant, name="B", prefix="B")
    odoo_sandbox.add_latency(0.5, method="pos.config.load")
    drain, box = _in_thread(drain_tenant, sandbox_tenant.pk)
    wait_until(lambda: odoo_sandbox.call_count("pos.config.load") == 1, what="first create sent")
    odoo_sandbox.rotate_key()  # the cafe revokes the key while the drain runs
    drain.join(timeout=30)
    result = box["result"]
    assert result.status == TenantStatus.PAUSED
    assert "Access Denied" in result.error
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_paused_at is not None
    # Not the registers' fault: neither is charged an attempt or left claimed.
    for reg in (first, second):
        reg.refresh_from_db()
        assert (reg.sync_state, reg.sync_retries, reg.claim_token) == (
            SyncState.PENDING_CREATE,
            0,
            None,
        )


def test_a_late_rejection_of_old_credentials_does_not_pause_a_fixed_connection(
    sandbox_tenant, odoo_sandbox, wait_until
):
    from odoo_sync.tenants import update_odoo_connection

    services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    good_key = odoo_sandbox.api_key
    update_odoo_connection(sandbox_tenant, api_key="a-wrong-key")
    odoo_sandbox.add_latency(1.0, method="common.authenticate")
    drain, box = _in_thread(drain_tenant, sandbox_tenant.pk)
    wait_until(lambda: odoo_sandbox.call_count("common.authenticate") == 1, what="login sent")
    update_odoo_connection(sandbox_tenant, api_key=good_key)  # the admin fixes the key
    drain.join(timeout=30)
    assert box["result"].status == TenantStatus.PAUSED  # that drain's login was rejected...
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_paused_at is None  # ...but the fixed connection stays live
    odoo_sandbox.add_latency(0)
    assert drain_tenant(sandbox_tenant.pk).created == 1


def test_a_drain_that_lost_its_tenant_lock_stops_and_gives_its_rows_back(
    settings, sandbox_tenant, odoo_sandbox, wait_until
):
    from cafe.models import Tenant

    settings.SYNC_LOCK_BACKEND = "db"
    settings.SYNC_BATCH_SIZE = 1
    for n in range(3):
        services.add_register(sandbox_tenant, name=f"R{n}", prefix=f"R{n}")
    odoo_sandbox.add_latency(0.5, method="pos.config.load")
    drain, box = _in_thread(drain_tenant, sandbox_tenant.pk)
    wait_until(lambda: odoo_sandbox.call_count("pos.config.load") == 1, what="first row sent")
    # Its lease expired and another drain took the tenant over.
    Tenant.objects.filter(pk=sandbox_tenant.pk).update(drain_lock_token=uuid.uuid4())
    drain.join(timeout=30)
    result = box["result"]
    assert (result.status, result.created) == (TenantStatus.BUSY, 1)
    assert odoo_sandbox.call_count("pos.config.load") == 1
    left = PosConfig.objects.exclude(sync_state=SyncState.SYNCED)
    assert left.count() == 2
    assert not left.filter(claim_token__isnull=False).exists()
