"""Onboarding: a create links to the config Odoo already has under the register's name.

Against the sandbox over HTTP: one match is linked (no second record), several
wait for an operator, and configs that are another register's are never taken.
"""

from datetime import timedelta

import pytest
from freezegun import freeze_time

from cafe.tests.factories import tenant_on
from odoo_sync.drain import TenantStatus, drain_tenant, open_drain
from registers import services
from registers.models import ErrorKind, PosConfig, SyncState

pytestmark = pytest.mark.django_db(transaction=True)


def _reload(register):
    register.refresh_from_db()
    return register


def test_a_single_config_of_the_same_name_is_linked_not_duplicated(sandbox_tenant, odoo_sandbox):
    existing = odoo_sandbox.create_pos_config("  terrace ", active=False)  # case, spaces, archived
    register = services.add_register(sandbox_tenant, name="Terrace", prefix="TER")
    drain_tenant(sandbox_tenant.pk)
    register = _reload(register)
    assert register.odoo_pos_config_id == existing
    assert register.sync_state == SyncState.SYNCED  # local truth written next, same drain
    assert [(c["id"], c["name"], c["active"]) for c in odoo_sandbox.pos_configs()] == [
        (existing, "Terrace", True)
    ]
    xmlid = "regsync.register_" + register.uuid.hex
    assert any(
        f"{x['module']}.{x['name']}" == xmlid and x["res_id"] == existing
        for x in odoo_sandbox.external_ids()
    )
    # Its history says it took that config, not that it made one (issue 23).
    history = [(e.action, e.detail) for e in register.events.order_by("id")]
    assert ("linked_existing", f"pos.config {existing} '  terrace ' (found by name)") in history
    assert "create_landed" not in {action for action, _ in history}


def test_a_register_created_in_odoo_is_recorded_as_created(sandbox_tenant, odoo_sandbox):
    register = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    drain_tenant(sandbox_tenant.pk)
    register = _reload(register)
    assert register.events.first().action == "create_landed"
    assert register.events.first().detail == f"pos.config {register.odoo_pos_config_id} 'Bar'"


def test_every_create_looks_not_only_the_first_drain(sandbox_tenant, odoo_sandbox):
    first = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    drain_tenant(sandbox_tenant.pk)
    later = odoo_sandbox.create_pos_config("Patio")  # made in Odoo's back office meanwhile
    patio = services.add_register(sandbox_tenant, name="Patio", prefix="PAT")
    drain_tenant(sandbox_tenant.pk)
    assert _reload(patio).odoo_pos_config_id == later
    assert len(odoo_sandbox.pos_configs()) == 2
    assert _reload(first).sync_state == SyncState.SYNCED


def test_one_lookup_for_the_whole_batch_and_every_name_in_it_is_linked(
    sandbox_tenant, odoo_sandbox
):
    existing = {name: odoo_sandbox.create_pos_config(name) for name in ["Bar", "Terrace", "Kiosk"]}
    registers = [
        services.add_register(sandbox_tenant, name=name, prefix=f"P{n}")
        for n, name in enumerate(existing)
    ]
    result = drain_tenant(sandbox_tenant.pk)
    assert (result.created, result.create_failed) == (3, 0)
    assert odoo_sandbox.call_count("pos.config.search_read") == 1
    assert {r.name: _reload(r).odoo_pos_config_id for r in registers} == existing
    assert len(odoo_sandbox.pos_configs()) == 3  # three found, none created


def test_registers_added_together_each_link_to_their_config(sandbox_tenant, odoo_sandbox):
    """Issue 21: only the batch's first create was looked up; Terrace Two got a second config."""
    garden = odoo_sandbox.create_pos_config("Garden")
    terrace = odoo_sandbox.create_pos_config("Terrace Two")
    first = services.add_register(sandbox_tenant, name="Garden", prefix="GAR")
    second = services.add_register(sandbox_tenant, name="Terrace Two", prefix="TER")
    drain_tenant(sandbox_tenant.pk)
    assert (_reload(first).odoo_pos_config_id, _reload(second).odoo_pos_config_id) == (
        garden,
        terrace,
    )
    assert _reload(second).sync_state == SyncState.SYNCED
    assert len(odoo_sandbox.pos_configs()) == 2


