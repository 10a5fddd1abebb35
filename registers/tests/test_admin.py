"""The registers admin: list, change and add forms, actions, and who may touch which register."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from cafe.tests.clients import logged_in
from cafe.tests.factories import TenantFactory, TenantStaffFactory
from registers import services
from registers.models import ErrorKind, PosConfig, RegisterEvent, SyncState
from registers.tests.factories import PosConfigFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:registers_posconfig_changelist")
ADD = reverse("admin:registers_posconfig_add")


def change_url(register):
    return reverse("admin:registers_posconfig_change", args=[register.pk])


def retry_url(register):
    return reverse("admin:registers_posconfig_retry", args=[register.pk])


@pytest.fixture
def pro_tenant():
    return TenantFactory(pro=True, name="Acme Coffee")


@pytest.fixture
def staff(pro_tenant):
    return TenantStaffFactory(tenants=[pro_tenant])


def change_data(register, **overrides):
    """The change form as the page posts it for `register` (its revision included)."""
    data = {
        "name": register.name,
        "sequence_prefix": register.sequence_prefix,
        "revision": register.revision,
        "_save": "Save",
    }
    if register.is_active:
        data["is_active"] = "on"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def form_values(response, **edits):
    """What the change page's form posts as it was rendered, with the user's `edits`."""
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in ("name", "sequence_prefix", "revision")}
    if form["is_active"].value():
        data["is_active"] = "on"
    data["_save"] = "Save"
    data.update(edits)
    return {k: v for k, v in data.items() if v is not None}


def action(client, action_name, registers, **extra):
    data = {"action": action_name, "_selected_action": [r.pk for r in registers], **extra}
    return client.post(CHANGELIST, data)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- the list ----------------------------------------------------------------------------


@freeze_time("2026-03-02 10:00:00")
def test_list_shows_badge_odoo_id_retries_next_attempt_and_trimmed_error(operator):
    register = PosConfigFactory(
        pushed=True,
        name="Terrace",
        sync_state=SyncState.PENDING_UPDATE,
        sync_retries=2,
        next_attempt_at=timezone.now() + timedelta(minutes=4),
        last_sync_error="OdooUnreachableError: timed out after 20 s\nTraceback line 2",
    )
    html = logged_in(operator).get(CHANGELIST).content.decode()
    assert "regsync-badge--pending_update" in html
    assert "Pending update" in html
    assert str(register.odoo_pos_config_id) in html
    assert "in 4 min" in html
    assert "OdooUnreachableError: timed out after 20 s …" in html
    assert "Traceback line 2" in html  # kept in full in the hover title


def test_list_puts_dead_letters_first_then_rows_waiting_to_retry(operator):
    tenant = TenantFactory(pro=True)
    synced = PosConfigFactory(pushed=True, tenant=tenant, name="A synced")
    retrying = PosConfigFactory(
        pushed=True,
        tenant=tenant,
        name="B retrying",
        sync_state=SyncState.PENDING_UPDATE,
        sync_retries=1,
        next_attempt_at=timezone.now(),
    )
    dead = PosConfigFactory(dead_update=True, tenant=tenant, name="C dead")
    response = logged_in(operator).get(CHANGELIST, {"tenant__id__exact": tenant.pk})
    shown = list(response.context["cl"].result_list)
    assert shown == [dead, retrying, synced]


def test_search_finds_by_name_and_exact_odoo_id(operator):
    bar = PosConfigFactory(pushed=True, name="Bar", odoo_pos_config_id=4242)
    terrace = PosConfigFactory(pushed=True, name="Terrace")
    client = logged_in(operator)
    by_name = client.get(CHANGELIST, {"q": "terr"}).context["cl"].result_list
    by_id = client.get(CHANGELIST, {"q": "4242"}).context["cl"].result_list
    assert list(by_name) == [terrace]
    assert list(by_id) == [bar]
    assert client.get(CHANGELIST, {"q": "not-a-number"}).status_code == 200


def test_search_finds_a_tenants_registers_by_its_name_within_what_the_user_sees(staff, operator):
    acme_bar = PosConfigFactory(tenant=staff.memberships.get().tenant, name="Bar")
    harbour = TenantFactory(pro=True, name="Harbour Roasters")
    harbour_bar = PosConfigFactory(tenant=harbour, name="Bar 2")
    by_tenant = logged_in(operator).get(CHANGELIST, {"q": "harbour roast"}).context["cl"]
    assert list(by_tenant.result_list) == [harbour_bar]
    assert list(logged_in(staff).get(CHANGELIST, {"q": "acme"}).context["cl"].result_list) == [
        acme_bar
    ]
    assert list(logged_in(staff).get(CHANGELIST, {"q": "harbour"}).context["cl"].result_list) == []


def test_live_states_answer_only_for_registers_the_user_sees(staff, pro_tenant):
    own = services.add_register(pro_tenant, name="Bar", prefix="BAR")
    other = PosConfigFactory(tenant=TenantFactory(pro=True), name="Elsewhere")
    live = reverse("admin:registers_posconfig_live")
    answer = logged_in(staff).get(live, {"ids": f"{own.pk},{other.pk},x", "view": "list"})
    assert answer["Cache-Control"].startswith("max-age=0")
    [(pk, row)] = answer.json()["registers"].items()
    assert (pk, row["pending"]) == (str(own.pk), True)
    assert set(row["cells"]) == {"sync_badge", "odoo_id", "retries", "next_attempt", "last_error"}
    assert "Pending create" in row["cells"]["sync_badge"]
    page = logged_in(staff).get(live, {"ids": str(own.pk), "view": "page"}).json()
    assert "Added" in page["registers"][str(own.pk)]["cells"]["history"]
    assert Client().get(live, {"ids": str(own.pk)}).status_code == 302  # the login page


def test_filters_by_tenant_sync_state_and_active(operator):
    tenant = TenantFactory(pro=True)
    dead = PosConfigFactory(dead_update=True, tenant=tenant)
    inactive = PosConfigFactory(pushed=True, tenant=tenant, is_active=False)
    PosConfigFactory(pushed=True)  # another tenant's
    client = logged_in(operator)

    def shown(**params):
        return set(client.get(CHANGELIST, params).context["cl"].result_list)

    assert shown(tenant__id__exact=tenant.pk) == {dead, inactive}
    assert shown(sync_state__exact="sync_error") == {dead}
    assert shown(is_active__exact="0") == {inactive}


# --- the change and add forms ----------------------------------------------------------------


def test_change_form_renames_through_the_service_and_queues_odoo(operator):
    register = PosConfigFactory(pushed=True, name="Bar")
    response = logged_in(operator).post(change_url(register), change_data(register, name="Bar 2"))
    assert response.status_code == 302
    register.refresh_from_db()
    assert register.name == "Bar 2"
    assert register.sync_state == SyncState.PENDING_UPDATE
    assert register.revision == 1
    assert RegisterEvent.objects.filter(register=register, action="renamed").exists()


def test_change_form_ignores_posted_sync_columns(operator):
    register = PosConfigFactory(dead_update=True)
    data = change_data(
        register, sync_state="synced", sync_retries="0", odoo_pos_config_id="1", last_sync_error=""
    )
    logged_in(operator).post(change_url(register), data)
    register.refresh_from_db()
    assert register.sync_state == SyncState.SYNC_ERROR
    assert register.sync_retries == 5
    assert register.odoo_pos_config_id != 1


def test_change_form_shows_service_validation_as_field_error_and_saves_nothing(operator):
    register = PosConfigFactory(pushed=True, name="Bar", sequence_prefix="BAR")
    response = logged_in(operator).post(
        change_url(register), change_data(register, name="Renamed", sequence_prefix="bar-1")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Sequence prefix must be 1 to 10 uppercase letters" in errors["sequence_prefix"][0]
    register.refresh_from_db()
    # One transaction: the rename that preceded the refused prefix was rolled back.
    assert (register.name, register.sync_state) == ("Bar", SyncState.SYNCED)


def test_change_form_refuses_a_second_active_register_with_the_same_name(operator):
    tenant = TenantFactory(pro=True)
    PosConfigFactory(pushed=True, tenant=tenant, name="Bar")
    other = PosConfigFactory(pushed=True, tenant=tenant, name="Terrace")
    response = logged_in(operator).post(change_url(other), change_data(other, name="bar"))
    assert response.status_code == 200
    assert "already exists" in response.context["adminform"].form.errors["name"][0]


def test_change_form_renames_and_deactivates_in_one_save(operator):
    register = PosConfigFactory(pushed=True, name="Terrace")
    response = logged_in(operator).post(
        change_url(register), change_data(register, name="Old terrace", is_active=None)
    )
    assert response.status_code == 302
    register.refresh_from_db()
    assert (register.name, register.is_active) == ("Old terrace", False)
    assert register.sync_state == SyncState.PENDING_UPDATE
    assert register.revision == 2


def test_change_form_prefix_change_stays_local(operator):
    register = PosConfigFactory(pushed=True, sequence_prefix="BAR")
    logged_in(operator).post(change_url(register), change_data(register, sequence_prefix="BAR2"))
    register.refresh_from_db()
    assert register.sequence_prefix == "BAR2"
    assert register.sync_state == SyncState.SYNCED


def test_a_stale_form_saving_only_the_prefix_does_not_revert_a_colleagues_rename(operator):
    register = PosConfigFactory(pushed=True, name="Bar", sequence_prefix="BAR")
    client = logged_in(operator)
    stale = form_values(client.get(change_url(register)))
    services.rename_register(register, name="Espresso bar", actor="colleague")
    register.refresh_from_db()
    after_rename = (register.revision, register.sync_state, register.next_attempt_at)
    events = list(RegisterEvent.objects.values_list("pk", flat=True))

    response = client.post(change_url(register), {**stale, "sequence_prefix": "BAR2"})

    assert response.status_code == 200
    [error] = response.context["adminform"].form.non_field_errors()
    assert "renamed 'Bar' -> 'Espresso bar' by colleague" in error
    assert "Nothing was saved" in error
    assert "by colleague" in response.content.decode()
    register.refresh_from_db()
    assert (register.name, register.sequence_prefix) == ("Espresso bar", "BAR")
    # Nothing written: no rename back, no prefix, no update queued, no revision.
    assert list(RegisterEvent.objects.values_list("pk", flat=True)) == events
    assert (register.revision, register.sync_state, register.next_attempt_at) == after_rename


def test_after_a_stale_refusal_the_re_rendered_form_saves_the_change_made_again(operator):
    register = PosConfigFactory(pushed=True, name="Bar", sequence_prefix="BAR")
    client = logged_in(operator)
    stale = form_values(client.get(change_url(register)))
    services.rename_register(register, name="Espresso bar", actor="colleague")
    refused = client.post(change_url(register), {**stale, "sequence_prefix": "BAR2"})

    shown = form_values(refused)
    register.refresh_from_db()
    assert (shown["name"], shown["sequence_prefix"], int(shown["revision"])) == (
        "Espresso bar",
        "BAR",
        register.revision,
    )
    saved = client.post(change_url(register), {**shown, "sequence_prefix": "BAR2"})

    assert saved.status_code == 302
    register.refresh_from_db()
    assert (register.name, register.sequence_prefix) == ("Espresso bar", "BAR2")
    assert register.revision == int(stale["revision"]) + 2


def test_a_fresh_form_saves_only_what_changed_and_a_prefix_change_queues_nothing(operator):
    register = PosConfigFactory(pushed=True, name="Bar", sequence_prefix="BAR")
    client = logged_in(operator)
    opened = form_values(client.get(change_url(register)))

    response = client.post(change_url(register), {**opened, "sequence_prefix": "BAR2"})

    assert response.status_code == 302
    register.refresh_from_db()
    assert (register.name, register.sequence_prefix) == ("Bar", "BAR2")
    assert (register.sync_state, register.next_attempt_at) == (SyncState.SYNCED, None)
    assert register.revision == 1
    actions = RegisterEvent.objects.filter(register=register).values_list("action", flat=True)
    assert list(actions) == ["prefix_changed"]


def test_saving_the_change_form_unchanged_writes_nothing(operator):
    register = PosConfigFactory(pushed=True, name="Bar", sequence_prefix="BAR")
    client = logged_in(operator)
    response = client.post(change_url(register), form_values(client.get(change_url(register))))
    assert response.status_code == 302
    register.refresh_from_db()
    assert (register.revision, register.sync_state) == (0, SyncState.SYNCED)
    assert not RegisterEvent.objects.exists()


def test_a_change_form_posted_without_its_revision_is_refused(operator):
    register = PosConfigFactory(pushed=True, name="Bar")
    response = logged_in(operator).post(
        change_url(register), change_data(register, name="Espresso bar", revision=None)
    )
    assert response.status_code == 200
    [error] = response.context["adminform"].form.non_field_errors()
    assert "does not say which version" in error
    register.refresh_from_db()
    assert (register.name, register.revision) == ("Bar", 0)


def test_change_page_shows_full_last_error(operator):
    error = "OdooValidationError: " + "x" * 200 + "\nsecond line"
    register = PosConfigFactory(
        dead_update=True, last_sync_error=error, last_sync_error_kind=ErrorKind.VALIDATION
    )
    html = logged_in(operator).get(change_url(register)).content.decode()
    assert "x" * 200 + "\nsecond line" in html
    assert "Rejected by Odoo" in html


def test_add_form_adds_through_the_service_as_pending_create(operator, pro_tenant):
    response = logged_in(operator).post(
        ADD, {"tenant": pro_tenant.pk, "name": " Kiosk ", "sequence_prefix": "KIO", "_save": "1"}
    )
    assert response.status_code == 302
    register = PosConfig.objects.get(tenant=pro_tenant)
    assert (register.name, register.sync_state) == ("Kiosk", SyncState.PENDING_CREATE)
    assert RegisterEvent.objects.filter(register=register, action="added").exists()


def test_add_form_shows_bad_prefix_as_field_error(operator, pro_tenant):
    response = logged_in(operator).post(
        ADD, {"tenant": pro_tenant.pk, "name": "Kiosk", "sequence_prefix": "k 1", "_save": "1"}
    )
    assert response.status_code == 200
    assert (
        "uppercase letters or digits"
        in response.context["adminform"].form.errors["sequence_prefix"][0]
    )
    assert not PosConfig.objects.exists()


# --- actions ---------------------------------------------------------------------------------


def test_deactivate_asks_first_and_changes_nothing_until_confirmed(operator):
    register = PosConfigFactory(pushed=True)
    response = action(logged_in(operator), "deactivate_selected", [register])
    assert response.status_code == 200
    assert b"Yes, deactivate" in response.content
    assert b'name="confirm"' in response.content
    register.refresh_from_db()
    assert register.is_active


def test_deactivate_selected_queues_only_registers_that_exist_in_odoo(operator):
    tenant = TenantFactory(pro=True)
    pushed = PosConfigFactory.create_batch(3, pushed=True, tenant=tenant)
    local = PosConfigFactory(tenant=tenant)  # never created in Odoo
    response = action(logged_in(operator), "deactivate_selected", [*pushed, local], confirm="yes")
    assert response.status_code == 302
    for register in pushed:
        register.refresh_from_db()
        assert (register.is_active, register.sync_state) == (False, SyncState.PENDING_UPDATE)
    local.refresh_from_db()
    assert (local.is_active, local.sync_state) == (False, SyncState.SYNCED)


def test_deactivate_message_counts_queued_and_local(operator):
    tenant = TenantFactory(pro=True)
    pushed = PosConfigFactory.create_batch(3, pushed=True, tenant=tenant)
    local = PosConfigFactory(tenant=tenant)
    client = logged_in(operator)
    client.post(
        CHANGELIST,
        {
            "action": "deactivate_selected",
            "_selected_action": [r.pk for r in [*pushed, local]],
            "confirm": "yes",
        },
    )
    text = messages_of(client.get(CHANGELIST))
    assert text == [
        "Deactivated: 3 registers queued for Odoo, 1 register saved here only (no Odoo id yet)."
    ]


def test_reactivate_leaves_a_name_clash_alone_with_the_reason(operator):
    tenant = TenantFactory(pro=True)
    PosConfigFactory(pushed=True, tenant=tenant, name="Bar")
    archived = PosConfigFactory(pushed=True, tenant=tenant, name="bar", is_active=False)
    client = logged_in(operator)
    action(client, "reactivate_selected", [archived], confirm="yes")
    archived.refresh_from_db()
    assert not archived.is_active
    [text] = messages_of(client.get(CHANGELIST))
    assert "1 left alone: An active register named 'bar' already exists" in text


def rename_page_values(response, **edits) -> dict:
    """What the Rename… page's form posts as it was rendered (its revision too), with `edits`."""
    form = response.context["form"]
    return {"name": form["name"].value(), "revision": form["revision"].value(), **edits}


