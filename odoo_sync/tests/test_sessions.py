"""A drain without a login, on the session its worker kept (issue 24): counted in the sandbox."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from cafe.models import Tenant
from odoo_sync.connection import test_odoo_connection
from odoo_sync.drain import TenantStatus, drain_tenant
from odoo_sync.sessions import pool
from odoo_sync.tenants import update_odoo_connection
from registers import services
from registers.models import PosConfig, SyncState

pytestmark = pytest.mark.django_db(transaction=True)


def _synced(tenant, name="Bar") -> PosConfig:
    reg = services.add_register(tenant, name=name, prefix="BAR")
    assert drain_tenant(tenant.pk).created == 1
    reg.refresh_from_db()
    return reg


def _calls_of(sandbox, step) -> dict:
    """The Odoo calls `step()` made, by `model.method`."""
    before = sandbox.calls()
    step()
    after = sandbox.calls()
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def _open_before(sandbox) -> int:
    """Sockets to the sandbox that earlier tests' clients still hold (garbage collected first):
    the counts below are this test's own on top of them."""
    import gc

    gc.collect()
    return sandbox.counters()["open_rpc_connections"]


def _rename_and_drain(tenant, reg, name):
    def step():
        services.rename_register(PosConfig.objects.get(pk=reg.pk), name=name)
        assert drain_tenant(tenant.pk).updated == 1

    return step


def test_a_first_drain_logs_in_once_and_stores_the_uid_with_the_revision(
    sandbox_tenant, odoo_sandbox
):
    calls = _calls_of(odoo_sandbox, lambda: _synced(sandbox_tenant))
    assert calls["common.authenticate"] == 1
    sandbox_tenant.refresh_from_db()
    assert (sandbox_tenant.odoo_uid, sandbox_tenant.odoo_uid_revision) == (2, 0)
    assert sandbox_tenant.known_odoo_uid == 2


def test_a_second_drain_makes_no_login_on_a_warm_worker(sandbox_tenant, odoo_sandbox):
    reg = _synced(sandbox_tenant)
    calls = _calls_of(odoo_sandbox, _rename_and_drain(sandbox_tenant, reg, "Renamed"))
    assert calls == {"pos.config.load": 1}