def test_a_register_named_like_two_configs_waits_though_not_first_in_its_batch(
    sandbox_tenant, odoo_sandbox
):
    one = odoo_sandbox.create_pos_config("Lounge")
    two = odoo_sandbox.create_pos_config("lounge ")
    services.add_register(sandbox_tenant, name="Bar", prefix="BAR")  # the batch's first create
    lounge = services.add_register(sandbox_tenant, name="Lounge", prefix="LOU")
    result = drain_tenant(sandbox_tenant.pk)
    lounge = _reload(lounge)
    assert (result.created, result.create_failed) == (1, 1)
    assert (lounge.sync_state, lounge.last_sync_error_kind) == (
        SyncState.SYNC_ERROR,
        ErrorKind.AMBIGUOUS,
    )
    assert [c["id"] for c in lounge.odoo_link_candidates] == [one, two]
    assert sorted(c["name"] for c in odoo_sandbox.pos_configs()) == ["Bar", "Lounge", "lounge "]


# Odoo's name, then the register's: equal for name_key, not for Odoo's ILIKE.
UNICODE_TWINS = [
    ("Straße", "STRASSE"),  # casefold, not lower
    ("GROSSE HALLE", "Große Halle"),
    ("MAIN  BAR", "Main Bar"),  # a whitespace run is one space
    ("Cafe\u0301", "Café"),  # NFD in Odoo, NFC in regsync
    (
        "\u039f\u0394\u039f\u03a3 \u00bd",
        "\u03bf\u03b4\u03bf\u03c2\u00a0\u00bd",
    ),  # Greek, final sigma; no-break space
]


def test_names_equal_but_for_casefold_spaces_or_normal_form_link_in_one_lookup(
    sandbox_tenant, odoo_sandbox_any_version
):
    odoo = odoo_sandbox_any_version
    existing = [odoo.create_pos_config(name) for name, _ in UNICODE_TWINS]
    registers = [
        services.add_register(sandbox_tenant, name=name, prefix=f"P{n}")
        for n, (_, name) in enumerate(UNICODE_TWINS)
    ]
    result = drain_tenant(sandbox_tenant.pk)
    assert (result.created, result.create_failed) == (len(UNICODE_TWINS), 0)
    assert [_reload(r).odoo_pos_config_id for r in registers] == existing
    assert len(odoo.pos_configs()) == len(UNICODE_TWINS)
    assert odoo.call_count("pos.config.search_read") == 1


def test_a_drain_stepped_row_by_row_looks_up_the_same_way(sandbox_tenant, odoo_sandbox):
    existing = [odoo_sandbox.create_pos_config(name) for name, _ in UNICODE_TWINS[:3]]
    registers = [
        services.add_register(sandbox_tenant, name=name, prefix=f"P{n}")
        for n, (_, name) in enumerate(UNICODE_TWINS[:3])
    ]
    with open_drain(sandbox_tenant.pk) as drain:
        assert drain.login() and drain.claim_batch()
        while (claim := drain.next_claim()) is not None:
            assert drain.record(claim, drain.call(claim))
        drain.end_batch()
        drain.finish()
    assert [_reload(r).odoo_pos_config_id for r in registers] == existing
    assert odoo_sandbox.call_count("pos.config.search_read") == 1


def test_a_config_another_tenant_on_the_same_odoo_linked_is_not_taken(sandbox_tenant, odoo_sandbox):
    """Issue 21: linked without an external id, only regsync knows whose it is."""
    odoo_sandbox.as_integration_user()  # no Access Rights: links hold by Odoo id alone
    config = odoo_sandbox.create_pos_config("Terrace")
    theirs = services.add_register(sandbox_tenant, name="Terrace", prefix="TER")
    drain_tenant(sandbox_tenant.pk)
    assert _reload(theirs).odoo_pos_config_id == config
    # Another tenant on the same server and database, its URL written another way.
    neighbour = tenant_on(odoo_sandbox, odoo_url=odoo_sandbox.url.upper() + "/")
    ours = services.add_register(neighbour, name="Terrace", prefix="TER")
    drain_tenant(neighbour.pk)
    ours = _reload(ours)
    assert ours.sync_state == SyncState.SYNCED
    assert ours.odoo_pos_config_id != config  # its own, new
    # The first tenant's rename reaches its config only.
    services.rename_register(_reload(theirs), name="Garden")
    drain_tenant(sandbox_tenant.pk)
    assert odoo_sandbox.pos_config(config)["name"] == "Garden"
    assert odoo_sandbox.pos_config(ours.odoo_pos_config_id)["name"] == "Terrace"


