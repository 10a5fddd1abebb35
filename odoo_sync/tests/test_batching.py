"""Batched Odoo calls: a batch's creates in one load, equal updates in one write, and one
bad row costing one row. Against the sandbox over HTTP."""

import pytest

from odoo_sync.drain import TenantStatus, drain_tenant
from odoo_sync.tests.harness import as_linked
from registers import services
from registers.models import ErrorKind, PosConfig, SyncState

pytestmark = pytest.mark.django_db(transaction=True)


def _add(tenant, *names):
    return [services.add_register(tenant, name=n, prefix=f"P{i}") for i, n in enumerate(names)]


def test_a_batchs_creates_go_in_one_load(sandbox_tenant, odoo_sandbox):
    _add(sandbox_tenant, "Bar", "Terrace", "Kiosk", "Patio")
    result = drain_tenant(sandbox_tenant.pk)
    assert (result.status, result.created) == (TenantStatus.OK, 4)
    assert odoo_sandbox.call_count("pos.config.load") == 1
    assert sorted(c["name"] for c in odoo_sandbox.pos_configs()) == [
        "Bar",
        "Kiosk",
        "Patio",
        "Terrace",
    ]


def test_equal_updates_share_one_write_and_a_rename_sends_only_the_name(
    sandbox_tenant, odoo_sandbox
):
    registers = _add(sandbox_tenant, "Bar", "Terrace", "Kiosk", "Patio")
    drain_tenant(sandbox_tenant.pk)
    as_linked(*registers)  # configs Odoo had: written by id
    for register in registers[:3]:
        register.refresh_from_db()
        services.set_register_active(register, active=False)
    patio = registers[3]
    patio.refresh_from_db()
    services.rename_register(patio, name="Garden")
    before = len(odoo_sandbox.mutations())
    result = drain_tenant(sandbox_tenant.pk)
    assert (result.status, result.updated) == (TenantStatus.OK, 4)
    assert odoo_sandbox.call_count("pos.config.write") == 2  # three deactivations, one rename
    written = odoo_sandbox.mutations()[before:]
    assert len(written) == 4  # each record written once
    configs = {c["name"]: c["active"] for c in odoo_sandbox.pos_configs()}
    assert configs == {"Bar": False, "Terrace": False, "Kiosk": False, "Garden": True}


def test_updates_of_configs_regsync_made_share_one_load_by_external_id_whatever_their_values(
    sandbox_tenant, odoo_sandbox
):
    registers = _add(sandbox_tenant, "Bar", "Terrace", "Kiosk")
    drain_tenant(sandbox_tenant.pk)
    for register in registers[:2]:
        register.refresh_from_db()
        services.set_register_active(register, active=False)
    kiosk = registers[2]
    kiosk.refresh_from_db()
    services.rename_register(kiosk, name="Garden")
    calls = odoo_sandbox.calls()
    result = drain_tenant(sandbox_tenant.pk)
    sent = {m: n - calls.get(m, 0) for m, n in odoo_sandbox.calls().items() if n != calls.get(m)}
    assert (result.status, result.updated) == (TenantStatus.OK, 3)
    assert {m: n for m, n in sent.items() if m.startswith("pos.config")} == {"pos.config.load": 1}
    configs = {c["name"]: c["active"] for c in odoo_sandbox.pos_configs()}
    assert configs == {"Bar": False, "Terrace": False, "Garden": True}
    assert len(odoo_sandbox.external_ids()) == 3  # none added


def test_one_bad_row_in_a_load_costs_that_row_only(sandbox_tenant, odoo_sandbox):
    registers = _add(sandbox_tenant, "Bar", "Terrace", "Kiosk")
    # Odoo's answer to a load it refused: ids False, a message naming row 1.
    odoo_sandbox.reply_body_next(
        "<?xml version='1.0'?><methodResponse><params><param><value><struct>"
        "<member><name>ids</name><value><boolean>0</boolean></value></member>"
        "<member><name>messages</name><value><array><data><value><struct>"
        "<member><name>type</name><value><string>error</string></value></member>"
        "<member><name>message</name><value><string>The name is not allowed</string></value>"
        "</member><member><name>record</name><value><int>1</int></value></member>"
        "<member><name>rows</name><value><struct>"
        "<member><name>from</name><value><int>1</int></value></member>"
        "<member><name>to</name><value><int>1</int></value></member>"
        "</struct></value></member></struct></value></data></array></value></member>"
        "</struct></value></param></params></methodResponse>",
        method="pos.config.load",
    )
    result = drain_tenant(sandbox_tenant.pk)
    assert (result.created, result.create_failed) == (2, 1)
    states = {r.name: (r.sync_state, r.last_sync_error_kind) for r in PosConfig.objects.all()}
    assert states["Terrace"] == (SyncState.SYNC_ERROR, ErrorKind.VALIDATION)
    assert states["Bar"][0] == states["Kiosk"][0] == SyncState.SYNCED
    assert sorted(c["name"] for c in odoo_sandbox.pos_configs()) == ["Bar", "Kiosk"]
    assert registers  # three added, one refused


