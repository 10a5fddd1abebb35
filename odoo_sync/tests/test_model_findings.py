"""Bugs the onboarding model (test_model_onboarding.py) found on main, one minimal test each.

FOUND BY THE MODEL: each test not fixed yet is marked xfail(strict=True) with the
seed that found it, so `make test` stays green until the fix lands; the fix removes
the mark (strict: an unexpected pass fails the run).
"""

from datetime import timedelta

import pytest
from freezegun import freeze_time

from cafe.tests.factories import tenant_on
from odoo_sync.drain import drain_tenant, open_drain
from registers import services
from registers.models import PosConfig

pytestmark = pytest.mark.django_db(transaction=True)


# Model finding C (MODEL_SEED=20310505, example 6), fixed on main (bbfacdc).
def test_a_link_is_not_recorded_once_another_tenant_could_take_the_onboarding_lock(
    settings, sandbox_tenant, odoo_sandbox
):
    """DESIGN 13 and 15: never one config linked to two registers; a drain never runs on
    after another drain could take over. The first drain stalls between Odoo's answer
    and its record for longer than its leases (SYNC_CLAIM_SECONDS): the second tenant's
    drain takes the Odoo's onboarding lock and links the same config."""
    settings.SYNC_LOCK_BACKEND = "db"  # leases on the frozen clock
    odoo_sandbox.as_integration_user()  # no Access Rights: linked by Odoo id only
    config = odoo_sandbox.create_pos_config("Garden")
    neighbour = tenant_on(odoo_sandbox)
    ours = services.add_register(sandbox_tenant, name="Garden", prefix="G")
    theirs = services.add_register(neighbour, name="Garden", prefix="G")
    with freeze_time("2031-05-05 09:00:00") as clock:
        first = open_drain(sandbox_tenant.pk)
        assert first.login() and first.claim_batch()
        sent = first.call_batch(first.take_batch())
        assert [o.odoo_id for _, o in sent] == [config]  # decided, not recorded
        clock.tick(timedelta(seconds=settings.SYNC_CLAIM_SECONDS + 1))  # the worker stalls
        with open_drain(neighbour.pk) as second:
            assert second.login() and second.claim_batch()
            for claim, outcome in second.call_batch(second.take_batch()):
                second.record(claim, outcome)
            second.end_batch()
            second.finish()
        with first:
            for claim, outcome in sent:
                first.record(claim, outcome)
            first.end_batch()
            first.finish()
    linking = PosConfig.objects.filter(
        pk__in=[ours.pk, theirs.pk], odoo_pos_config_id=config
    ).count()
    assert linking <= 1, "two registers of two tenants link one pos.config"


@pytest.mark.xfail(
    strict=True,
    reason="model finding D (HYPOTHESIS_PROFILE=fuzz MODEL_SEED=2883358435): without Access "
    "Rights a create links a namesake although Odoo holds the register's own config",
)
def test_without_access_rights_a_register_back_on_its_odoo_never_links_a_namesake(
    sandbox_tenant, odoo_sandbox
):
    """DESIGN 13: never two configs for one register. The register's own config (its
    external id, an older name: it was renamed while its tenant pointed elsewhere) is in
    Odoo; a config made by hand carries its new name. With Access Rights the link's
    external id clashes and the upsert finds its own config
    (test_onboarding.py::test_a_register_back_on_an_odoo_it_used_before_finds_its_own_config_under_an_older_name);
    without them the namesake is linked by id, and the register has two configs."""
    odoo_sandbox.as_integration_user()
    register = services.add_register(sandbox_tenant, name="Garden", prefix="GAR")
    own = odoo_sandbox.create_pos_config("Terrace", xmlid="regsync.register_" + register.uuid.hex)
    odoo_sandbox.create_pos_config("Garden")  # made in Odoo's back office
    drain_tenant(sandbox_tenant.pk)
    register.refresh_from_db()
    assert register.odoo_pos_config_id == own


@pytest.mark.xfail(
    strict=True,
    reason="model finding D, second form (MODEL_SEED=1974494872): a register whose own "
    "config is in Odoo under an older name waits ambiguous among namesakes",
)
def test_a_register_whose_own_config_is_in_odoo_never_waits_among_namesakes(
    sandbox_tenant, odoo_sandbox
):
    """DESIGN 13. With two namesakes in Odoo the register waits `ambiguous`, though Odoo
    holds its own config (its external id, an older name); the operator's pick then
    links a second config to it."""
    register = services.add_register(sandbox_tenant, name="Garden", prefix="GAR")
    own = odoo_sandbox.create_pos_config("Terrace", xmlid="regsync.register_" + register.uuid.hex)
    odoo_sandbox.create_pos_config("Garden")
    odoo_sandbox.create_pos_config("garden")
    drain_tenant(sandbox_tenant.pk)
    register.refresh_from_db()
    assert register.odoo_pos_config_id == own, register.last_sync_error
