"""Tenants: the API key is encrypted at rest and never shown back."""

import itertools

import pytest
from django.db import connection
from django.utils import timezone

from cafe.models import Tenant
from cafe.tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


def test_api_key_is_stored_encrypted_and_read_back_in_clear():
    tenant = TenantFactory(pro=True, odoo_api_key="s3cret-key-value")
    with connection.cursor() as cur:
        cur.execute("SELECT odoo_api_key FROM cafe_tenant WHERE id = %s", [tenant.pk])
        stored = cur.fetchone()[0]
    assert "s3cret-key-value" not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert Tenant.objects.get(pk=tenant.pk).odoo_api_key == "s3cret-key-value"


def test_repr_and_str_never_show_the_api_key():
    tenant = TenantFactory(pro=True, odoo_api_key="s3cret-key-value")
    assert "s3cret" not in repr(tenant)
    assert "s3cret" not in str(tenant)
    assert "odoo_api_key=set" in repr(tenant)


def test_with_odoo_and_sync_enabled_querysets_and_properties_agree():
    combos = itertools.product(["starter", "pro"], ["", "k"], [None, timezone.now()])
    for n, (plan, key, paused) in enumerate(combos):
        TenantFactory(
            slug=f"t{n}",
            plan=plan,
            odoo_url="https://acme.odoo.com",
            odoo_db="acme",
            odoo_login="sync@acme",
            odoo_api_key=key,
            odoo_paused_at=paused,
        )
    enabled = set(Tenant.objects.sync_enabled().values_list("slug", flat=True))
    assert enabled == {t.slug for t in Tenant.objects.all() if t.is_sync_enabled}
    assert len(enabled) == 1
    with_odoo = set(Tenant.objects.with_odoo().values_list("slug", flat=True))
    assert with_odoo == {t.slug for t in Tenant.objects.all() if t.has_odoo}
    assert len(with_odoo) == 2


def test_tenants_share_an_odoo_when_server_and_database_are_the_same():
    acme = TenantFactory(pro=True, odoo_url="https://acme.odoo.com", odoo_db="acme")
    same = [
        TenantFactory(pro=True, odoo_url="HTTPS://Acme.odoo.com:443/", odoo_db="acme"),
        TenantFactory(odoo_url="https://acme.odoo.com/", odoo_db="acme"),  # Starter now
    ]
    TenantFactory(pro=True, odoo_url="https://acme.odoo.com:8443", odoo_db="acme")
    TenantFactory(pro=True, odoo_url="https://acme.odoo.com", odoo_db="acme-test")
    TenantFactory(pro=True, odoo_url="http://acme.odoo.com", odoo_db="acme")
    assert Tenant.objects.sharing_odoo_with(acme) == sorted([acme.pk, *(t.pk for t in same)])
    assert Tenant.objects.sharing_odoo_with(TenantFactory(odoo_url="")) != [acme.pk]