def test_renames_share_one_load_by_database_id_and_write_each_record_once(
    sandbox_tenant, odoo_sandbox
):
    registers = _add(sandbox_tenant, "Bar", "Terrace", "Kiosk", "Patio")
    drain_tenant(sandbox_tenant.pk)
    as_linked(*registers)  # configs Odoo had: written by id
    for register in registers[:3]:
        register.refresh_from_db()
        services.rename_register(register, name=f"{register.name} 2")
    patio = registers[3]
    patio.refresh_from_db()
    services.set_register_active(patio, active=False)
    loads, before = odoo_sandbox.call_count("pos.config.load"), len(odoo_sandbox.mutations())
    result = drain_tenant(sandbox_tenant.pk)
    assert (result.status, result.updated) == (TenantStatus.OK, 4)
    # three renames (each its own name) in one load, the deactivation alone in one write
    assert odoo_sandbox.call_count("pos.config.load") - loads == 1
    assert odoo_sandbox.call_count("pos.config.write") == 1
    written = odoo_sandbox.mutations()[before:]
    assert sorted(m[1] for m in written) == ["load", "load", "load", "write"]
    assert len({m[0] for m in written}) == 4  # each record once
    assert {c["name"]: c["active"] for c in odoo_sandbox.pos_configs()} == {
        "Bar 2": True,
        "Terrace 2": True,
        "Kiosk 2": True,
        "Patio": False,
    }
    assert odoo_sandbox.external_ids() and len(odoo_sandbox.external_ids()) == 4  # none added
    assert set(PosConfig.objects.values_list("sync_state", flat=True)) == {SyncState.SYNCED}


@pytest.mark.parametrize("shared_call", ["write", "load"])
def test_a_record_deleted_in_odoo_costs_its_row_and_the_rest_of_the_shared_call_lands(
    sandbox_tenant, odoo_sandbox, shared_call
):
    """Deactivations share a `write`, renames a `load`; either way the deleted one is named."""
    registers = _add(sandbox_tenant, "Bar", "Terrace", "Kiosk")
    drain_tenant(sandbox_tenant.pk)
    as_linked(*registers)  # configs Odoo had: written by id
    suffix = " 2" if shared_call == "load" else ""
    for register in registers:
        register.refresh_from_db()
        if suffix:
            services.rename_register(register, name=register.name + suffix)
        else:
            services.set_register_active(register, active=False)
    odoo_sandbox.delete_pos_config(registers[1].odoo_pos_config_id)
    before = odoo_sandbox.call_count(f"pos.config.{shared_call}")
    result = drain_tenant(sandbox_tenant.pk)
    assert (result.updated, result.update_failed) == (2, 1)
    # the refused call, then one for the two others: never one call per row
    assert odoo_sandbox.call_count(f"pos.config.{shared_call}") - before == 2
    terrace = PosConfig.objects.get(name="Terrace" + suffix)
    assert (terrace.sync_state, terrace.last_sync_error_kind) == (
        SyncState.SYNC_ERROR,
        ErrorKind.MISSING,
    )
    assert "was deleted in Odoo" in terrace.last_sync_error
    assert {c["name"]: c["active"] for c in odoo_sandbox.pos_configs()} == {
        "Bar" + suffix: bool(suffix),
        "Kiosk" + suffix: bool(suffix),
    }


@pytest.mark.parametrize("shared_call", ["write", "load"])
def test_a_row_odoo_refuses_in_a_shared_call_costs_that_row_only(
    sandbox_tenant, odoo_sandbox, shared_call
):
    """Four deactivations share a `write`, halved until the row at fault is found; four
    renames that also archive share a `load`, where Odoo names the row."""
    odoo_sandbox.reset(version="19.0", api_key=sandbox_tenant.odoo_api_key)
    registers = _add(sandbox_tenant, "Bar", "Terrace", "Kiosk", "Patio")
    drain_tenant(sandbox_tenant.pk)
    as_linked(*registers)  # configs Odoo had: written by id
    suffix = " 2" if shared_call == "load" else ""
    for register in registers:
        register.refresh_from_db()
        if suffix:
            services.rename_register(register, name=register.name + suffix)
            register.refresh_from_db()
        services.set_register_active(register, active=False)
    kiosk = PosConfig.objects.get(name="Kiosk" + suffix)
    odoo_sandbox.open_session(kiosk.odoo_pos_config_id)  # 19.0 refuses to archive it
    before = odoo_sandbox.call_count(f"pos.config.{shared_call}")
    result = drain_tenant(sandbox_tenant.pk)
    assert (result.status, result.updated, result.update_failed) == (TenantStatus.OK, 3, 1)
    assert odoo_sandbox.call_count(f"pos.config.{shared_call}") > before
    kiosk.refresh_from_db()
    assert (kiosk.sync_state, kiosk.sync_retries) == (SyncState.PENDING_UPDATE, 1)  # retried later
    assert {c["name"]: c["active"] for c in odoo_sandbox.pos_configs()} == {
        "Bar" + suffix: False,
        "Terrace" + suffix: False,
        "Kiosk": True,
        "Patio" + suffix: False,
    }


def test_an_edit_back_while_a_write_is_in_flight_is_written_again(sandbox_tenant, odoo_sandbox):
    """Odoo holds what an unrecorded write left, so the next write sends every value again."""
    from odoo_sync.drain import open_drain

    [bar] = _add(sandbox_tenant, "Bar")
    drain_tenant(sandbox_tenant.pk)
    bar.refresh_from_db()
    services.rename_register(bar, name="Espresso")
    drain = open_drain(sandbox_tenant.pk)
    with drain:
        assert drain.login() and drain.claim_batch()
        claim = drain.next_claim()
        outcome = drain.call(claim)  # Odoo now says "Espresso"
        bar.refresh_from_db()
        services.rename_register(bar, name="Bar")  # back, before the write is recorded
        drain.record(claim, outcome)  # superseded
        drain.end_batch()
    drain_tenant(sandbox_tenant.pk)
    bar.refresh_from_db()
    assert bar.sync_state == SyncState.SYNCED
    assert odoo_sandbox.pos_config(bar.odoo_pos_config_id)["name"] == "Bar"
