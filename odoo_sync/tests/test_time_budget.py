"""A drain's time budget: no Odoo call starts unless it can end inside the drain's time and
its lease, and what could not be sent goes back uncharged (DESIGN property 15).

Calls take time on a frozen clock: the sandbox parks each one while a helper thread
moves the clock on by the call's duration, then lets it go. So every instant below is
fixed, whatever the machine's speed. Limits are scaled down in settings.
"""

import signal
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connections
from django.utils import timezone
from freezegun import freeze_time

from cafe.models import Tenant
from odoo_sync import claims
from odoo_sync.drain import TenantStatus, drain_tenant
from odoo_sync.tests.harness import as_linked, wait_until
from registers import services
from registers.models import PosConfig, SyncState

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CONNECT, READ = 0.5, 30.0  # one call lasts at most 30.5 s; the socket never times out first
LONGEST = CONNECT + READ
LOAD, WRITE = "pos.config.load", "pos.config.write"


@dataclass(frozen=True)
class Call:
    key: str
    started: datetime  # on the frozen clock
    lease_until: datetime | None  # the earliest claim of the rows claimed then
    lock_until: datetime | None  # the tenant's drain lock


class SlowOdoo:
    """Every call of `methods` takes `seconds` on the frozen clock; each is written down
    with the lease its drain held when it started."""

    def __init__(self, sandbox, clock, tenant_id: int, *, methods, seconds: float):
        for method in methods:
            sandbox.park_next("before", count=100, method=method, seconds=30)
        self.sandbox, self.clock, self.tenant_id = sandbox, clock, tenant_id
        self.seconds = seconds
        self.calls: list[Call] = []
        self.errors: list[BaseException] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> datetime:
        return self.clock().replace(tzinfo=UTC)

    def __enter__(self) -> "SlowOdoo":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.done.set()
        self.thread.join(timeout=30)
        self.sandbox.release_parked("drop")
        assert not self.errors, self.errors

    def _run(self) -> None:
        try:
            while True:
                parked = wait_until(lambda: self.done.is_set() or self.sandbox.parked(), timeout=60)
                if self.done.is_set():
                    return
                for call in parked:
                    held = PosConfig.objects.filter(claim_token__isnull=False)
                    leases = [row.claimed_until for row in held]
                    tenant = Tenant.objects.get(pk=self.tenant_id)
                    self.calls.append(
                        Call(
                            call["key"],
                            self.now(),
                            min(leases) if leases else None,
                            tenant.drain_locked_until,
                        )
                    )
                    self.clock.tick(timedelta(seconds=self.seconds))
                    self.sandbox.release_parked("continue", call["id"])
        except BaseException as exc:  # noqa: BLE001 - reported by __exit__ in the test's thread
            self.errors.append(exc)
        finally:
            connections.close_all()


def _renamed(tenant, count: int) -> list[PosConfig]:
    """`count` registers in Odoo, each renamed since: their renames share one `load`."""
    registers = [
        services.add_register(tenant, name=f"Till {n}", prefix=f"T{n}") for n in range(count)
    ]
    assert drain_tenant(tenant.pk).created == count
    as_linked(*registers)  # configs Odoo had: renames share a load by `.id`, split into writes
    for register in registers:
        services.rename_register(register, name=f"{register.name} bis")
    return registers


def _uncharged_and_due(rows: list[PosConfig], *, now: datetime | None = None) -> None:
    for row in rows:
        row.refresh_from_db()
        assert (row.sync_retries, row.last_sync_error, row.claim_token) == (0, "", None)
    due = {c.pk for c in claims.claimable(rows[0].tenant_id, now=now or timezone.now())}
    assert {row.pk for row in rows} <= due


def _in_step_with_odoo(odoo, rows: list[PosConfig]) -> list[PosConfig]:
    """The rows recorded synced, each holding what Odoo holds (no success lost)."""
    synced = []
    for row in rows:
        row.refresh_from_db()
        in_odoo = odoo.pos_config(row.odoo_pos_config_id)["name"]
        if row.sync_state == SyncState.SYNCED:
            assert in_odoo == row.name
            synced.append(row)
        else:
            assert in_odoo != row.name  # not written, so given back to be sent again
    return synced


@pytest.fixture
def scaled_down(settings):
    settings.ODOO_CONNECT_TIMEOUT, settings.ODOO_READ_TIMEOUT = CONNECT, READ
    settings.SYNC_LOCK_BACKEND = "db"  # the lock's lease is a column the test can read
    return settings


def _six_renames_split_on_a_slow_odoo(settings, tenant, odoo_sandbox, *, soft_limit, lease):
    """Six renames share a load that Odoo refuses without naming a row, so each is then
    written alone; every load and write takes 25 s. The rows, the drain's result, its
    calls and the moment it ended."""
    settings.SYNC_TASK_SOFT_TIME_LIMIT, settings.SYNC_CLAIM_SECONDS = soft_limit, lease
    with freeze_time(NOW) as clock:
        rows = _renamed(tenant, 6)
        odoo_sandbox.serialization_failure_next(method=LOAD)
        with SlowOdoo(odoo_sandbox, clock, tenant.pk, methods=[LOAD, WRITE], seconds=25) as odoo:
            result = drain_tenant(tenant.pk)
            ended = odoo.now()
    return rows, result, odoo.calls, ended