def test_two_tenants_on_one_odoo_linking_at_once_never_take_the_same_config(
    sandbox_tenant, odoo_sandbox
):
    """Both drains found "Terrace" free; one links it, the other waits uncharged and creates.

    Tenants sharing an Odoo link one drain at a time (odoo_sync.locks.odoo_lock):
    the second drain's lookup comes after the first one's link is recorded.
    """
    odoo_sandbox.as_integration_user()  # no Access Rights: nothing in Odoo says whose it is
    config = odoo_sandbox.create_pos_config("Terrace")
    neighbour = tenant_on(odoo_sandbox)
    theirs = services.add_register(sandbox_tenant, name="Terrace", prefix="TER")
    ours = services.add_register(neighbour, name="Terrace", prefix="TER")

    first = open_drain(sandbox_tenant.pk)
    assert first.login() and first.claim_batch()
    sent = first.call_batch(first.take_batch())  # linked, not recorded yet
    with open_drain(neighbour.pk) as second:
        assert second.login() and second.claim_batch()
        [(_, waiting)] = second.call_batch(second.take_batch())
        assert waiting.error is not None  # not sent: the first drain is linking
        for claim, outcome in [(_, waiting)]:
            second.record(claim, outcome)
        second.end_batch()
        assert not second.claim_batch()
        second.finish()
    assert second.result.status == TenantStatus.BUSY
    ours = _reload(ours)
    assert (ours.sync_state, ours.sync_retries, ours.odoo_pos_config_id) == (
        SyncState.PENDING_CREATE,
        0,
        None,
    )
    with first:
        for claim, outcome in sent:
            first.record(claim, outcome)
        first.end_batch()
        first.finish()
    assert _reload(theirs).odoo_pos_config_id == config

    drain_tenant(neighbour.pk)
    ours = _reload(ours)
    assert ours.sync_state == SyncState.SYNCED
    assert ours.odoo_pos_config_id not in (None, config)  # a config of its own
    assert len(odoo_sandbox.pos_configs()) == 2


def test_a_register_of_another_odoo_with_the_same_id_takes_nothing_here(
    sandbox_tenant, odoo_sandbox, odoo_sandbox_factory
):
    elsewhere = odoo_sandbox_factory()
    config = odoo_sandbox.create_pos_config("Terrace")
    other_config = elsewhere.create_pos_config("Terrace")
    assert other_config == config  # the same id, in another Odoo
    other = tenant_on(elsewhere)
    services.add_register(other, name="Terrace", prefix="TER")
    drain_tenant(other.pk)
    register = services.add_register(sandbox_tenant, name="Terrace", prefix="TER")
    drain_tenant(sandbox_tenant.pk)
    assert _reload(register).odoo_pos_config_id == config
    assert len(odoo_sandbox.pos_configs()) == 1


def test_without_access_rights_the_link_holds_by_its_odoo_id(sandbox_tenant, odoo_sandbox, caplog):
    odoo_sandbox.as_integration_user()  # Point of Sale / Administrator only
    existing = odoo_sandbox.create_pos_config("Terrace")
    register = services.add_register(sandbox_tenant, name="Terrace", prefix="TER")
    result = drain_tenant(sandbox_tenant.pk)
    assert result.status == TenantStatus.OK
    register = _reload(register)
    assert (register.sync_state, register.odoo_pos_config_id) == (SyncState.SYNCED, existing)
    assert len(odoo_sandbox.pos_configs()) == 1
    assert "without regsync's external id" in caplog.text


def test_several_matches_wait_for_an_operator_and_nothing_is_created(sandbox_tenant, odoo_sandbox):
    one = odoo_sandbox.create_pos_config("Terrace")
    two = odoo_sandbox.create_pos_config("TERRACE", active=False)
    register = services.add_register(sandbox_tenant, name="Terrace", prefix="TER")
    drain_tenant(sandbox_tenant.pk)
    register = _reload(register)
    assert register.sync_state == SyncState.SYNC_ERROR
    assert register.last_sync_error_kind == ErrorKind.AMBIGUOUS
    assert f"{one} 'Terrace'" in register.last_sync_error
    assert f"{two} 'TERRACE' (archived)" in register.last_sync_error
    assert [c["id"] for c in register.odoo_link_candidates] == [one, two]
    assert len(odoo_sandbox.pos_configs()) == 2  # nothing created, nothing linked

    # The operator picks the archived one: it is linked, and local truth is written to it.
    services.link_register_to_odoo(register, odoo_pos_config_id=two, actor="ops")
    drain_tenant(sandbox_tenant.pk)
    register = _reload(register)
    assert (register.sync_state, register.odoo_pos_config_id) == (SyncState.SYNCED, two)
    assert not register.odoo_link_unconfirmed
    assert odoo_sandbox.pos_config(two)["name"] == "Terrace"
    assert odoo_sandbox.pos_config(two)["active"] is True
    assert any(x["res_id"] == two and x["module"] == "regsync" for x in odoo_sandbox.external_ids())