def test_rename_action_shows_a_form_then_renames_one_register(operator):
    register = PosConfigFactory(pushed=True, name="Bar")
    client = logged_in(operator)
    form_page = action(client, "rename_action", [register])
    assert form_page.status_code == 200
    assert b'name="name"' in form_page.content
    assert b'<input type="hidden" name="revision" value="0"' in form_page.content
    register.refresh_from_db()
    assert register.name == "Bar"

    typed = rename_page_values(form_page, name="Espresso bar")
    done = action(client, "rename_action", [register], confirm="yes", **typed)
    assert done.status_code == 302
    register.refresh_from_db()
    assert (register.name, register.sync_state) == ("Espresso bar", SyncState.PENDING_UPDATE)
    assert messages_of(client.get(CHANGELIST)) == [
        "Renamed 'Bar' to 'Espresso bar': queued for Odoo."
    ]


def test_rename_action_shows_service_errors_on_its_form(operator):
    register = PosConfigFactory(pushed=True, name="Bar")
    response = action(
        logged_in(operator), "rename_action", [register], confirm="yes", name="Bar\tTab", revision=0
    )
    assert response.status_code == 200
    assert "cannot contain line breaks or tabs" in response.context["form"].errors["name"][0]
    register.refresh_from_db()
    assert register.name == "Bar"


