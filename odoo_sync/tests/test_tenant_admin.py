"""The tenants admin: write-only API key, connection edits through services, test connection."""

import html

import pytest
from django.urls import reverse
from django.utils import timezone

from cafe.models import Membership, Plan, Tenant
from cafe.services import TENANT_STAFF_GROUP
from cafe.tests.clients import logged_in
from cafe.tests.factories import (
    MembershipFactory,
    TenantFactory,
    TenantStaffFactory,
    UserFactory,
)
from registers.models import SyncState
from registers.tests.factories import PosConfigFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:cafe_tenant_changelist")
ADD = reverse("admin:cafe_tenant_add")
SECRET = "s3cr3t-key-that-must-never-show"


@pytest.fixture(autouse=True)
def _loopback_odoo_allowed(settings):
    settings.ODOO_ALLOW_PRIVATE_URLS = True
    settings.ODOO_REQUIRE_HTTPS = False


def change_url(tenant):
    return reverse("admin:cafe_tenant_change", args=[tenant.pk])


def connection_test_url(tenant):
    return reverse("admin:cafe_tenant_test_connection", args=[tenant.pk])


def messages_of(response) -> list[str]:
    """The messages as an operator reads them (a message with a detail is HTML)."""
    return [html.unescape(str(m)) for m in response.context["messages"]]


def operator_data(tenant, **overrides):
    data = {
        "name": tenant.name,
        "plan": tenant.plan,
        "odoo_url": tenant.odoo_url,
        "odoo_db": tenant.odoo_db,
        "odoo_login": tenant.odoo_login,
        "odoo_protocol": tenant.odoo_protocol,
        "new_api_key": "",
        "_save": "Save",
    }
    data.update(overrides)
    return data


@pytest.fixture
def tenant():
    return TenantFactory(
        pro=True, odoo_url="http://127.0.0.1:8069", odoo_api_key=SECRET, name="Acme"
    )


@pytest.fixture
def staff(tenant):
    return TenantStaffFactory(tenants=[tenant])


# --- the API key is write-only ------------------------------------------------------------


def test_change_page_shows_only_whether_a_key_is_set(operator, tenant):
    html = logged_in(operator).get(change_url(tenant)).content.decode()
    assert SECRET not in html
    assert 'name="new_api_key"' in html
    assert ">set<" in html


def test_key_is_not_echoed_back_when_the_form_has_errors(operator, tenant):
    response = logged_in(operator).post(
        change_url(tenant),
        operator_data(tenant, odoo_url="ftp://acme.example", new_api_key="brand-new-key-123"),
    )
    assert response.status_code == 200
    assert b"brand-new-key-123" not in response.content
    assert SECRET.encode() not in response.content
    # ...and says so, instead of clearing it silently.
    assert "Type the API key again" in response.content.decode()


def test_the_key_help_fits_a_tenant_with_and_without_a_key(operator, tenant):
    client = logged_in(operator)
    assert "Leave empty to keep the current key" in client.get(change_url(tenant)).content.decode()
    keyless = TenantFactory(pro=True, odoo_api_key="")
    page = client.get(change_url(keyless)).content.decode()
    assert "Leave empty to keep the current key" not in page
    assert "Account Security" in page


def test_saving_without_a_new_key_keeps_the_current_one(operator, tenant):
    logged_in(operator).post(change_url(tenant), operator_data(tenant, odoo_db="acme-prod"))
    tenant.refresh_from_db()
    assert (tenant.odoo_db, tenant.odoo_api_key) == ("acme-prod", SECRET)


def test_key_change_leaves_no_trace_in_the_admin_log(operator, tenant):
    from django.contrib.admin.models import LogEntry

    logged_in(operator).post(change_url(tenant), operator_data(tenant, new_api_key="rotated-123"))
    tenant.refresh_from_db()
    assert tenant.odoo_api_key == "rotated-123"
    entry = LogEntry.objects.get(object_id=str(tenant.pk))
    assert "rotated-123" not in entry.change_message
    assert SECRET not in entry.change_message


# --- operators edit plan and connection through cafe.services ------------------------------