def test_force_create_makes_a_new_config_whatever_the_names(sandbox_tenant, odoo_sandbox):
    odoo_sandbox.create_pos_config("Terrace")
    odoo_sandbox.create_pos_config("terrace")
    register = services.add_register(sandbox_tenant, name="Terrace", prefix="TER")
    drain_tenant(sandbox_tenant.pk)
    services.force_create_in_odoo(_reload(register), actor="ops")
    drain_tenant(sandbox_tenant.pk)
    register = _reload(register)
    assert register.sync_state == SyncState.SYNCED
    assert len(odoo_sandbox.pos_configs()) == 3
    assert register.odoo_create_matches_name  # a later create (after a move) matches again


def test_another_registers_config_is_never_a_candidate(sandbox_tenant, odoo_sandbox):
    bar = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    drain_tenant(sandbox_tenant.pk)
    services.set_register_active(_reload(bar), active=False)
    drain_tenant(sandbox_tenant.pk)
    # Another tenant's register in the same Odoo, and a config carrying its external id.
    odoo_sandbox.create_pos_config("Bar", xmlid="regsync.register_" + "f" * 32)
    again = services.add_register(sandbox_tenant, name="Bar", prefix="BAR2")
    drain_tenant(sandbox_tenant.pk)
    again = _reload(again)
    assert again.sync_state == SyncState.SYNCED
    assert again.odoo_pos_config_id not in (_reload(bar).odoo_pos_config_id,)
    assert len(odoo_sandbox.pos_configs()) == 3  # created its own


def test_a_lost_reply_after_the_create_is_found_again_by_its_external_id(
    sandbox_tenant, odoo_sandbox
):
    register = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    odoo_sandbox.drop_next("after", method="pos.config.load")
    drain_tenant(sandbox_tenant.pk, ignore_outage_backoff=True)
    drain_tenant(sandbox_tenant.pk, ignore_outage_backoff=True)
    assert _reload(register).sync_state == SyncState.SYNCED
    assert len(odoo_sandbox.pos_configs()) == 1  # its own, not an ambiguous pair


def test_a_register_back_on_an_odoo_it_used_before_finds_its_own_config_under_an_older_name(
    sandbox_tenant, odoo_sandbox
):
    """Its own config (by external id) wins over another config carrying its new name."""
    register = services.add_register(sandbox_tenant, name="Garden", prefix="GAR")
    own = odoo_sandbox.create_pos_config(
        "Terrace",
        xmlid="regsync.register_" + register.uuid.hex,  # its name before a rename
    )
    namesake = odoo_sandbox.create_pos_config("Garden")  # made in Odoo's back office
    result = drain_tenant(sandbox_tenant.pk)
    register = _reload(register)
    assert (result.created, result.create_failed) == (1, 0)
    assert (register.sync_state, register.odoo_pos_config_id) == (SyncState.SYNCED, own)
    assert odoo_sandbox.pos_config(own)["name"] == "Garden"
    assert odoo_sandbox.pos_config(namesake)["name"] == "Garden"  # untouched, not linked
    xmlids = {f"{x['module']}.{x['name']}": x["res_id"] for x in odoo_sandbox.external_ids()}
    assert xmlids == {"regsync.register_" + register.uuid.hex: own}


def _move(tenant, odoo):
    from odoo_sync import tenants

    return tenants.update_odoo_connection(
        tenant, url=odoo.url, db=odoo.db, login=odoo.login, api_key=odoo.api_key
    )