def test_a_rename_page_posted_without_its_revision_is_refused(operator):
    register = PosConfigFactory(pushed=True, name="Bar")
    client = logged_in(operator)
    response = action(client, "rename_action", [register], confirm="yes", name="Espresso bar")
    assert response.status_code == 200
    [error] = response.context["form"].non_field_errors()
    assert "does not say which version" in error
    assert response.context["form"]["name"].value() == "Espresso bar"
    register.refresh_from_db()
    assert (register.name, register.revision) == ("Bar", 0)


def test_rename_action_needs_exactly_one_register(operator):
    first, second = PosConfigFactory.create_batch(2, pushed=True)
    client = logged_in(operator)
    response = action(client, "rename_action", [first, second], confirm="yes", name="X")
    assert response.status_code == 302
    assert messages_of(client.get(CHANGELIST)) == ["Select exactly one register to rename."]
    first.refresh_from_db()
    assert first.name != "X"


def test_retry_sync_requeues_dead_and_backing_off_rows_and_explains_the_rest(operator):
    tenant = TenantFactory(pro=True)
    dead = PosConfigFactory(dead_update=True, tenant=tenant)
    backing_off = PosConfigFactory(
        pushed=True,
        tenant=tenant,
        sync_state=SyncState.PENDING_UPDATE,
        sync_retries=2,
        next_attempt_at=timezone.now() + timedelta(minutes=15),
    )
    synced = PosConfigFactory(pushed=True, tenant=tenant)
    client = logged_in(operator)
    action(client, "retry_sync_now", [dead, backing_off, synced], confirm="yes")
    for register in (dead, backing_off):
        register.refresh_from_db()
        assert register.sync_state == SyncState.PENDING_UPDATE
        assert register.sync_retries == 0
        assert register.next_attempt_at <= timezone.now()
    assert messages_of(client.get(CHANGELIST)) == [
        "Retry sync: 1 register queued for Odoo, 1 register tried again now with fresh "
        "attempts, 1 left alone: already in step with Odoo."
    ]


