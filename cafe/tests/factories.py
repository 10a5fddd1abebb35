"""factory_boy factories for tenants and memberships."""

import factory
from django.contrib.auth import get_user_model

from cafe.models import Membership, Plan, Tenant


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Cafe {n}")
    slug = factory.Sequence(lambda n: f"cafe-{n}")
    plan = Plan.STARTER

    class Params:
        # A Pro tenant with a complete connection (to an address nothing listens on
        # unless a test points it at the sandbox Odoo).
        pro = factory.Trait(
            plan=Plan.PRO,
            odoo_url="http://127.0.0.1:9",
            odoo_db="regsync",
            odoo_login="admin",
            odoo_api_key=factory.Sequence(lambda n: f"test-api-key-{n}"),
        )


def tenant_on(sandbox, **kwargs) -> Tenant:
    """A Pro tenant whose Odoo connection points at this sandbox Odoo."""
    connection = {
        "plan": Plan.PRO,
        "odoo_url": sandbox.url,
        "odoo_db": sandbox.db,
        "odoo_login": sandbox.login,
        "odoo_api_key": sandbox.api_key,
    }
    return TenantFactory(**(connection | kwargs))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)


class TenantStaffFactory(UserFactory):
    """A staff user of the given tenants (`tenants=[...]`), through the same service as the admin.

    They get a Membership of each tenant and the Tenant staff group's model rights.
    """

    @factory.post_generation
    def tenants(obj, create, extracted, **kwargs):
        if not create:
            return
        from cafe.services import grant_tenant_access

        for tenant in extracted or []:
            grant_tenant_access(user=obj, tenant=tenant)


class OperatorFactory(UserFactory):
    """A superuser: an operator of the whole service."""

    is_superuser = True


# A complete connection edit (`cafe.services.clean_connection_edit` arguments) to a local Odoo.
CONNECTION_EDIT = {
    "url": "http://127.0.0.1:8069",
    "db": "acme",
    "login": "sync@acme",
    "api_key": "k",
}
