"""The fault matrix: each way Odoo (or what stands in front of it) can fail, and where it ends.

One case per fault of issue 10's list, each against the sandbox over HTTP.
A tenant has one register already in Odoo and renamed (an update due) and
one new register (a create due); the fault meets the first call of its
method. Each case states what the drain reports, what the faulted register
ends in (state, attempts charged, error kind), and what the tenant ends in:
`ok`, `unreachable` (the tenant backs off, its rows keep their attempts) or
`paused` (nothing is sent until the connection is edited). Then the fault
clears and the next drain must bring everything in step, with exactly one
pos.config per register. docs/reliability.md shows this table.
"""

import xmlrpc.client
from dataclasses import dataclass

import pytest
from django.utils import timezone

from odoo_sync.drain import TenantStatus, drain_tenant
from odoo_sync.tests.harness import as_linked
from registers import services
from registers.models import ErrorKind, PosConfig, SyncState

pytestmark = pytest.mark.django_db(transaction=True)

LOAD, WRITE = "pos.config.load", "pos.config.write"
PC, PU, OK, ERR = (
    SyncState.PENDING_CREATE,
    SyncState.PENDING_UPDATE,
    SyncState.SYNCED,
    SyncState.SYNC_ERROR,
)


ACCESS_TEXT = (
    "You are not allowed to modify 'Point of Sale Configuration' (pos.config) records.\n\n"
    "This operation is allowed for the following groups:\n\t- Point of Sale/Administrator"
)


def _fault_xml(code: int, text: str) -> str:
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, text), methodresponse=True)


@dataclass(frozen=True)
class Case:
    fault: str
    inject: object  # (sandbox, tenant, registers) -> None
    faulted: str  # "create" or "update": the register the fault meets
    drain: str  # the drain's status
    state: str  # the faulted register's state after the drain
    retries: int  # attempts charged to it
    kind: str = ""  # its error kind, if charged
    tenant: str = "ok"  # ok | unreachable | paused
    heals: str = "drain"  # how it recovers: "drain" (next drain), "operator", "connection"
    version: str = "17.0"


CASES = [
    Case(
        "HTTP 502 from a proxy",
        lambda o, t, r: o.fail_next(502, method=LOAD),
        "create",
        TenantStatus.UNREACHABLE,
        PC,
        0,
        tenant="unreachable",
    ),
    Case(
        "HTTP 429 rate limit",
        lambda o, t, r: o.fail_next(429, method=LOAD),
        "create",
        TenantStatus.UNREACHABLE,
        PC,
        0,
        tenant="unreachable",
    ),
    Case(
        "connection refused (Odoo down)",
        lambda o, t, r: _point_at_nothing(t),
        "create",
        TenantStatus.UNREACHABLE,
        PC,
        0,
        tenant="unreachable",
        heals="connection",
    ),
    Case(
        "read timeout",
        lambda o, t, r: o.timeout_next(seconds=5, method=LOAD),
        "create",
        TenantStatus.UNREACHABLE,
        PC,
        0,
        tenant="unreachable",
    ),
    Case(
        "reply dropped after Odoo applied it",
        lambda o, t, r: o.drop_next("after", method=LOAD),
        "create",
        TenantStatus.UNREACHABLE,
        PC,
        0,
        tenant="unreachable",
    ),
    Case(
        "status line and headers trickling in",
        lambda o, t, r: o.trickle_next(interval=0.3, method=LOAD, headers=True),
        "create",
        TenantStatus.UNREACHABLE,
        PC,
        0,
        tenant="unreachable",
    ),
    Case(
        "API key rejected",
        lambda o, t, r: o.rotate_key(),
        "create",
        TenantStatus.PAUSED,
        PC,
        0,
        tenant="paused",
        heals="connection",
    ),
    Case(
        "unknown database",
        lambda o, t, r: _wrong_database(t),
        "create",
        TenantStatus.PAUSED,
        PC,
        0,
        tenant="paused",
        heals="connection",
    ),
    Case(
        "Odoo's own database down",
        lambda o, t, r: o.database_down_next(method=LOAD),
        "create",
        TenantStatus.UNREACHABLE,
        PC,
        0,
        tenant="unreachable",
    ),
    Case(
        "HTML maintenance page with 200",
        lambda o, t, r: o.reply_body_next(
            "<!DOCTYPE html><title>Maintenance</title>", content_type="text/html", method=LOAD
        ),
        "create",
        TenantStatus.UNREACHABLE,
        PC,
        0,
        tenant="unreachable",
    ),
    Case(
        "WAF 403 page",
        lambda o, t, r: o.reply_body_next(
            "<html><title>Blocked</title></html>",
            status=403,
            content_type="text/html",
            method=LOAD,
        ),
        "create",
        TenantStatus.UNREACHABLE,
        PC,
        0,
        tenant="unreachable",
    ),
    Case(
        "validation fault",
        lambda o, t, r: o.reply_body_next(
            _fault_xml(2, "The operation cannot be completed: invalid name"), method=WRITE
        ),
        "update",
        TenantStatus.OK,
        ERR,
        1,
        kind=ErrorKind.VALIDATION,
        heals="operator",
    ),
    Case(
        "access fault (on one register)",
        lambda o, t, r: o.reply_body_next(_fault_xml(4, ACCESS_TEXT), method=WRITE),
        "update",
        TenantStatus.OK,
        ERR,
        1,
        kind=ErrorKind.ACCESS,
        heals="operator",
    ),
    Case(
        "record deleted in Odoo",
        lambda o, t, r: o.delete_pos_config(r["update"].odoo_pos_config_id),
        "update",
        TenantStatus.OK,
        ERR,
        1,
        kind=ErrorKind.MISSING,
        heals="operator",
    ),
    Case(
        "serialization conflict",
        lambda o, t, r: o.serialization_failure_next(method=WRITE),
        "update",
        TenantStatus.OK,
        PU,
        1,
        kind=ErrorKind.TRANSIENT,
    ),
    Case(
        "open session refuses the archive (19.0)",
        lambda o, t, r: _archive_with_open_session(o, r),
        "update",
        TenantStatus.OK,
        PU,
        1,
        kind=ErrorKind.TRANSIENT,
        version="19.0",
    ),
    Case(
        "Odoo restarting mid-drain (connection reset after a row went through)",
        lambda o, t, r: o.drop_next("before", method=WRITE),
        "update",
        TenantStatus.ENDED_EARLY,
        PU,
        1,
        kind=ErrorKind.TRANSIENT,
    ),
]