def test_a_warm_rename_drain_reads_the_tenant_once_and_writes_no_health(
    sandbox_tenant, odoo_sandbox
):
    """A drain of a tenant with no outage ends none, and its first batch trusts open_drain's
    read of the tenant: the database work around the one call stays small (issue 24)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reg = _synced(sandbox_tenant)
    with CaptureQueriesContext(connection) as queries:
        _rename_and_drain(sandbox_tenant, reg, "Renamed")()
    sql = [q["sql"] for q in queries.captured_queries]
    first_claim = next(n for n, s in enumerate(sql) if 'SET "claim_token"' in s)
    tenant_reads = [s for s in sql[:first_claim] if s.startswith('SELECT "cafe_tenant"."id",')]
    assert len(tenant_reads) == 1, tenant_reads  # open_drain's, not the first batch's again
    assert not [s for s in sql if "odoo_unreachable_since" in s and s.startswith("UPDATE")]


def test_a_second_drain_in_another_process_uses_the_stored_uid(sandbox_tenant, odoo_sandbox):
    reg = _synced(sandbox_tenant)
    pool.clear()  # as a worker process that never drained this tenant
    calls = _calls_of(odoo_sandbox, _rename_and_drain(sandbox_tenant, reg, "Renamed"))
    assert calls == {"pos.config.load": 1}
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_last_contact_at is not None


def test_a_drain_without_a_login_keeps_the_last_contact_to_the_minute(sandbox_tenant, odoo_sandbox):
    reg = _synced(sandbox_tenant)
    long_ago = timezone.now() - timedelta(minutes=5)
    Tenant.objects.filter(pk=sandbox_tenant.pk).update(odoo_last_contact_at=long_ago)
    _rename_and_drain(sandbox_tenant, reg, "Renamed")()
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_last_contact_at > long_ago + timedelta(minutes=4)
    just_now = timezone.now() - timedelta(seconds=10)
    Tenant.objects.filter(pk=sandbox_tenant.pk).update(odoo_last_contact_at=just_now)
    _rename_and_drain(sandbox_tenant, reg, "Renamed again")()
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_last_contact_at == just_now  # no UPDATE for a warm drain


def test_on_odoo_19_a_second_drain_is_the_json2_call_alone(sandbox_tenant, odoo_sandbox):
    odoo_sandbox.reset(version="19.0")
    reg = _synced(sandbox_tenant)
    pool.clear()
    calls = _calls_of(odoo_sandbox, _rename_and_drain(sandbox_tenant, reg, "Renamed"))
    assert calls == {"pos.config.load": 1}  # no version, no context_get, no XML-RPC


def test_a_connection_edit_forgets_the_uid_and_the_next_drain_logs_in_once(
    sandbox_tenant, odoo_sandbox
):
    reg = _synced(sandbox_tenant)
    new_key = odoo_sandbox.rotate_key()
    update_odoo_connection(sandbox_tenant, api_key=new_key)
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.known_odoo_uid is None
    calls = _calls_of(odoo_sandbox, _rename_and_drain(sandbox_tenant, reg, "Renamed"))
    assert calls["common.authenticate"] == 1 and calls["pos.config.load"] == 1
    sandbox_tenant.refresh_from_db()
    assert (sandbox_tenant.odoo_uid, sandbox_tenant.odoo_uid_revision) == (2, 1)


@pytest.mark.parametrize("warm", [True, False], ids=["warm-worker", "new-process"])
def test_a_key_revoked_since_the_last_drain_costs_one_login_then_pauses_charging_nothing(
    sandbox_tenant, odoo_sandbox, warm
):
    reg = _synced(sandbox_tenant)
    if not warm:
        pool.clear()
    odoo_sandbox.rotate_key()  # revoked in Odoo; regsync still has the old key
    services.rename_register(reg, name="Renamed")
    box = {}
    calls = _calls_of(odoo_sandbox, lambda: box.update(result=drain_tenant(sandbox_tenant.pk)))
    assert calls == {"pos.config.load": 1, "common.authenticate": 1}
    assert box["result"].status == TenantStatus.PAUSED
    reg.refresh_from_db()
    assert (reg.sync_state, reg.sync_retries, reg.claim_token) == (
        SyncState.PENDING_UPDATE,
        0,
        None,
    )
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_paused_at is not None
    assert odoo_sandbox.mutations()[-1][2] == "Bar"  # the rename never reached Odoo


def test_a_stale_uid_is_replaced_by_one_login_and_the_rename_lands(sandbox_tenant, odoo_sandbox):
    reg = _synced(sandbox_tenant)
    pool.clear()
    # Odoo's database was restored or its user recreated: the uid regsync knows is not the key's.
    Tenant.objects.filter(pk=sandbox_tenant.pk).update(odoo_uid=7)
    calls = _calls_of(odoo_sandbox, _rename_and_drain(sandbox_tenant, reg, "Renamed"))
    assert calls == {"pos.config.load": 2, "common.authenticate": 1}
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.known_odoo_uid == 2
    assert odoo_sandbox.pos_config(reg.odoo_pos_config_id)["name"] == "Renamed"


def test_test_connection_still_logs_in(sandbox_tenant, odoo_sandbox):
    _synced(sandbox_tenant)
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.known_odoo_uid == 2
    calls = _calls_of(odoo_sandbox, lambda: test_odoo_connection(sandbox_tenant))
    assert calls["common.authenticate"] == 1


# --- the kept session --------------------------------------------------------------------


def test_a_drain_on_a_warm_worker_opens_no_new_connection(sandbox_tenant, odoo_sandbox):
    reg = _synced(sandbox_tenant)
    assert odoo_sandbox.connections() == 1
    for n in range(3):
        _rename_and_drain(sandbox_tenant, reg, f"Renamed {n}")()
    assert odoo_sandbox.connections() == 1
    # Four drains on one connection, and each one its own session in Odoo (X-Request-ID).
    assert len(odoo_sandbox.sessions()) == 4
    assert odoo_sandbox.max_concurrent_sessions() == 1


def test_a_connection_edit_drops_the_kept_session(sandbox_tenant, odoo_sandbox, wait_until):
    others = _open_before(odoo_sandbox)
    reg = _synced(sandbox_tenant)
    update_odoo_connection(sandbox_tenant, login=odoo_sandbox.login)  # same values, new revision
    _rename_and_drain(sandbox_tenant, reg, "Renamed")()
    assert odoo_sandbox.connections() == 2
    # The first connection was closed by regsync, not left open beside the new one.
    wait_until(
        lambda: odoo_sandbox.counters()["open_rpc_connections"] == others + 1, what="old closed"
    )


def test_a_session_idle_too_long_is_not_reused(settings, sandbox_tenant, odoo_sandbox):
    reg = _synced(sandbox_tenant)
    settings.ODOO_CLIENT_IDLE_SECONDS = 0
    calls = _calls_of(odoo_sandbox, _rename_and_drain(sandbox_tenant, reg, "Renamed"))
    assert calls == {"pos.config.load": 1}  # a new connection, the uid still known
    assert odoo_sandbox.connections() == 2


def test_sessions_idle_too_long_are_closed_not_left_open(settings, odoo_sandbox, wait_until):
    from cafe.tests.factories import tenant_on

    others = _open_before(odoo_sandbox)
    first, second = tenant_on(odoo_sandbox), tenant_on(odoo_sandbox)
    reg = _synced(first)
    _synced(second)
    assert len(pool) == 2
    settings.ODOO_CLIENT_IDLE_SECONDS = 0  # both are idle too long now
    _rename_and_drain(first, reg, "Renamed")()  # takes a new client, sweeps the second's
    assert len(pool) == 0
    wait_until(lambda: odoo_sandbox.counters()["open_rpc_connections"] == others, what="all closed")


def test_the_kept_sessions_are_bounded_least_recently_used_closed_first(
    settings, odoo_sandbox, wait_until
):
    from cafe.tests.factories import tenant_on

    settings.ODOO_CLIENT_POOL_SIZE = 2
    others = _open_before(odoo_sandbox)
    tenants = [tenant_on(odoo_sandbox) for _ in range(3)]
    for tenant in tenants:
        _synced(tenant)
    assert len(pool) == 2
    wait_until(
        lambda: odoo_sandbox.counters()["open_rpc_connections"] == others + 2, what="one closed"
    )
    reg = PosConfig.objects.get(tenant=tenants[2])
    _rename_and_drain(tenants[2], reg, "Renamed")()  # the most recent one is still kept
    assert odoo_sandbox.connections() == 3
    reg = PosConfig.objects.get(tenant=tenants[0])
    _rename_and_drain(tenants[0], reg, "Renamed")()  # the least recent one was closed
    assert odoo_sandbox.connections() == 4


def test_two_drains_of_one_tenant_at_once_never_share_a_client(sandbox_tenant, odoo_sandbox):
    from odoo_sync.drain import client_for

    first = pool.take(sandbox_tenant, lambda: client_for(sandbox_tenant))
    second = pool.take(sandbox_tenant, lambda: client_for(sandbox_tenant))
    assert first is not second
    pool.give_back(sandbox_tenant, first)
    pool.give_back(sandbox_tenant, second)  # replaces the first, which is closed
    assert len(pool) == 1
    assert pool.take(sandbox_tenant, lambda: client_for(sandbox_tenant)) is second
    with pytest.raises(RuntimeError, match="closed"):
        first.execute_kw("pos.config", "search", [[]])
    second.close()


def test_the_kept_sessions_serve_drains_in_threads(odoo_sandbox):
    """The embedded default's thread pool: drains of several tenants at once, twice over."""
    from cafe.tests.factories import tenant_on

    tenants = [tenant_on(odoo_sandbox) for _ in range(4)]
    regs = [_synced(tenant) for tenant in tenants]
    before = odoo_sandbox.connections()
    errors = []

    def rename(tenant, reg, n):
        try:
            _rename_and_drain(tenant, reg, f"Renamed {n}")()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    for n in range(2):
        threads = [
            threading.Thread(target=rename, args=(t, r, n))
            for t, r in zip(tenants, regs, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert odoo_sandbox.connections() == before  # every drain on its tenant's kept connection
    assert odoo_sandbox.call_count("common.authenticate") == 4  # the first drains' logins only
