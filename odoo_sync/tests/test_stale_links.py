"""A stale link is never written through (DESIGN.md property 14): Odoo restored from a backup.

A restore brings back Odoo's id sequences, so the id a register holds may be
handed to another register's config. An update of a config regsync made goes
by the register's external id (born with the record), so it writes the
register's own record or makes it again; an update of a config a register was
linked to (onboarding, or an operator's pick) is written by id only once a
read shows it carries no other register's external id. Against the sandbox
over HTTP.
"""

import pytest

from cafe.tests.factories import tenant_on
from odoo_sync.drain import drain_tenant
from odoo_sync.models import SyncAttempt
from registers import services
from registers.models import SyncState, odoo_external_id

pytestmark = pytest.mark.django_db(transaction=True)


def _reload(register):
    register.refresh_from_db()
    return register


def _xid(register) -> str:
    return ".".join(odoo_external_id(register.uuid))


def _holder(odoo, xid: str) -> int | None:
    return next(
        (x["res_id"] for x in odoo.external_ids() if f"{x['module']}.{x['name']}" == xid), None
    )


def _restored_and_id_handed_out_again(tenant, odoo, *, name="Bar"):
    """`name` synced, then Odoo restored to a backup from before it, and a neighbour on the
    same database given the id the register holds."""
    backup = odoo.backup()
    register = services.add_register(tenant, name=name, prefix="BAR")
    drain_tenant(tenant.pk)
    register = _reload(register)
    assert register.sync_state == SyncState.SYNCED
    odoo.restore_backup(backup)
    neighbour = tenant_on(odoo)
    terrace = services.add_register(neighbour, name="Terrace", prefix="TER")
    drain_tenant(neighbour.pk)
    terrace = _reload(terrace)
    assert terrace.odoo_pos_config_id == register.odoo_pos_config_id  # the id came again
    return register, terrace


def test_a_rename_of_a_config_regsync_made_goes_by_its_external_id_never_onto_anothers(
    sandbox_tenant, odoo_sandbox
):
    bar, terrace = _restored_and_id_handed_out_again(sandbox_tenant, odoo_sandbox)
    assert bar.odoo_made_by_regsync
    stale = bar.odoo_pos_config_id
    services.rename_register(bar, name="Bar North")
    before = odoo_sandbox.calls()
    drain_tenant(sandbox_tenant.pk)
    after = odoo_sandbox.calls()

    assert odoo_sandbox.pos_config(stale)["name"] == "Terrace"  # the neighbour's, untouched
    bar = _reload(bar)
    assert bar.sync_state == SyncState.SYNCED
    assert bar.odoo_pos_config_id != stale
    assert bar.odoo_pos_config_id == _holder(odoo_sandbox, _xid(bar))
    assert odoo_sandbox.pos_config(bar.odoo_pos_config_id)["name"] == "Bar North"
    # One round trip: the load by external id (the restore lost Bar's record: made again).
    sent = {m: after.get(m, 0) - before.get(m, 0) for m in after}
    assert {m: n for m, n in sent.items() if n and m.startswith("pos.config")} == {
        "pos.config.load": 1
    }
    assert _reload(terrace).odoo_pos_config_id == stale  # the neighbour keeps its link
    assert "is not" in bar.events.first().detail


def test_renames_of_several_configs_regsync_made_share_one_load_and_each_lands_on_its_own(
    sandbox_tenant, odoo_sandbox
):
    bar, _ = _restored_and_id_handed_out_again(sandbox_tenant, odoo_sandbox)
    patio = services.add_register(sandbox_tenant, name="Patio", prefix="PAT")
    drain_tenant(sandbox_tenant.pk)
    patio = _reload(patio)
    services.rename_register(bar, name="Bar North")
    services.rename_register(patio, name="Patio South")
    before = odoo_sandbox.calls().get("pos.config.load", 0)
    drain_tenant(sandbox_tenant.pk)
    assert odoo_sandbox.calls().get("pos.config.load", 0) - before == 1
    names = {c["id"]: c["name"] for c in odoo_sandbox.pos_configs()}
    for register, name in ((bar, "Bar North"), (patio, "Patio South")):
        register = _reload(register)
        assert register.sync_state == SyncState.SYNCED
        assert names[register.odoo_pos_config_id] == name
        assert _holder(odoo_sandbox, _xid(register)) == register.odoo_pos_config_id
    assert "Terrace" in names.values()


def test_a_linked_config_carrying_another_registers_external_id_is_not_written(
    sandbox_tenant, odoo_sandbox
):
    """Linked by onboarding (the config was Odoo's before regsync): after the restore its id
    names the neighbour's config; the drain reads that and creates the register again."""
    bar, terrace = _restored_and_id_handed_out_again(sandbox_tenant, odoo_sandbox)
    # Make Bar's link one that onboarding made (a config Odoo had), not one regsync made.
    type(bar).objects.filter(pk=bar.pk).update(odoo_made_by_regsync=False)
    stale = bar.odoo_pos_config_id
    services.rename_register(_reload(bar), name="Bar North")
    drain_tenant(sandbox_tenant.pk)

    assert odoo_sandbox.pos_config(stale)["name"] == "Terrace"
    bar = _reload(bar)
    assert bar.sync_state == SyncState.SYNCED
    assert bar.odoo_pos_config_id not in (None, stale)
    assert odoo_sandbox.pos_config(bar.odoo_pos_config_id)["name"] == "Bar North"
    attempt = SyncAttempt.objects.filter(register=bar, action="update").latest("pk")
    assert attempt.outcome == SyncAttempt.Outcome.RELINKED
    assert _xid(terrace) in attempt.error
    assert _reload(terrace).odoo_pos_config_id == stale


def test_a_config_linked_by_onboarding_is_written_by_id_after_a_read_of_its_external_ids(
    sandbox_tenant, odoo_sandbox
):
    existing = odoo_sandbox.create_pos_config("Garden")
    garden = services.add_register(sandbox_tenant, name="Garden", prefix="GAR")
    drain_tenant(sandbox_tenant.pk)
    garden = _reload(garden)
    assert (garden.odoo_pos_config_id, garden.odoo_made_by_regsync) == (existing, False)
    services.rename_register(garden, name="Garden East")
    before = odoo_sandbox.calls()
    drain_tenant(sandbox_tenant.pk)
    after = odoo_sandbox.calls()
    sent = {m: after.get(m, 0) - before.get(m, 0) for m in after}
    assert {m: n for m, n in sent.items() if n and m.startswith("pos.config")} == {
        "pos.config.get_metadata": 1,
        "pos.config.write": 1,
    }
    assert odoo_sandbox.pos_config(existing)["name"] == "Garden East"
    assert len(odoo_sandbox.pos_configs()) == 1
