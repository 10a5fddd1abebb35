"""One Odoo database, many cafes (issue 25): each tenant in its own Odoo company.

Against the sandbox over HTTP, with companies as Odoo 17/18/19 apply them (the
context's `allowed_company_ids`, the record rule on `company_id`): two tenants
on one database in two companies never see, link or write each other's
configs; two in one company are refused at save; a tenant saved before
companies were known keeps its default company and is told which; a config
moved to another company is a drift finding of its own, never fixed, and a
drain neither writes it there nor makes it again.
"""

import html

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cafe import services as tenant_services
from cafe.models import Tenant
from cafe.tests.clients import logged_in
from cafe.tests.factories import tenant_on
from odoo_sync import audit, tenants
from odoo_sync.connection import test_odoo_connection
from odoo_sync.drain import TenantStatus, drain_tenant
from odoo_sync.models import AuditFinding
from registers import services
from registers.models import ErrorKind, SyncState

pytestmark = pytest.mark.django_db(transaction=True)

ADD = reverse("admin:cafe_tenant_add")


@pytest.fixture(autouse=True)
def _loopback_odoo_allowed(settings):
    settings.ODOO_ALLOW_PRIVATE_URLS = True
    settings.ODOO_REQUIRE_HTTPS = False


@pytest.fixture
def two_companies(odoo_sandbox):
    """The sandbox database with "YourCompany" (1, the login's default) and "Cafe B"."""
    cafe_b = odoo_sandbox.add_company("Cafe B")
    odoo_sandbox.set_user_companies([1, cafe_b], default=1)
    return odoo_sandbox, cafe_b


def _reload(obj):
    obj.refresh_from_db()
    return obj


def _messages(response) -> list[str]:
    return [html.unescape(str(m)) for m in response.context["messages"]]


def test_two_tenants_in_two_companies_of_one_database_never_see_link_or_write_each_others(
    two_companies,
):
    odoo, cafe_b = two_companies
    theirs = odoo.create_pos_config("Terrace", company_id=cafe_b)  # B's, named like A's
    a = tenant_on(odoo, odoo_company_id=1)
    b = tenant_on(odoo, odoo_company_id=cafe_b)
    terrace_a = services.add_register(a, name="Terrace", prefix="TA")
    bar_a = services.add_register(a, name="Bar", prefix="BA")
    terrace_b = services.add_register(b, name="Terrace", prefix="TB")
    assert drain_tenant(a.pk).status == TenantStatus.OK
    assert drain_tenant(b.pk).status == TenantStatus.OK

    terrace_a, bar_a, terrace_b = _reload(terrace_a), _reload(bar_a), _reload(terrace_b)
    assert terrace_b.odoo_pos_config_id == theirs  # B's onboarding linked B's own config
    assert terrace_a.odoo_pos_config_id != theirs  # A never saw it: made its own, in A
    for register, company in ((terrace_a, 1), (bar_a, 1), (terrace_b, cafe_b)):
        assert register.sync_state == SyncState.SYNCED
        assert odoo.pos_config_company(register.odoo_pos_config_id) == company

    services.rename_register(terrace_a, name="Terrace North")
    services.rename_register(terrace_b, name="Terrace South")
    drain_tenant(a.pk)
    drain_tenant(b.pk)
    assert odoo.pos_config(terrace_a.odoo_pos_config_id)["name"] == "Terrace North"
    assert odoo.pos_config(theirs)["name"] == "Terrace South"
    # Neither audit lists the other cafe's configs as unknown.
    for tenant in (a, b):
        assert audit.audit_tenant(tenant).findings == []


def test_two_tenants_in_one_company_of_one_database_are_refused_at_save(two_companies):
    odoo, cafe_b = two_companies
    first = tenant_on(odoo, name="Bean There", odoo_company_id=cafe_b)
    with pytest.raises(ValidationError, match="Bean There already syncs into company"):
        tenant_services.create_tenant(
            name="Copy",
            slug="copy",
            plan="pro",
            odoo_url=odoo.url.upper(),  # the same server, however written
            odoo_db=odoo.db,
            odoo_login=odoo.login,
            odoo_api_key=odoo.api_key,
            odoo_company_id=cafe_b,
        )
    other = tenant_on(odoo, odoo_company_id=1)
    with pytest.raises(ValidationError, match="two tenants in one company"):
        tenants.update_odoo_connection(other, company=cafe_b)
    assert _reload(other).odoo_company_id == 1
    assert Tenant.objects.filter(odoo_company_id=cafe_b).get() == first