def test_a_tenant_moved_to_another_odoo_looks_its_ambiguous_registers_up_again_there(
    sandbox_tenant, odoo_sandbox, odoo_sandbox_factory
):
    """Candidates and an operator's "create a new one" are the Odoo's the tenant left: after a
    move they mean nothing, and an operator's pick from a page opened before it is refused
    (the same id in the new Odoo is another config)."""
    odoo_sandbox.create_pos_config("Terrace")
    odoo_sandbox.create_pos_config("terrace")
    odoo_sandbox.create_pos_config("Garden")
    odoo_sandbox.create_pos_config("GARDEN")
    terrace = services.add_register(sandbox_tenant, name="Terrace", prefix="TER")
    garden = services.add_register(sandbox_tenant, name="Garden", prefix="GAR")
    drain_tenant(sandbox_tenant.pk)
    terrace, garden = _reload(terrace), _reload(garden)
    assert terrace.last_sync_error_kind == garden.last_sync_error_kind == ErrorKind.AMBIGUOUS
    page_revision = sandbox_tenant.odoo_connection_revision
    old_pick = terrace.odoo_link_candidates[0]["id"]
    services.force_create_in_odoo(garden, actor="ops")  # decided on the old Odoo's configs

    new_odoo = odoo_sandbox_factory()
    filler = new_odoo.create_pos_config("Somebody else's till")  # the old pick's id, here
    assert filler == old_pick
    theirs = new_odoo.create_pos_config("GARDEN ")  # one config named like Garden
    _move(sandbox_tenant, new_odoo)

    terrace, garden = _reload(terrace), _reload(garden)
    for register in (terrace, garden):
        assert register.sync_state == SyncState.PENDING_CREATE
        assert register.odoo_link_candidates == []
        assert register.odoo_create_matches_name  # looked up again in the new Odoo
    with pytest.raises(services.NotAmbiguous):
        services.link_register_to_odoo(
            terrace, odoo_pos_config_id=old_pick, expected_connection_revision=page_revision
        )

    drain_tenant(sandbox_tenant.pk)
    terrace, garden = _reload(terrace), _reload(garden)
    assert (garden.sync_state, garden.odoo_pos_config_id) == (SyncState.SYNCED, theirs)
    assert terrace.sync_state == SyncState.SYNCED
    assert terrace.odoo_pos_config_id not in (filler, theirs)  # made anew: nothing named so
    assert new_odoo.pos_config(filler)["name"] == "Somebody else's till"
    assert sorted(c["name"] for c in new_odoo.pos_configs()) == [
        "Garden",
        "Somebody else's till",
        "Terrace",
    ]


def test_an_operators_pick_from_a_page_opened_before_a_move_is_refused_even_when_ambiguous_again(
    sandbox_tenant, odoo_sandbox, odoo_sandbox_factory
):
    odoo_sandbox.create_pos_config("Terrace")
    odoo_sandbox.create_pos_config("terrace")
    register = services.add_register(sandbox_tenant, name="Terrace", prefix="TER")
    drain_tenant(sandbox_tenant.pk)
    page_revision = sandbox_tenant.odoo_connection_revision
    old_pick = _reload(register).odoo_link_candidates[0]["id"]
    new_odoo = odoo_sandbox_factory()
    new_odoo.create_pos_config("TERRACE")
    new_odoo.create_pos_config("Terrace ")
    _move(sandbox_tenant, new_odoo)
    drain_tenant(sandbox_tenant.pk)
    register = _reload(register)
    assert register.last_sync_error_kind == ErrorKind.AMBIGUOUS  # ambiguous again, there
    assert old_pick in [c["id"] for c in register.odoo_link_candidates]  # same number
    with pytest.raises(services.NotAmbiguous, match="connection changed"):
        services.link_register_to_odoo(
            register, odoo_pos_config_id=old_pick, expected_connection_revision=page_revision
        )
    with pytest.raises(services.NotAmbiguous, match="connection changed"):
        services.force_create_in_odoo(register, expected_connection_revision=page_revision)
    assert _reload(register).sync_state == SyncState.SYNC_ERROR


def test_a_link_recorded_after_the_lock_ran_out_never_takes_a_config_another_tenant_linked(
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
    assert linking == 1, "two registers of two tenants link one pos.config"
    ours = _reload(ours)
    assert (ours.sync_state, ours.sync_retries, ours.claim_token) == (
        SyncState.PENDING_CREATE,
        0,
        None,
    )  # given back, uncharged: its next lookup sees the neighbour's link
    assert ours.sync_attempts.get().outcome == "superseded"