def test_retry_sync_of_dead_create_is_for_operators_only(operator, pro_tenant, staff):
    dead_create = PosConfigFactory(dead_create=True, tenant=pro_tenant)
    staff_client = logged_in(staff)
    action(staff_client, "retry_sync_now", [dead_create], confirm="yes")
    dead_create.refresh_from_db()
    assert dead_create.sync_state == SyncState.SYNC_ERROR
    assert messages_of(staff_client.get(CHANGELIST)) == [
        "Retry sync: 1 left alone: creating it in Odoo again needs an operator (superuser)."
    ]

    action(logged_in(operator), "retry_sync_now", [dead_create], confirm="yes")
    dead_create.refresh_from_db()
    assert (dead_create.sync_state, dead_create.sync_retries) == (SyncState.PENDING_CREATE, 0)


def test_retry_of_a_register_deleted_in_odoo_creates_it_again(operator):
    register = PosConfigFactory(dead_update=True, last_sync_error_kind=ErrorKind.MISSING)
    client = logged_in(operator)
    action(client, "retry_sync_now", [register], confirm="yes")
    register.refresh_from_db()
    assert (register.sync_state, register.odoo_pos_config_id) == (SyncState.PENDING_CREATE, None)
    assert messages_of(client.get(CHANGELIST)) == [
        "Retry sync: 1 register queued to be created in Odoo again (deleted there)."
    ]