def test_a_new_tenant_on_a_multi_company_database_must_choose_its_company(two_companies, operator):
    odoo, cafe_b = two_companies
    data = {
        "name": "Cafe B",
        "slug": "cafe-b",
        "plan": "pro",
        "odoo_url": odoo.url,
        "odoo_db": odoo.db,
        "odoo_login": odoo.login,
        "odoo_protocol": "auto",
        "new_api_key": odoo.api_key,
        "_save": "Save",
    }
    client = logged_in(operator)
    response = client.post(ADD, data)
    assert response.status_code == 200  # not saved: the form asks for a company
    error = " ".join(response.context["adminform"].form.errors["odoo_company_id"])
    assert f"several companies (YourCompany (1), Cafe B ({cafe_b}))" in error
    assert not Tenant.objects.filter(slug="cafe-b").exists()

    response = client.post(ADD, {**data, "odoo_company_id": "99"})
    error = " ".join(response.context["adminform"].form.errors["odoo_company_id"])
    assert "may not use company 99" in error

    response = client.post(ADD, {**data, "odoo_company_id": str(cafe_b)})
    assert response.status_code == 302
    tenant = Tenant.objects.get(slug="cafe-b")
    assert (tenant.odoo_company_id, tenant.odoo_company_name) == (cafe_b, "Cafe B")
    listing = client.get(reverse("admin:cafe_tenant_changelist")).content.decode()
    assert f"Cafe B (company {cafe_b})" in listing
    page = client.get(reverse("admin:cafe_tenant_change", args=[tenant.pk])).content.decode()
    assert f"Cafe B (company {cafe_b})" in page
    assert f'<option value="{cafe_b}" selected>Cafe B ({cafe_b})</option>' in page


def test_a_tenant_saved_before_companies_keeps_the_default_company_and_is_told_which(
    two_companies,
):
    odoo, cafe_b = two_companies
    legacy = tenant_on(odoo)  # no company: as every tenant before this feature
    register = services.add_register(legacy, name="Bar", prefix="BAR")
    drain_tenant(legacy.pk)
    register = _reload(register)
    assert register.sync_state == SyncState.SYNCED
    assert odoo.pos_config_company(register.odoo_pos_config_id) == 1  # the login's default

    report = test_odoo_connection(legacy)
    assert report.ok
    assert "No company chosen: registers go to YourCompany, the login's default" in report.message
    assert f"Cafe B ({cafe_b})" in report.message
    legacy = _reload(legacy)
    assert legacy.odoo_company_label == ("YourCompany (the login's default company: none chosen)")
    assert [c["name"] for c in legacy.odoo_companies] == ["YourCompany", "Cafe B"]


def test_a_company_the_login_may_not_use_is_said_by_test_connection_and_pauses_the_drain(
    two_companies,
):
    odoo, cafe_b = two_companies
    tenant = tenant_on(odoo, odoo_company_id=cafe_b)
    odoo.set_user_companies([1], default=1)  # an Odoo admin took Cafe B away from the login
    report = test_odoo_connection(tenant)
    assert not report.ok
    assert f"The Odoo login may not use company {cafe_b}" in report.message
    services.add_register(tenant, name="Bar", prefix="BAR")
    result = drain_tenant(tenant.pk)
    assert result.status == TenantStatus.PAUSED
    tenant = _reload(tenant)
    assert f"does not let the login {tenant.odoo_login!r} use company {cafe_b}" in (
        tenant.odoo_paused_reason
    )
    assert odoo.pos_configs() == []


def test_a_config_moved_to_another_company_is_its_own_finding_never_fixed_nor_made_again(
    two_companies,
):
    odoo, cafe_b = two_companies
    tenant = tenant_on(odoo, odoo_company_id=1)
    bar = services.add_register(tenant, name="Bar", prefix="BAR")
    drain_tenant(tenant.pk)
    bar = _reload(bar)
    odoo.move_pos_config(bar.odoo_pos_config_id, cafe_b)  # done in Odoo, by a person

    [finding] = audit.audit_tenant(tenant).findings
    assert (finding.kind, finding.register_id) == (AuditFinding.Kind.MOVED_COMPANY, bar.pk)
    assert finding.as_dict()["odoo"] == {"company_id": cafe_b}
    assert audit.fix_findings([finding]) == 0  # --fix never touches it
    assert "in company" in audit.state_words(finding)

    services.rename_register(bar, name="Bar North")
    drain_tenant(tenant.pk)
    bar = _reload(bar)
    assert (bar.sync_state, bar.last_sync_error_kind) == (
        SyncState.SYNC_ERROR,
        ErrorKind.MOVED_COMPANY,
    )
    assert f"is in company {cafe_b}" in bar.last_sync_error
    # "Retry sync now" tries the write again in place: it never makes a second config.
    assert services.retry_sync(bar) != services.RetryOutcome.RECREATE
    drain_tenant(tenant.pk)
    assert len(odoo.pos_configs()) == 1
    assert odoo.pos_config(bar.odoo_pos_config_id)["name"] == "Bar"
    assert odoo.pos_config_company(bar.odoo_pos_config_id) == cafe_b