def test_bad_odoo_url_is_a_form_error_from_the_url_rules(operator, tenant, settings):
    settings.ODOO_ALLOW_PRIVATE_URLS = False
    response = logged_in(operator).post(
        change_url(tenant), operator_data(tenant, odoo_url="http://10.0.0.5:8069")
    )
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["odoo_url"]
    assert "10.0.0.5" in error
    tenant.refresh_from_db()
    assert tenant.odoo_url == "http://127.0.0.1:8069"


def test_editing_the_connection_lifts_a_pause(operator, tenant):
    Tenant.objects.filter(pk=tenant.pk).update(
        odoo_paused_at=timezone.now(), odoo_paused_reason="Odoo rejected the connection"
    )
    response = logged_in(operator).post(
        change_url(tenant), operator_data(tenant, odoo_login="integration@acme.example")
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.odoo_login == "integration@acme.example"
    assert (tenant.odoo_paused_at, tenant.odoo_paused_reason) == (None, "")


def test_saving_an_unchanged_form_does_not_lift_a_pause(operator, tenant):
    paused_at = timezone.now()
    Tenant.objects.filter(pk=tenant.pk).update(odoo_paused_at=paused_at)
    tenant.refresh_from_db()
    logged_in(operator).post(change_url(tenant), operator_data(tenant))
    tenant.refresh_from_db()
    assert tenant.odoo_paused_at == paused_at


def test_moving_to_pro_queues_local_registers_for_creation(operator):
    tenant = TenantFactory(
        plan=Plan.STARTER,
        odoo_url="http://127.0.0.1:8069",
        odoo_db="acme",
        odoo_login="admin",
        odoo_api_key=SECRET,
    )
    register = PosConfigFactory(tenant=tenant)
    response = logged_in(operator).post(change_url(tenant), operator_data(tenant, plan="pro"))
    assert response.status_code == 302
    register.refresh_from_db()
    assert register.sync_state == SyncState.PENDING_CREATE


def test_operator_adds_a_tenant_through_create_tenant(operator):
    response = logged_in(operator).post(
        ADD,
        {
            "name": " Bean There ",
            "slug": "bean-there",
            "plan": "pro",
            "odoo_url": "http://127.0.0.1:8069/",
            "odoo_db": "bean",
            "odoo_login": "admin",
            "odoo_protocol": "auto",
            "new_api_key": SECRET,
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    tenant = Tenant.objects.get(slug="bean-there")
    assert (tenant.name, tenant.odoo_url, tenant.odoo_api_key) == (
        "Bean There",
        "http://127.0.0.1:8069",
        SECRET,
    )


def test_duplicate_slug_is_a_form_error(operator, tenant):
    response = logged_in(operator).post(
        ADD,
        {"name": "Copy", "slug": tenant.slug, "plan": "starter", "odoo_protocol": "auto"},
    )
    assert response.status_code == 200
    assert "slug" in response.context["adminform"].form.errors
    assert Tenant.objects.filter(slug=tenant.slug).count() == 1


# --- tenant staff ------------------------------------------------------------------------------


def test_staff_may_rotate_their_key_which_lifts_the_pause(staff, tenant):
    Tenant.objects.filter(pk=tenant.pk).update(
        odoo_paused_at=timezone.now(), odoo_paused_reason="Access Denied"
    )
    response = logged_in(staff).post(
        change_url(tenant), {"new_api_key": "rotated-by-staff", "_save": "Save"}
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.odoo_api_key == "rotated-by-staff"
    assert tenant.odoo_paused_at is None


def test_staff_cannot_change_url_database_login_or_plan(staff, tenant):
    before = (tenant.odoo_url, tenant.odoo_db, tenant.odoo_login, tenant.plan, tenant.name)
    client = logged_in(staff)
    page = client.get(change_url(tenant))
    assert set(page.context["adminform"].form.fields) == {"new_api_key"}
    client.post(
        change_url(tenant),
        {
            "name": "Hijacked",
            "plan": "starter",
            "odoo_url": "http://127.0.0.1:9999",
            "odoo_db": "other",
            "odoo_login": "root",
            "new_api_key": "",
            "_save": "Save",
        },
    )
    tenant.refresh_from_db()
    assert (tenant.odoo_url, tenant.odoo_db, tenant.odoo_login, tenant.plan, tenant.name) == before


def test_staff_see_only_their_tenants(staff, tenant):
    other = TenantFactory(pro=True)
    client = logged_in(staff)
    assert list(client.get(CHANGELIST).context["cl"].result_list) == [tenant]
    assert client.get(change_url(other)).status_code == 404
    assert client.post(change_url(other), {"new_api_key": "mine-now"}).status_code == 404
    assert client.post(connection_test_url(other)).status_code == 404
    other.refresh_from_db()
    assert other.odoo_api_key != "mine-now"


def test_staff_cannot_add_tenants(staff):
    assert logged_in(staff).get(ADD).status_code == 403


def test_staff_cannot_manage_memberships(staff):
    client = logged_in(staff)
    assert client.get(reverse("admin:cafe_membership_changelist")).status_code == 403
    assert client.get(reverse("admin:cafe_membership_add")).status_code == 403


# --- test connection ---------------------------------------------------------------------------


@pytest.fixture
def connected_tenant(sandbox_tenant):
    return sandbox_tenant


def test_test_connection_reports_the_odoo_version(operator, connected_tenant):
    client = logged_in(operator)
    response = client.post(connection_test_url(connected_tenant))
    assert response.status_code == 302
    assert response["Location"] == change_url(connected_tenant)
    [message] = messages_of(client.get(change_url(connected_tenant)))
    assert message.startswith(f"{connected_tenant.name}: Connected: Odoo 17.0 over XML-RPC")


def test_test_connection_reports_a_rejected_key_without_showing_it(
    operator, connected_tenant, odoo_sandbox
):
    key = connected_tenant.odoo_api_key
    odoo_sandbox.rotate_key()
    client = logged_in(operator)
    client.post(connection_test_url(connected_tenant))
    [message] = messages_of(client.get(change_url(connected_tenant)))
    assert f"Odoo refused the login {connected_tenant.odoo_login!r}" in message
    assert "<details" in message and "Technical detail for support" in message
    assert key not in message
    connected_tenant.refresh_from_db()
    assert connected_tenant.odoo_paused_at is None  # a test only reports, it never pauses


def test_test_connection_action_on_the_list_reports_each_tenant(
    operator, connected_tenant, odoo_unreachable_url
):
    down = TenantFactory(pro=True, name="Down", odoo_url=odoo_unreachable_url)
    client = logged_in(operator)
    response = client.post(
        CHANGELIST,
        {"action": "test_connection", "_selected_action": [connected_tenant.pk, down.pk]},
    )
    assert response.status_code == 302
    messages = messages_of(client.get(CHANGELIST))
    assert any(m.startswith(f"{connected_tenant.name}: Connected: Odoo 17.0") for m in messages)
    assert any(m.startswith(f"Down: Nothing answered at {odoo_unreachable_url}") for m in messages)


def test_test_connection_refuses_get(operator, connected_tenant, odoo_sandbox):
    assert logged_in(operator).get(connection_test_url(connected_tenant)).status_code == 405
    assert odoo_sandbox.call_count("common.authenticate") == 0


def test_staff_may_test_their_own_connection(connected_tenant):
    staff = TenantStaffFactory(tenants=[connected_tenant])
    client = logged_in(staff)
    client.post(connection_test_url(connected_tenant))
    [message] = messages_of(client.get(change_url(connected_tenant)))
    assert "Connected: Odoo 17.0" in message


# --- memberships ---------------------------------------------------------------------------------


def test_operator_grants_access_which_gives_the_staff_group(operator, tenant):
    user = UserFactory(is_staff=False)
    response = logged_in(operator).post(
        reverse("admin:cafe_membership_add"), {"user": user.pk, "tenant": tenant.pk}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert Membership.objects.filter(user=user, tenant=tenant).exists()
    assert user.is_staff
    assert user.groups.filter(name=TENANT_STAFF_GROUP).exists()


def test_operator_creates_a_staff_user_and_the_membership_in_one_step(operator, tenant):
    client = logged_in(operator)
    page = client.get(reverse("admin:cafe_membership_add")).content.decode()
    assert "admin-autocomplete" in page  # users and tenants are searched, not listed
    response = client.post(
        reverse("admin:cafe_membership_add"),
        {
            "tenant": tenant.pk,
            "new_username": "barista",
            "new_email": "barista@example.com",
            "new_password": "correct horse battery 9",
        },
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user__username="barista", tenant=tenant)
    assert membership.user.is_staff and membership.user.check_password("correct horse battery 9")
    assert membership.user.groups.filter(name=TENANT_STAFF_GROUP).exists()
    assert logged_in(membership.user).get(change_url(tenant)).status_code == 200


def test_a_new_staff_user_with_a_weak_password_is_refused_and_nothing_is_written(operator, tenant):
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.count()
    response = logged_in(operator).post(
        reverse("admin:cafe_membership_add"),
        {"tenant": tenant.pk, "new_username": "barista", "new_password": "123"},
    )
    assert response.status_code == 200
    assert "too short" in response.content.decode() or "too common" in response.content.decode()
    assert get_user_model().objects.count() == users
    assert not Membership.objects.filter(tenant=tenant, user__username="barista").exists()


def test_removing_the_last_membership_removes_the_group(operator, staff, tenant):
    membership = Membership.objects.get(user=staff, tenant=tenant)
    logged_in(operator).post(
        reverse("admin:cafe_membership_delete", args=[membership.pk]), {"post": "yes"}
    )
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert not staff.groups.filter(name=TENANT_STAFF_GROUP).exists()


def test_tenant_staff_may_view_and_change_but_never_delete(staff):
    assert staff.get_all_permissions() == {
        "cafe.view_tenant",
        "cafe.change_tenant",
        "registers.view_posconfig",
        "registers.add_posconfig",
        "registers.change_posconfig",
        "odoo_sync.view_syncattempt",
    }


def test_plain_membership_without_the_group_opens_no_admin_page():
    membership = MembershipFactory()
    assert logged_in(membership.user).get(CHANGELIST).status_code == 403


# --- saving tests the connection; the status says what is true; incidents are kept ------------


def test_saving_a_wrong_key_saves_and_says_the_connection_does_not_work(
    operator, connected_tenant, odoo_sandbox
):
    client = logged_in(operator)
    response = client.post(
        change_url(connected_tenant),
        operator_data(connected_tenant, new_api_key="wrong-key-0000"),
        follow=True,
    )
    assert response.status_code == 200
    connected_tenant.refresh_from_db()
    assert connected_tenant.odoo_api_key == "wrong-key-0000"  # saved all the same
    text = " ".join(messages_of(response))
    assert "Saved, but the connection does not work yet" in text
    assert "refused the login" in text
    assert "wrong-key-0000" not in text


def test_saving_a_working_connection_says_it_connected(operator, connected_tenant, odoo_sandbox):
    connected_tenant.odoo_db = "old"
    connected_tenant.save()
    client = logged_in(operator)
    response = client.post(
        change_url(connected_tenant),
        operator_data(connected_tenant, odoo_db=odoo_sandbox.db),
        follow=True,
    )
    text = " ".join(messages_of(response))
    assert "Connected: Odoo 17.0" in text
    connected_tenant.refresh_from_db()
    assert connected_tenant.odoo_last_contact_at is not None


def test_the_status_never_says_syncing_before_odoo_answered(operator, odoo_unreachable_url):
    from odoo_sync.tenant_admin import tenant_sync_status

    fresh = TenantFactory(pro=True, odoo_url=odoo_unreachable_url)
    assert str(tenant_sync_status(fresh)).startswith("Not connected yet")
    starter = TenantFactory()
    assert str(tenant_sync_status(starter)).startswith("Local only")
    fresh.odoo_last_contact_at = timezone.now()
    assert str(tenant_sync_status(fresh)).startswith("Syncing (last contact")
    fresh.odoo_paused_at = timezone.now()
    fresh.odoo_paused_reason = "Odoo refused the login"
    status = tenant_sync_status(fresh)
    assert str(status).startswith("Paused since") and status.tone == "bad"
    assert "UTC" in str(status)  # the zone is shown


def test_the_tenant_page_keeps_the_history_of_pauses_and_outages(operator, tenant):
    from odoo_sync import tenant_health, tenants

    tenant_health.record_tenant_unreachable(tenant.pk, connection_revision=0, error="HTTP 502")
    tenant_health.record_tenant_healthy(tenant.pk, connection_revision=0)
    tenant_health.pause_tenant(tenant.pk, connection_revision=0, reason="Odoo refused the login")
    tenants.update_odoo_connection(tenant, api_key="fixed-key", actor=operator.username)
    html = logged_in(operator).get(change_url(tenant)).content.decode()
    assert "Odoo unreachable" in html and "HTTP 502" in html and "Odoo took work again" in html
    assert "Odoo refused the login" in html
    assert f"connection edited by {operator.username}" in html
    assert "ongoing" not in html


def test_an_edit_in_the_admin_ends_the_pause_in_the_editors_name(operator, tenant):
    from odoo_sync import tenant_health

    staff = TenantStaffFactory(tenants=[tenant])
    register = PosConfigFactory(tenant=tenant, pushed=True)
    for user, data in [
        (operator, operator_data(tenant, new_api_key="operators-key")),
        (staff, {"new_api_key": "staff-key", "_save": "Save"}),
    ]:
        tenant.refresh_from_db()
        tenant_health.pause_tenant(
            tenant.pk, connection_revision=tenant.odoo_connection_revision, reason="Access Denied"
        )
        assert logged_in(user).post(change_url(tenant), data).status_code == 302
        latest = tenant.incidents.first()
        assert latest.ended_by == f"connection edited by {user.username}"
    # Moving to another database relinks the registers, in the operator's name too.
    logged_in(operator).post(change_url(tenant), operator_data(tenant, odoo_db="elsewhere"))
    assert register.events.first().actor == operator.username


def test_the_tenant_page_lists_its_registers_with_their_sync_state(operator, tenant):
    PosConfigFactory(tenant=tenant, name="Front counter", pushed=True)
    html = logged_in(operator).get(change_url(tenant)).content.decode()
    assert "Front counter" in html and "Synced" in html
    assert f"?tenant__id__exact={tenant.pk}" in html


def test_a_starter_tenants_register_is_local_only_never_a_green_synced(operator):
    starter = TenantFactory(name="Kiosk Co")
    PosConfigFactory(tenant=starter, name="Kiosk")
    client = logged_in(operator)
    listing = client.get(reverse("admin:registers_posconfig_changelist")).content.decode()
    assert "Local only" in listing and "regsync-badge--synced" not in listing
    assert "Local only" in client.get(change_url(starter)).content.decode()


@pytest.mark.django_db(transaction=True)  # the drain refuses to run inside a transaction
def test_sync_now_pushes_the_tenants_registers_past_an_outage_wait(
    operator, connected_tenant, odoo_sandbox
):
    from odoo_sync import tenant_health
    from registers import services as register_services

    register = register_services.add_register(connected_tenant, name="Bar", prefix="BAR")
    tenant_health.record_tenant_unreachable(
        connected_tenant.pk, connection_revision=0, error="HTTP 502"
    )
    client = logged_in(operator)
    page = client.get(change_url(connected_tenant)).content.decode()
    assert 'id="regsync-sync-now"' in page
    response = client.post(reverse("admin:cafe_tenant_sync_now", args=[connected_tenant.pk]))
    assert response.status_code == 302
    [message] = messages_of(client.get(change_url(connected_tenant)))
    assert message.startswith(f"A sync of {connected_tenant.name} has started")
    register.refresh_from_db()
    assert register.sync_state == SyncState.SYNCED  # the drain ran (eager in unit tests)
    assert [c["name"] for c in odoo_sandbox.pos_configs()] == ["Bar"]


def test_sync_now_refuses_a_paused_tenant_and_says_what_to_do(operator, connected_tenant):
    from odoo_sync import tenant_health

    tenant_health.pause_tenant(connected_tenant.pk, connection_revision=0, reason="refused")
    client = logged_in(operator)
    client.post(reverse("admin:cafe_tenant_sync_now", args=[connected_tenant.pk]))
    [message] = messages_of(client.get(change_url(connected_tenant)))
    assert "fix the connection first" in message


def test_sync_now_is_post_only_and_scoped(connected_tenant):
    other_staff = TenantStaffFactory()
    url = reverse("admin:cafe_tenant_sync_now", args=[connected_tenant.pk])
    assert logged_in(other_staff).post(url).status_code == 404


def test_the_add_form_fills_the_slug_from_the_name(operator):
    response = logged_in(operator).get(ADD)
    assert '"id": "#id_slug"' in response.content.decode().replace("&quot;", '"')