def test_retry_button_on_change_page_posts_and_get_is_refused(operator):
    register = PosConfigFactory(dead_update=True)
    client = logged_in(operator)
    assert client.get(retry_url(register)).status_code == 405
    register.refresh_from_db()
    assert register.sync_state == SyncState.SYNC_ERROR

    page = client.get(change_url(register)).content.decode()
    assert f'action="{retry_url(register)}"' in page
    response = client.post(retry_url(register))
    assert response.status_code == 302
    assert response["Location"] == change_url(register)
    register.refresh_from_db()
    assert register.sync_state == SyncState.PENDING_UPDATE


def test_retry_button_does_not_redirect_off_site(operator):
    register = PosConfigFactory(dead_update=True)
    response = logged_in(operator).post(retry_url(register), {"next": "https://evil.example/"})
    assert response["Location"] == change_url(register)


def test_actions_do_nothing_on_get(operator):
    register = PosConfigFactory(pushed=True)
    logged_in(operator).get(
        CHANGELIST,
        {"action": "deactivate_selected", "_selected_action": register.pk, "confirm": "yes"},
    )
    register.refresh_from_db()
    assert register.is_active


def test_actions_and_forms_need_a_csrf_token(operator):
    register = PosConfigFactory(pushed=True, name="Bar")
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    responses = [
        client.post(
            CHANGELIST,
            {"action": "deactivate_selected", "_selected_action": register.pk, "confirm": "yes"},
        ),
        client.post(change_url(register), change_data(register, name="Changed")),
        client.post(retry_url(register)),
    ]
    assert [r.status_code for r in responses] == [403, 403, 403]
    register.refresh_from_db()
    assert (register.name, register.is_active) == ("Bar", True)