def test_choosing_another_company_keeps_the_links_and_says_where_the_configs_are(
    two_companies,
):
    """Another company of the same database is no move: the ids still name the register's
    configs, which stay where they are (never made again in the new company): the audit
    says they are in another company until someone moves them there in Odoo."""
    odoo, cafe_b = two_companies
    tenant = tenant_on(odoo, odoo_company_id=1)
    bar = services.add_register(tenant, name="Bar", prefix="BAR")
    drain_tenant(tenant.pk)
    in_a = _reload(bar).odoo_pos_config_id
    tenants.update_odoo_connection(tenant, company=cafe_b)
    bar = _reload(bar)
    assert (bar.sync_state, bar.odoo_pos_config_id) == (SyncState.SYNCED, in_a)
    [finding] = audit.audit_tenant(_reload(tenant)).findings
    assert (finding.kind, finding.odoo_company_id) == (AuditFinding.Kind.MOVED_COMPANY, 1)

    odoo.move_pos_config(in_a, cafe_b)  # an Odoo admin moves it to the cafe's company
    services.rename_register(bar, name="Bar North")
    patio = services.add_register(tenant, name="Patio", prefix="PAT")
    drain_tenant(tenant.pk)
    assert odoo.pos_config(in_a)["name"] == "Bar North"
    assert odoo.pos_config_company(_reload(patio).odoo_pos_config_id) == cafe_b
    assert audit.audit_tenant(_reload(tenant)).findings == []
    assert len(odoo.pos_configs()) == 2


def test_an_id_handed_to_the_other_companys_config_after_a_restore_is_a_stale_link_not_a_move(
    two_companies,
):
    """Model finding E: after a restore the id a register of company 1 holds names company
    B's new config (carrying B's register's external id). That is a stale link: reported
    as one, never "move it back" (that would move B's config), and the drain makes the
    register's config again in its own company without writing B's."""
    odoo, cafe_b = two_companies
    a = tenant_on(odoo, odoo_company_id=1)
    b = tenant_on(odoo, odoo_company_id=cafe_b)
    backup = odoo.backup()
    bar = services.add_register(a, name="Bar", prefix="BAR")
    drain_tenant(a.pk)
    odoo.restore_backup(backup)
    patio = services.add_register(b, name="Patio", prefix="PAT")
    drain_tenant(b.pk)
    bar, patio = _reload(bar), _reload(patio)
    assert bar.odoo_pos_config_id == patio.odoo_pos_config_id  # handed out again, in B

    [finding] = audit.audit_tenant(a).findings
    assert finding.kind == AuditFinding.Kind.STALE_LINK
    assert finding.odoo_name == "Patio"

    services.rename_register(bar, name="Bar North")
    drain_tenant(a.pk)
    bar = _reload(bar)
    assert bar.sync_state == SyncState.SYNCED
    assert bar.odoo_pos_config_id != patio.odoo_pos_config_id
    assert odoo.pos_config_company(bar.odoo_pos_config_id) == 1
    assert odoo.pos_config(bar.odoo_pos_config_id)["name"] == "Bar North"
    assert odoo.pos_config(patio.odoo_pos_config_id)["name"] == "Patio"  # B's, untouched
    assert odoo.pos_config_company(patio.odoo_pos_config_id) == cafe_b


def test_a_linked_config_moved_to_another_company_is_dead_lettered_as_moved_not_as_access(
    two_companies,
):
    """Model finding F: the read of a linked config's external ids before its write must not
    be refused for a config moved to another company (it was: an `access` dead letter that
    told the operator to fix the user's rights)."""
    odoo, cafe_b = two_companies
    theirs = odoo.create_pos_config("Bar", company_id=1)  # made in Odoo, then linked
    tenant = tenant_on(odoo, odoo_company_id=1)
    bar = services.add_register(tenant, name="Bar", prefix="BAR")
    patio = services.add_register(tenant, name="Patio", prefix="PAT")
    drain_tenant(tenant.pk)
    assert _reload(bar).odoo_pos_config_id == theirs
    odoo.move_pos_config(theirs, cafe_b)
    services.rename_register(_reload(bar), name="Bar North")
    services.rename_register(_reload(patio), name="Patio South")
    drain_tenant(tenant.pk)
    bar = _reload(bar)
    assert (bar.sync_state, bar.last_sync_error_kind) == (
        SyncState.SYNC_ERROR,
        ErrorKind.MOVED_COMPANY,
    )
    assert _reload(patio).sync_state == SyncState.SYNCED  # the rest of the batch lands
    assert odoo.pos_config(theirs)["name"] == "Bar"