def test_split_retries_stop_where_a_call_could_outlast_the_soft_time_limit(
    scaled_down, sandbox_tenant, odoo_sandbox
):
    """The single writes stop once one could end past the soft time limit."""
    rows, result, calls, ended = _six_renames_split_on_a_slow_odoo(
        scaled_down, sandbox_tenant, odoo_sandbox, soft_limit=160, lease=600
    )
    soft_limit = NOW + timedelta(seconds=160)
    for call in calls:  # each could end, and leave 5 s to record it, inside the limit
        assert call.started + timedelta(seconds=LONGEST + 5) <= soft_limit, call
    assert ended <= soft_limit
    assert [c.key for c in calls] == [LOAD, WRITE, WRITE, WRITE, WRITE]
    assert result.status == TenantStatus.MORE  # the task queues the next drain
    synced = _in_step_with_odoo(odoo_sandbox, rows)
    assert (result.updated, result.update_failed, len(synced)) == (4, 0, 4)
    _uncharged_and_due([r for r in rows if r not in synced], now=ended)


def test_no_call_outlasts_the_lease_of_its_claims_and_lock_and_the_rest_is_claimed_anew(
    scaled_down, sandbox_tenant, odoo_sandbox
):
    """With a lease shorter than the drain's time, rows that could not be sent in the first
    lease are claimed again, with the lock, and sent under the new one."""
    rows, result, calls, _ = _six_renames_split_on_a_slow_odoo(
        scaled_down, sandbox_tenant, odoo_sandbox, soft_limit=1000, lease=150
    )
    for call in calls:  # could end, with 5 s left to record, while both leases hold
        assert call.started + timedelta(seconds=LONGEST + 5) <= call.lease_until, call
        assert call.started + timedelta(seconds=LONGEST + 5) <= call.lock_until, call
    assert [c.key for c in calls] == [LOAD, WRITE, WRITE, WRITE, WRITE, LOAD]
    assert (result.status, result.updated, result.update_failed) == (TenantStatus.OK, 6, 0)
    assert len(_in_step_with_odoo(odoo_sandbox, rows)) == 6
    assert not PosConfig.objects.filter(claim_token__isnull=False).exists()


def test_an_onboarding_link_is_not_started_without_the_time_to_finish(
    scaled_down, sandbox_tenant, odoo_sandbox
):
    """A create that finds its config in Odoo links it in several calls: each one starts
    only if it can end in time, and a create left half way is given back, uncharged."""
    scaled_down.SYNC_TASK_SOFT_TIME_LIMIT, scaled_down.SYNC_CLAIM_SECONDS = 70, 600
    existing = odoo_sandbox.create_pos_config("Patio")
    with freeze_time(NOW) as clock:
        patio = services.add_register(sandbox_tenant, name="Patio", prefix="P")
        methods = ["pos.config", "ir.model.data"]
        with SlowOdoo(odoo_sandbox, clock, sandbox_tenant.pk, methods=methods, seconds=15) as odoo:
            result = drain_tenant(sandbox_tenant.pk)
        assert odoo.calls  # the lookup at least
        for call in odoo.calls:
            assert call.started + timedelta(seconds=LONGEST + 5) <= NOW + timedelta(seconds=70)
        assert [c["id"] for c in odoo_sandbox.pos_configs()] == [existing]  # never a duplicate
        patio.refresh_from_db()
        if patio.sync_state == SyncState.SYNCED:
            assert patio.odoo_pos_config_id == existing
        else:
            assert result.status == TenantStatus.MORE
            assert patio.sync_state == SyncState.PENDING_CREATE
            _uncharged_and_due([patio])


def test_a_drain_cut_short_by_the_soft_time_limit_records_what_odoo_already_did(
    sandbox_tenant, odoo_sandbox
):
    """Celery's soft time limit raises SoftTimeLimitExceeded wherever the task is (billiard
    does it from a SIGUSR1 handler; so does this test): here while the batch's shared
    write waits on Odoo, after its creates' load went through."""
    registers = [services.add_register(sandbox_tenant, name=n, prefix=n[:3]) for n in ("A", "B")]
    drain_tenant(sandbox_tenant.pk)
    as_linked(*registers)  # configs Odoo had: equal updates share one `write`
    for register in registers:
        services.set_register_active(register, active=False)
    created = [services.add_register(sandbox_tenant, name=n, prefix=n[:3]) for n in ("C", "D")]
    odoo_sandbox.park_next("before", method=WRITE, seconds=30)

    def soft_time_limit(signum, frame):
        raise SoftTimeLimitExceeded()

    def at_the_parked_write():
        wait_until(odoo_sandbox.parked, timeout=30)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)

    previous = signal.signal(signal.SIGUSR1, soft_time_limit)
    helper = threading.Thread(target=at_the_parked_write, daemon=True)
    try:
        helper.start()
        with pytest.raises(SoftTimeLimitExceeded):
            drain_tenant(sandbox_tenant.pk)
    finally:
        helper.join(timeout=30)
        signal.signal(signal.SIGUSR1, previous)
        odoo_sandbox.release_parked("drop")  # the write never reaches Odoo
    for row in created:  # Odoo created them: recorded, not sent again
        row.refresh_from_db()
        assert row.sync_state == SyncState.SYNCED
        assert odoo_sandbox.pos_config(row.odoo_pos_config_id)["name"] == row.name
    assert len(odoo_sandbox.pos_configs()) == 4
    _uncharged_and_due(registers)
    assert drain_tenant(sandbox_tenant.pk).updated == 2  # the lock was let go too
    assert {c["name"]: c["active"] for c in odoo_sandbox.pos_configs()} == {
        "A": False,
        "B": False,
        "C": True,
        "D": True,
    }