# --- who did it ------------------------------------------------------------------------------


def test_every_admin_edit_and_retry_records_the_operators_login_as_the_actor(operator, pro_tenant):
    login = operator.get_username()
    client = logged_in(operator)
    edited = PosConfigFactory(pushed=True, tenant=pro_tenant, sequence_prefix="BAR")
    renamed = PosConfigFactory(pushed=True, tenant=pro_tenant, name="Terrace")
    deactivated = PosConfigFactory(pushed=True, tenant=pro_tenant)
    retried = PosConfigFactory(dead_update=True, tenant=pro_tenant)
    retried_by_button = PosConfigFactory(dead_update=True, tenant=pro_tenant)

    client.post(change_url(edited), change_data(edited, sequence_prefix="BAR2"))
    action(client, "rename_action", [renamed], confirm="yes", name="Garden", revision=0)
    action(client, "deactivate_selected", [deactivated], confirm="yes")
    action(client, "retry_sync_now", [retried], confirm="yes")
    client.post(retry_url(retried_by_button))
    client.post(
        ADD, {"tenant": pro_tenant.pk, "name": "Kiosk", "sequence_prefix": "KIO", "_save": "1"}
    )

    added = PosConfig.objects.get(name="Kiosk")
    recorded = set(RegisterEvent.objects.values_list("register_id", "action", "actor"))
    assert recorded == {
        (edited.pk, "prefix_changed", login),
        (renamed.pk, "renamed", login),
        (renamed.pk, "edited", login),
        (deactivated.pk, "deactivated", login),
        (deactivated.pk, "edited", login),
        (retried.pk, "operator_retry", login),
        (retried_by_button.pk, "operator_retry", login),
        (added.pk, "added", login),
    }


