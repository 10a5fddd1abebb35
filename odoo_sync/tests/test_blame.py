"""Whose a failure is, for calls shared by several rows (DESIGN property 16): a failure that
names no row is none of theirs. Faults are injected into the sandbox over HTTP."""

import xmlrpc.client

import pytest

from odoo_sync.drain import TenantStatus, drain_tenant, open_drain
from odoo_sync.tests.harness import as_linked
from registers import services
from registers.models import PosConfig, SyncState

pytestmark = pytest.mark.django_db(transaction=True)

LOAD, WRITE, SEARCH = "pos.config.load", "pos.config.write", "pos.config.search_read"
ACCESS_FAULT = xmlrpc.client.dumps(
    xmlrpc.client.Fault(4, "You are not allowed to access 'Point of Sale Configuration'"),
    methodresponse=True,
)

# What can meet a call shared by several rows, none of it naming a row.
FAULTS = {
    "read timeout, outcome unknown": lambda o, m: o.timeout_next(seconds=3, method=m, apply=True),
    "connection reset before Odoo applied it": lambda o, m: o.drop_next("before", method=m),
    "connection reset after Odoo applied it": lambda o, m: o.drop_next("after", method=m),
    "HTTP 502 from a proxy": lambda o, m: o.fail_next(502, method=m),
    "HTTP 503": lambda o, m: o.fail_next(503, method=m),
    "serialization conflict": lambda o, m: o.serialization_failure_next(method=m),
    "access error": lambda o, m: o.reply_body_next(ACCESS_FAULT, method=m),
}


@pytest.fixture
def short_timeouts(settings):
    settings.ODOO_CONNECT_TIMEOUT, settings.ODOO_READ_TIMEOUT = 0.5, 1.0


def _in_odoo(tenant, *names):
    registers = [services.add_register(tenant, name=n, prefix=n[:2].upper()) for n in names]
    assert drain_tenant(tenant.pk).created == len(names)
    as_linked(*registers)  # configs Odoo had: updates share a `write` or a `load` by `.id`
    return registers


def _after_a_row_went_through(tenant, shared_call: str) -> tuple[list, int]:
    """Two registers whose updates share one call, sent after another row's own call went
    through in the same drain; returns them and how many rows the drain has."""
    if shared_call == WRITE:
        sharing = _in_odoo(tenant, "Bar", "Terrace")
        services.add_register(tenant, name="Kiosk", prefix="KI")  # a create: its own load first
        for register in sharing:
            services.set_register_active(register, active=False)  # the same values: one write
    else:
        alone, *sharing = _in_odoo(tenant, "Patio", "Bar", "Terrace")
        services.set_register_active(alone, active=False)  # first, alone, in its own write
        for register in sharing:
            services.rename_register(register, name=f"{register.name} bis")  # one load
    return sharing, 3


@pytest.mark.parametrize("shared_call", [WRITE, LOAD])
@pytest.mark.parametrize("fault", FAULTS)
def test_a_shared_call_that_fails_naming_no_row_is_sent_again_row_by_row(
    short_timeouts, sandbox_tenant, odoo_sandbox, shared_call, fault
):
    """After a row went through, Odoo works: each row of the failed call is sent alone and
    answers for itself, so no row is charged for a failure that was not its own."""
    sharing, rows = _after_a_row_went_through(sandbox_tenant, shared_call)
    FAULTS[fault](odoo_sandbox, shared_call)
    result = drain_tenant(sandbox_tenant.pk)
    assert (result.status, result.failed, result.skipped) == (TenantStatus.OK, 0, 0)
    assert result.created + result.updated == rows
    for row in PosConfig.objects.all():
        assert (row.sync_state, row.sync_retries, row.last_sync_error) == (SyncState.SYNCED, 0, "")
        odoo = odoo_sandbox.pos_config(row.odoo_pos_config_id)
        assert (odoo["name"], odoo["active"]) == (row.name, row.is_active)
    assert len(odoo_sandbox.pos_configs()) == rows
    assert sharing


@pytest.mark.parametrize("shared_call", [WRITE, LOAD])
def test_a_shared_call_failing_before_any_row_went_through_is_the_tenants(
    short_timeouts, sandbox_tenant, odoo_sandbox, shared_call
):
    sharing = _in_odoo(sandbox_tenant, "Bar", "Terrace")
    for register in sharing:
        if shared_call == WRITE:
            services.set_register_active(register, active=False)
        else:
            services.rename_register(register, name=f"{register.name} bis")
    odoo_sandbox.fail_next(502, method=shared_call)
    result = drain_tenant(sandbox_tenant.pk)
    assert (result.status, result.failed) == (TenantStatus.UNREACHABLE, 0)
    for row in PosConfig.objects.all():
        assert (row.sync_state, row.sync_retries, row.claim_token) == (
            SyncState.PENDING_UPDATE,
            0,
            None,
        )
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_unreachable_since is not None  # the tenant backs off


def test_a_row_sent_alone_after_a_shared_failure_answers_for_its_own_call_only(
    short_timeouts, sandbox_tenant, odoo_sandbox
):
    """The shared write fails, then so does the first row's own write: that row is charged
    (its own call failed, DESIGN property 6) and the drain ends without sending the other."""
    sharing, _ = _after_a_row_went_through(sandbox_tenant, WRITE)
    odoo_sandbox.fail_next(502, count=2, method=WRITE)
    result = drain_tenant(sandbox_tenant.pk)
    assert (result.status, result.created, result.update_failed) == (TenantStatus.ENDED_EARLY, 1, 1)
    assert odoo_sandbox.call_count(WRITE) == 2  # the shared write, then the first row alone
    first, second = (PosConfig.objects.get(pk=r.pk) for r in sharing)
    assert (first.sync_state, first.sync_retries) == (SyncState.PENDING_UPDATE, 1)
    assert (second.sync_state, second.sync_retries, second.claim_token) == (
        SyncState.PENDING_UPDATE,
        0,
        None,
    )


@pytest.mark.parametrize("fault", ["HTTP 502 from a proxy", "access error"])
def test_a_failed_name_lookup_shared_by_creates_charges_none_of_them(
    short_timeouts, sandbox_tenant, odoo_sandbox, fault
):
    """A batch's creates share one search for their names in Odoo. Its failure names no
    create: after a row of the drain went through it is still the tenant's, not theirs."""
    [bar] = _in_odoo(sandbox_tenant, "Bar")
    services.rename_register(bar, name="Bar bis")
    drain = open_drain(sandbox_tenant.pk)
    with drain:
        assert drain.login() and drain.claim_batch()
        for claim, outcome in drain.call_batch(drain.take_batch()):
            assert drain.record(claim, outcome)  # the rename went through
        drain.end_batch()
        created = [services.add_register(sandbox_tenant, name=n, prefix=n) for n in ("C", "D")]
        FAULTS[fault](odoo_sandbox, SEARCH)
        assert drain.claim_batch()
        for claim, outcome in drain.call_batch(drain.take_batch()):
            if not drain.record(claim, outcome):
                break
        drain.end_batch()
        drain.finish()
    assert (drain.result.status, drain.result.failed) == (TenantStatus.UNREACHABLE, 0)
    for row in created:
        row.refresh_from_db()
        assert (row.sync_state, row.sync_retries, row.claim_token) == (
            SyncState.PENDING_CREATE,
            0,
            None,
        )
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_unreachable_since is not None
