"""Rotating FIELD_ENCRYPTION_KEY: `manage.py reencrypt_secrets` moves every secret to the newest key."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from cafe.models import Tenant
from cafe.tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

OLD, NEW, STRANGER = (Fernet.generate_key().decode() for _ in range(3))


def raw_token(tenant) -> str:
    """The key as stored: the Fernet token, not decrypted."""
    from django.db.models import TextField
    from django.db.models.functions import Cast

    row = Tenant.objects.annotate(t=Cast("odoo_api_key", output_field=TextField()))
    return row.values_list("t", flat=True).get(pk=tenant.pk)


def run(*args) -> str:
    out = StringIO()
    call_command("reencrypt_secrets", *args, stdout=out)
    return out.getvalue().strip()


def test_rotation_moves_every_key_to_the_newest_and_the_old_key_can_then_go(settings):
    settings.FIELD_ENCRYPTION_KEY = [OLD]
    tenants = [TenantFactory(pro=True, odoo_api_key=f"odoo-key-{n}") for n in range(3)]
    keyless = TenantFactory(odoo_api_key="")
    before = {t.pk: raw_token(t) for t in tenants}

    settings.FIELD_ENCRYPTION_KEY = [NEW, OLD]  # step 1: prepend the new key
    with pytest.raises(SystemExit) as exit_:
        run("--check")
    assert exit_.value.code == 1
    assert {t.pk: raw_token(t) for t in tenants} == before  # --check writes nothing

    assert run() == "Re-encrypted 3 secret(s) with the newest key; 0 already used it."
    assert all(raw_token(t) != before[t.pk] for t in tenants)
    assert run("--check") == "0 secret(s) still need re-encrypting; 3 use the newest key."

    settings.FIELD_ENCRYPTION_KEY = [NEW]  # step 3: the old key is gone
    for n, tenant in enumerate(tenants):
        assert Tenant.objects.get(pk=tenant.pk).odoo_api_key == f"odoo-key-{n}"
        with pytest.raises(Exception):  # noqa: B017 - the old key alone reads nothing now
            Fernet(OLD.encode()).decrypt(raw_token(tenant).encode())
    assert Tenant.objects.get(pk=keyless.pk).odoo_api_key == ""


def test_a_secret_no_key_decrypts_stops_the_rotation_before_anything_is_written(settings):
    settings.FIELD_ENCRYPTION_KEY = [OLD]
    mine = TenantFactory(pro=True, odoo_api_key="mine")
    settings.FIELD_ENCRYPTION_KEY = [STRANGER]
    lost = TenantFactory(pro=True, odoo_api_key="written-with-a-key-since-lost")
    settings.FIELD_ENCRYPTION_KEY = [NEW, OLD]
    before = raw_token(mine)
    with pytest.raises(CommandError) as error:
        run()
    assert str(error.value) == (
        f"cafe.Tenant.odoo_api_key of row {lost.pk} cannot be decrypted with any "
        "FIELD_ENCRYPTION_KEY key; nothing was re-encrypted."
    )
    assert "written-with" not in str(error.value)
    assert raw_token(mine) == before