def _point_at_nothing(tenant):
    import socket

    from odoo_sync import tenants

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    tenants.update_odoo_connection(tenant, url=f"http://127.0.0.1:{port}")


def _wrong_database(tenant):
    from odoo_sync import tenants

    tenants.update_odoo_connection(tenant, db="no-such-db")


def _archive_with_open_session(odoo, regs):
    reg = regs["update"]
    odoo.open_session(reg.odoo_pos_config_id)
    services.set_register_active(reg, active=False)


def _heal(case, odoo, tenant, regs):
    from odoo_sync import tenants

    odoo.clear_faults()
    if case.version == "19.0":
        odoo.close_session(regs["update"].odoo_pos_config_id)
    if case.heals == "connection":
        tenants.update_odoo_connection(
            tenant, url=odoo.url, db=odoo.db, login=odoo.login, api_key=odoo.api_key
        )
    if case.heals == "operator":
        services.retry_sync(PosConfig.objects.get(pk=regs[case.faulted].pk), operator=True)
    # The registers' own backoff has run out.
    PosConfig.objects.filter(sync_state__in=[PC, PU]).update(next_attempt_at=timezone.now())


@pytest.mark.parametrize("case", CASES, ids=[c.fault for c in CASES])
def test_fault_matrix(case, sandbox_tenant, odoo_sandbox, settings):
    settings.ODOO_CONNECT_TIMEOUT, settings.ODOO_READ_TIMEOUT = 0.5, 1.0
    odoo_sandbox.reset(version=case.version, api_key=sandbox_tenant.odoo_api_key)
    update = services.add_register(sandbox_tenant, name="Counter", prefix="C")
    assert drain_tenant(sandbox_tenant.pk).created == 1
    # A config Odoo had (onboarding): its update is a `write` by id, where the faults land.
    as_linked(update)
    if case.version != "19.0":
        services.rename_register(update, name="Counter North")
    create = services.add_register(sandbox_tenant, name="Terrace", prefix="T")
    regs = {"update": update, "create": create}
    case.inject(odoo_sandbox, sandbox_tenant, regs)

    result = drain_tenant(sandbox_tenant.pk)
    faulted = PosConfig.objects.get(pk=regs[case.faulted].pk)
    sandbox_tenant.refresh_from_db()
    assert result.status == case.drain, result
    assert (faulted.sync_state, faulted.sync_retries) == (case.state, case.retries)
    assert faulted.last_sync_error_kind == case.kind
    tenant_state = (
        "paused"
        if sandbox_tenant.odoo_paused_at
        else "unreachable"
        if sandbox_tenant.odoo_unreachable_since
        else "ok"
    )
    assert tenant_state == case.tenant
    assert not PosConfig.objects.filter(claim_token__isnull=False).exists()

    _heal(case, odoo_sandbox, sandbox_tenant, regs)
    for _ in range(3):
        drain_tenant(sandbox_tenant.pk, ignore_outage_backoff=True)
    for reg in PosConfig.objects.all():
        assert reg.sync_state == SyncState.SYNCED, (reg.name, reg.last_sync_error)
        odoo = odoo_sandbox.pos_config(reg.odoo_pos_config_id)
        assert (odoo["name"], odoo["active"]) == (reg.name, reg.is_active)
    xmlids = [x for x in odoo_sandbox.external_ids() if x["module"] == "regsync"]
    assert len(xmlids) == len({x["res_id"] for x in xmlids}) == 2  # one pos.config each