def test_change_page_history_shows_who_made_each_change(operator):
    register = PosConfigFactory(pushed=True, name="Bar")
    services.rename_register(register, name="Espresso bar", actor="colleague")
    html = logged_in(operator).get(change_url(register)).content.decode()
    assert "<th>Who</th>" in html
    assert '<td>colleague</td><td title="renamed: synced -&gt; synced">Renamed</td>' in html
    # The sync's own step in the operator's words, its technical name in the tooltip.
    assert 'title="edited: synced -&gt; pending_update">Change queued for Odoo (change ' in html
    assert "→" not in html and "pending_update →" not in html


# --- permissions -----------------------------------------------------------------------------


def test_staff_see_only_their_tenants_registers(staff, pro_tenant):
    mine = PosConfigFactory(pushed=True, tenant=pro_tenant)
    PosConfigFactory(pushed=True)  # another tenant's
    response = logged_in(staff).get(CHANGELIST)
    assert list(response.context["cl"].result_list) == [mine]


def test_staff_tenant_filter_offers_only_their_tenants(pro_tenant):
    second = TenantFactory(pro=True)
    staff = TenantStaffFactory(tenants=[pro_tenant, second])
    for tenant in (pro_tenant, second, TenantFactory(pro=True)):
        PosConfigFactory(pushed=True, tenant=tenant)
    response = logged_in(staff).get(CHANGELIST)
    tenant_filter = next(
        spec
        for spec in response.context["cl"].filter_specs
        if getattr(spec, "field_path", "") == "tenant"
    )
    assert {pk for pk, _ in tenant_filter.lookup_choices} == {pro_tenant.pk, second.pk}


def test_staff_get_404_for_another_tenants_register_by_url(staff):
    theirs = PosConfigFactory(dead_update=True, name="Theirs")
    client = logged_in(staff)
    assert client.get(change_url(theirs)).status_code == 404
    assert client.post(change_url(theirs), change_data(theirs, name="Mine now")).status_code == 404
    assert (
        client.get(reverse("admin:registers_posconfig_history", args=[theirs.pk])).status_code
        == 404
    )
    assert client.post(retry_url(theirs)).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.name, theirs.sync_state) == ("Theirs", SyncState.SYNC_ERROR)


def test_staff_actions_skip_another_tenants_registers(staff, pro_tenant):
    mine = PosConfigFactory(pushed=True, tenant=pro_tenant)
    theirs = PosConfigFactory(pushed=True)
    action(logged_in(staff), "deactivate_selected", [mine, theirs], confirm="yes")
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.is_active, theirs.is_active) == (False, True)


def test_staff_add_form_offers_only_their_tenants(staff, pro_tenant):
    other = TenantFactory(pro=True)
    client = logged_in(staff)
    choices = client.get(ADD).context["adminform"].form.fields["tenant"].queryset
    assert list(choices) == [pro_tenant]
    response = client.post(
        ADD, {"tenant": other.pk, "name": "Sneaky", "sequence_prefix": "SNK", "_save": "1"}
    )
    assert response.status_code == 200
    assert "tenant" in response.context["adminform"].form.errors
    assert not PosConfig.objects.filter(tenant=other).exists()


