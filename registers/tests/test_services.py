"""Register operations and the guard rails of queue_odoo_update (DESIGN.md, Operations)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from freezegun import freeze_time

from cafe.tests.factories import TenantFactory
from registers import services
from registers.models import PosConfig, RegisterEvent, SyncState
from registers.tests.factories import PosConfigFactory

pytestmark = pytest.mark.django_db

NOW = "2026-11-24 10:00:00"


# --- add_register ------------------------------------------------------------


@freeze_time(NOW)
def test_add_register_of_sync_enabled_tenant_is_pending_create_and_due_now():
    tenant = TenantFactory(pro=True)
    reg = services.add_register(tenant, name="  Bar  ", prefix="BAR")
    reg.refresh_from_db()
    assert (reg.name, reg.sequence_prefix) == ("Bar", "BAR")
    assert reg.sync_state == SyncState.PENDING_CREATE
    assert reg.next_attempt_at == timezone.now()
    assert reg.odoo_pos_config_id is None


def test_add_register_of_starter_tenant_is_synced_with_no_odoo_id():
    reg = services.add_register(TenantFactory(), name="Bar", prefix="BAR")
    reg.refresh_from_db()
    assert reg.sync_state == SyncState.SYNCED
    assert reg.odoo_pos_config_id is None
    assert reg.next_attempt_at is None


@pytest.mark.parametrize(
    "tenant_kwargs",
    [
        {"plan": "pro"},  # Pro with no connection
        {"pro": True, "odoo_api_key": ""},  # connection incomplete
        {"pro": True, "odoo_paused_at": timezone.now()},  # credentials rejected
    ],
)
def test_add_register_of_pro_tenant_that_cannot_sync_stays_local(tenant_kwargs):
    reg = services.add_register(TenantFactory(**tenant_kwargs), name="Bar", prefix="BAR")
    assert reg.sync_state == SyncState.SYNCED
    assert reg.odoo_pos_config_id is None


# --- validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
        ("x" * 65, "65 characters long; at most 64"),
        ("Bar\nTwo", "line breaks"),
        ("Bar\x00", "control characters (U+0000)"),
        ("Bar\u202egpj.exe", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("Ba\u200br", "U+200B ZERO WIDTH SPACE"),
        ("Bar \ufffd", "not valid UTF-8"),
        ("<b>Bar</b>", "cannot contain < or >"),
        ("B\u0430r", "mixes Cyrillic and Latin letters that look alike (U+0430"),
    ],
)
def test_bad_register_name_is_rejected_and_nothing_written(name, message):
    tenant = TenantFactory(pro=True)
    with pytest.raises(ValidationError) as exc:
        services.add_register(tenant, name=name, prefix="BAR")
    assert message in str(exc.value.message_dict["name"])
    assert not PosConfig.objects.exists()


def test_name_that_looks_like_an_active_register_of_the_tenant_is_refused():
    tenant = TenantFactory()
    services.add_register(tenant, name="BAKE", prefix="BK")
    # All Cyrillic (not mixed): only the comparison with the existing name catches it.
    lookalike = "\u0412\u0410\u041a\u0415"
    with pytest.raises(ValidationError) as exc:
        services.add_register(tenant, name=lookalike, prefix="BK2")
    assert "looks like the active register 'BAKE'" in exc.value.message_dict["name"][0]
    assert PosConfig.objects.count() == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [("Straße", "STRASSE"), ("Main Bar", "Main  Bar"), ("Caf\u00e9", "Cafe\u0301")],
)
def test_a_name_onboarding_calls_equal_to_an_active_register_is_refused(first, second):
    """One config in Odoo could be taken for either: the tenant may have only one of them."""
    tenant = TenantFactory()
    services.add_register(tenant, name=first, prefix="A")
    with pytest.raises(ValidationError) as exc:
        services.add_register(tenant, name=second, prefix="B")
    message = exc.value.message_dict["name"][0]
    assert "but for case, spacing or Unicode form" in message or "already exists" in message
    assert PosConfig.objects.count() == 1


def test_look_alike_of_an_inactive_or_other_tenants_register_is_a_new_name():
    lookalike = "\u0412\u0410\u041a\u0415"
    archived = PosConfigFactory(name="BAKE", is_active=False)
    elsewhere = PosConfigFactory(name="BAKE")
    for tenant in (archived.tenant, TenantFactory()):
        assert services.add_register(tenant, name=lookalike, prefix="BK").name == lookalike
    assert elsewhere.tenant.registers.count() == 1


def test_rename_to_bad_name_keeps_old_name_and_state():
    reg = PosConfigFactory(pushed=True, name="Bar")
    with pytest.raises(ValidationError):
        services.rename_register(reg, name=" ")
    reg.refresh_from_db()
    assert (reg.name, reg.sync_state) == ("Bar", SyncState.SYNCED)


@pytest.mark.parametrize("prefix", ["", "bar", "BAR-1", "ABCDEFGHIJK", "B R"])
def test_prefix_that_is_not_a_short_uppercase_token_is_rejected(prefix):
    with pytest.raises(ValidationError) as exc:
        services.add_register(TenantFactory(), name="Bar", prefix=prefix)
    assert "uppercase letters or digits" in str(exc.value.message_dict["sequence_prefix"])
    assert not PosConfig.objects.exists()


def test_duplicate_active_name_in_tenant_is_rejected_case_insensitively():
    tenant = TenantFactory()
    services.add_register(tenant, name="Bar", prefix="BAR")
    with pytest.raises(ValidationError) as exc:
        services.add_register(tenant, name="bar", prefix="BAR2")
    assert "already exists" in str(exc.value.message_dict["name"])
    assert PosConfig.objects.count() == 1


def test_same_name_is_allowed_in_another_tenant_and_beside_an_archived_register():
    tenant = TenantFactory()
    old = services.add_register(tenant, name="Bar", prefix="BAR")
    services.set_register_active(old, active=False)
    services.add_register(tenant, name="Bar", prefix="BAR")
    services.add_register(TenantFactory(), name="Bar", prefix="BAR")
    assert PosConfig.objects.filter(name="Bar").count() == 3


def test_reactivating_into_a_name_clash_is_rejected():
    tenant = TenantFactory()
    old = services.add_register(tenant, name="Bar", prefix="BAR")
    services.set_register_active(old, active=False)
    services.add_register(tenant, name="Bar", prefix="BAR")
    with pytest.raises(ValidationError):
        services.set_register_active(old, active=True)
    old.refresh_from_db()
    assert old.is_active is False


def test_renaming_onto_an_active_name_is_rejected():
    tenant = TenantFactory()
    services.add_register(tenant, name="Bar", prefix="BAR")
    other = services.add_register(tenant, name="Terrace", prefix="TER")
    with pytest.raises(ValidationError):
        services.rename_register(other, name="BAR")


# --- rename / set active: queue_odoo_update guard rails ----------------------------


@freeze_time(NOW)
def test_rename_of_synced_pushed_register_queues_update_with_retries_reset():
    reg = PosConfigFactory(pushed=True, name="Bar", sync_retries=2, last_sync_error="old")
    reg = services.rename_register(reg, name="Bar North")
    reg.refresh_from_db()
    assert reg.name == "Bar North"
    assert reg.sync_state == SyncState.PENDING_UPDATE
    assert reg.sync_retries == 0
    assert reg.last_sync_error == ""
    assert reg.next_attempt_at == timezone.now()
    assert reg.revision == 1


@freeze_time(NOW)
def test_deactivating_synced_pushed_register_queues_update():
    reg = PosConfigFactory(pushed=True)
    services.set_register_active(reg, active=False)
    reg.refresh_from_db()
    assert reg.is_active is False
    assert reg.sync_state == SyncState.PENDING_UPDATE
    assert reg.next_attempt_at == timezone.now()


def test_rename_of_pending_update_register_requeues_due_now_with_fresh_attempts():
    with freeze_time(NOW):
        reg = PosConfigFactory(
            pushed=True,
            sync_state=SyncState.PENDING_UPDATE,
            sync_retries=3,
            next_attempt_at=timezone.now() + timedelta(minutes=15),
        )
    with freeze_time("2026-11-24 10:01:00"):
        services.rename_register(reg, name="Renamed")
        reg.refresh_from_db()
        assert reg.sync_state == SyncState.PENDING_UPDATE
        assert reg.sync_retries == 0
        assert reg.next_attempt_at == timezone.now()


def test_rename_of_pending_create_register_leaves_the_create_signal_alone():
    reg = PosConfigFactory(pending_create=True, sync_retries=2)
    services.rename_register(reg, name="Renamed")
    services.set_register_active(reg, active=False)
    reg.refresh_from_db()
    assert reg.sync_state == SyncState.PENDING_CREATE
    assert reg.sync_retries == 2
    assert (reg.name, reg.is_active) == ("Renamed", False)


def test_rename_of_starter_register_without_odoo_id_is_local_only():
    reg = PosConfigFactory()
    services.rename_register(reg, name="Renamed")
    services.set_register_active(reg, active=False)
    reg.refresh_from_db()
    assert reg.sync_state == SyncState.SYNCED
    assert reg.odoo_pos_config_id is None


@freeze_time(NOW)
def test_rename_of_dead_lettered_update_requeues_with_fresh_attempts():
    reg = PosConfigFactory(dead_update=True, last_sync_error_kind="exhausted")
    services.rename_register(reg, name="Renamed")
    reg.refresh_from_db()
    assert reg.sync_state == SyncState.PENDING_UPDATE
    assert reg.sync_retries == 0
    assert (reg.last_sync_error, reg.last_sync_error_kind) == ("", "")
    assert reg.next_attempt_at == timezone.now()


def test_edit_of_dead_lettered_create_is_left_for_the_operator():
    reg = PosConfigFactory(dead_create=True)
    services.rename_register(reg, name="Renamed")
    services.set_register_active(reg, active=False)
    reg.refresh_from_db()
    assert reg.sync_state == SyncState.SYNC_ERROR
    assert reg.sync_retries == 5
    assert reg.last_sync_error == "Odoo unreachable"


def test_prefix_change_never_flips_the_sync_state():
    reg = PosConfigFactory(pushed=True)
    services.set_register_prefix(reg, prefix="NEW1")
    reg.refresh_from_db()
    assert reg.sequence_prefix == "NEW1"
    assert reg.sync_state == SyncState.SYNCED
    assert reg.next_attempt_at is None


def test_unchanged_name_or_active_is_not_queued():
    reg = PosConfigFactory(pushed=True, name="Bar")
    services.rename_register(reg, name=" Bar ")
    services.set_register_active(reg, active=True)
    reg.refresh_from_db()
    assert reg.sync_state == SyncState.SYNCED
    assert reg.revision == 0


def test_each_edit_and_transition_is_recorded_in_the_register_history():
    reg = PosConfigFactory(pushed=True, name="Bar")
    services.rename_register(reg, name="Bar North")
    actions = list(RegisterEvent.objects.filter(register=reg).values_list("action", "to_state"))
    assert ("renamed", "") in actions
    assert ("edited", SyncState.PENDING_UPDATE) in actions


# --- retry_sync (the operator's "Retry sync now") -------------------------------------


@pytest.mark.parametrize(
    ("traits", "operator", "outcome", "state"),
    [
        ({"dead_update": True}, False, "queued_update", SyncState.PENDING_UPDATE),
        ({"dead_create": True}, False, "needs_operator", SyncState.SYNC_ERROR),
        ({"dead_create": True}, True, "queued_create", SyncState.PENDING_CREATE),
        ({"pending_create": True, "sync_retries": 2}, False, "retried", SyncState.PENDING_CREATE),
        ({"pending_create": True}, True, "nothing_to_retry", SyncState.PENDING_CREATE),
        ({"pushed": True}, True, "nothing_to_retry", SyncState.SYNCED),
    ],
)
def test_retry_sync_follows_its_plan(traits, operator, outcome, state):
    reg = PosConfigFactory(**traits)
    assert services.plan_retry(reg, operator=operator) == outcome
    assert services.retry_sync(reg, operator=operator) == outcome
    reg.refresh_from_db()
    assert reg.sync_state == state
    if outcome not in ("needs_operator", "nothing_to_retry"):
        assert (reg.sync_retries, reg.last_sync_error) == (0, "")


def test_retry_of_a_register_deleted_in_odoo_drops_the_stale_id_for_operators_only():
    reg = PosConfigFactory(dead_update=True, last_sync_error_kind="missing")
    assert services.retry_sync(reg, operator=False) == "needs_operator"
    assert services.retry_sync(reg, operator=True) == "recreate"
    reg.refresh_from_db()
    assert (reg.sync_state, reg.odoo_pos_config_id) == (SyncState.PENDING_CREATE, None)


def test_queueing_a_register_tells_listeners_once_the_transaction_commits(
    django_capture_on_commit_callbacks,
):
    from registers.signals import registers_queued

    heard = []

    def listener(sender, *, tenant_id, **kwargs):
        heard.append(tenant_id)

    registers_queued.connect(listener)
    try:
        tenant = TenantFactory(pro=True)
        with django_capture_on_commit_callbacks(execute=True):
            services.add_register(tenant, name="Bar", prefix="BAR")
            assert heard == []  # not before the commit: a worker would not see the row
        assert heard == [tenant.pk]
        local = TenantFactory()
        with django_capture_on_commit_callbacks(execute=True):
            services.add_register(local, name="Kiosk", prefix="K")
        assert heard == [tenant.pk]  # a Starter register queues nothing
    finally:
        registers_queued.disconnect(listener)


# --- onboarding: an operator settles an ambiguous create ------------------------------------


def test_linking_an_ambiguous_register_stores_the_pick_and_queues_local_truth():
    register = PosConfigFactory(ambiguous=True, name="Bar")
    services.link_register_to_odoo(register, odoo_pos_config_id=9, actor="ops")
    register.refresh_from_db()
    assert (register.sync_state, register.odoo_pos_config_id) == (SyncState.PENDING_UPDATE, 9)
    assert register.odoo_link_unconfirmed  # the external id is attached by the next write
    assert register.odoo_link_candidates == []
    event = register.events.first()
    assert (event.action, event.actor) == ("linked_by_operator", "ops")


def test_a_link_to_a_config_that_was_not_found_or_is_taken_is_refused():
    register = PosConfigFactory(ambiguous=True, name="Bar")
    with pytest.raises(ValidationError, match="not one of the configs found"):
        services.link_register_to_odoo(register, odoo_pos_config_id=8)
    PosConfigFactory(tenant=register.tenant, pushed=True, name="Other", odoo_pos_config_id=7)
    with pytest.raises(ValidationError, match="already the register 'Other'"):
        services.link_register_to_odoo(register, odoo_pos_config_id=7)
    register.refresh_from_db()
    assert register.sync_state == SyncState.SYNC_ERROR


def test_force_create_queues_a_create_that_does_not_match_names():
    register = PosConfigFactory(ambiguous=True)
    services.force_create_in_odoo(register, actor="ops")
    register.refresh_from_db()
    assert register.sync_state == SyncState.PENDING_CREATE
    assert register.odoo_create_matches_name is False
    assert register.events.first().action == "forced_create"


def test_only_an_ambiguous_register_can_be_linked_or_force_created():
    register = PosConfigFactory(dead_create=True)
    with pytest.raises(services.NotAmbiguous):
        services.force_create_in_odoo(register)
    with pytest.raises(services.NotAmbiguous):
        services.link_register_to_odoo(register, odoo_pos_config_id=7)


# --- the drift audit's decisions: accept Odoo's value, adopt a config -----------------------


def test_accepting_odoos_name_that_is_no_register_name_as_it_is_is_refused():
    register = PosConfigFactory(pushed=True, name="Bar")
    with pytest.raises(ValidationError, match="Odoo's name ' Bar ' cannot be a register's name"):
        services.accept_odoo_value(
            register,
            odoo_id=register.odoo_pos_config_id,
            field="name",
            was="Bar",
            odoo_name=" Bar ",
            odoo_active=True,
        )
    register.refresh_from_db()
    assert (register.name, register.events.count()) == ("Bar", 0)


def test_accepting_odoos_archive_takes_the_flag_and_keeps_the_register_in_step():
    register = PosConfigFactory(pushed=True, name="Bar")
    services.accept_odoo_value(
        register,
        odoo_id=register.odoo_pos_config_id,
        field="active",
        was=True,
        odoo_name="Bar",
        odoo_active=False,
        actor="ops",
    )
    register.refresh_from_db()
    assert (register.is_active, register.sync_state) == (False, SyncState.SYNCED)
    assert (register.odoo_name, register.odoo_active, register.revision) == ("Bar", False, 1)
    assert [e.action for e in register.events.all()] == ["odoo_value_accepted", "deactivated"]


def _adopt(tenant, **kwargs):
    values = {
        "odoo_id": 7,
        "name": "Pop-up",
        "active": True,
        "prefix": "POP",
        "connection_revision": tenant.odoo_connection_revision,
        "actor": "ops",
    }
    return services.adopt_odoo_config(tenant, **(values | kwargs))


def test_an_adopted_config_is_a_linked_register_whose_link_the_next_write_confirms():
    tenant = TenantFactory(pro=True)
    register = _adopt(tenant)
    assert (register.sync_state, register.odoo_pos_config_id) == (SyncState.PENDING_UPDATE, 7)
    assert register.odoo_link_unconfirmed
    assert (register.odoo_name, register.odoo_active) == ("Pop-up", True)  # nothing to write
    assert register.events.get().action == "adopted"


def test_a_config_is_not_adopted_for_a_tenant_that_moved_or_stopped_syncing_or_twice():
    tenant = TenantFactory(pro=True)
    with pytest.raises(ValidationError, match="changed since the audit"):
        _adopt(tenant, connection_revision=tenant.odoo_connection_revision + 1)
    with pytest.raises(ValidationError, match="does not sync to Odoo now"):
        _adopt(TenantFactory())
    neighbour = TenantFactory(
        pro=True, odoo_url=tenant.odoo_url, odoo_db=tenant.odoo_db, name="Neighbour"
    )
    PosConfigFactory(tenant=neighbour, name="Kiosk", odoo_pos_config_id=7)
    with pytest.raises(
        ValidationError,
        match=r"pos\.config 7 is already linked to the register 'Kiosk' of Neighbour",
    ):
        _adopt(tenant)
    assert tenant.registers.count() == 0