def test_staff_without_membership_see_no_registers():
    lonely = TenantStaffFactory(tenants=[])
    PosConfigFactory(pushed=True)
    assert logged_in(lonely).get(CHANGELIST).status_code == 403


def test_nothing_can_be_deleted_from_the_admin(operator):
    register = PosConfigFactory(pushed=True)
    client = logged_in(operator)
    assert (
        client.get(reverse("admin:registers_posconfig_delete", args=[register.pk])).status_code
        == 403
    )
    action(client, "delete_selected", [register], post="yes")
    assert PosConfig.objects.filter(pk=register.pk).exists()
    assert messages_of(client.get(CHANGELIST)) == ["No action selected."]


def test_the_prefix_field_says_it_stays_local(operator):
    register = PosConfigFactory(pushed=True)
    html = logged_in(operator).get(change_url(register)).content.decode()
    assert "It stays here: Odoo is never sent it." in html


def test_retry_is_not_offered_when_nothing_would_be_retried(operator):
    register = PosConfigFactory(pushed=True)  # synced: nothing to retry
    response = logged_in(operator).post(
        reverse("admin:registers_posconfig_changelist"),
        {"action": "retry_sync_now", "_selected_action": [register.pk]},
    )
    html = response.content.decode()
    assert "Nothing to retry" in html
    assert 'value="Yes, retry now"' not in html


def test_an_operator_picks_the_odoo_config_of_an_ambiguous_register(operator):
    register = PosConfigFactory(ambiguous=True, name="Bar")
    client = logged_in(operator)
    page = client.get(change_url(register)).content.decode()
    assert "Link to pos.config 7: Bar" in page and "Link to pos.config 9: bar (archived)" in page
    assert "Create a new one in Odoo" in page
    choice = reverse("admin:registers_posconfig_odoo_choice", args=[register.pk])
    # Each choice first says what it will write to the tenant's Odoo; nothing changes yet.
    confirmation = client.get(choice, {"odoo_id": "9"}).content.decode()
    assert "The next sync writes to pos.config 9 in Odoo: the name &#x27;Bar&#x27;" in confirmation
    assert "Left as they are in Odoo: 7 &#x27;Bar&#x27;." in confirmation
    client.post(choice, {"odoo_id": "9"})  # not confirmed
    register.refresh_from_db()
    assert register.sync_state == SyncState.SYNC_ERROR
    client.post(choice, {"odoo_id": "9", "confirm": "yes"})
    register.refresh_from_db()
    assert (register.sync_state, register.odoo_pos_config_id) == (SyncState.PENDING_UPDATE, 9)
    assert register.events.first().actor == operator.username


def test_a_choice_that_is_not_a_candidate_is_refused_with_a_message(operator):
    register = PosConfigFactory(ambiguous=True, name="Bar")
    choice = reverse("admin:registers_posconfig_odoo_choice", args=[register.pk])
    response = logged_in(operator).post(choice, {"odoo_id": "8", "confirm": "yes"}, follow=True)
    assert "Pick one of the Odoo configs, or a new one." in response.content.decode()
    register.refresh_from_db()
    assert register.sync_state == SyncState.SYNC_ERROR


def test_staff_are_not_offered_the_choice_and_cannot_post_it():
    from cafe.tests.factories import TenantStaffFactory

    register = PosConfigFactory(ambiguous=True, name="Bar")
    staff = TenantStaffFactory(tenants=[register.tenant])
    client = logged_in(staff)
    assert "Create a new one in Odoo" not in client.get(change_url(register)).content.decode()
    choice = reverse("admin:registers_posconfig_odoo_choice", args=[register.pk])
    assert client.get(choice, {"odoo_id": "new"}).status_code == 403
    assert client.post(choice, {"odoo_id": "new", "confirm": "yes"}).status_code == 403
    register.refresh_from_db()
    assert register.sync_state == SyncState.SYNC_ERROR
