"""`seed_demo`: the demo data for `make run`, safe to run on every start."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from cafe.models import Tenant
from registers.models import PosConfig, SyncState

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_prints_the_admin_login(settings):
    settings.DEMO_ADMIN_PASSWORD = "demo-pass"
    settings.ODOO_ALLOW_PRIVATE_URLS = True  # the sandbox Odoo is on loopback
    settings.ODOO_REQUIRE_HTTPS = False
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "login:        admin / demo-pass" in out.getvalue()
    pro = Tenant.objects.get(slug="demo-roasters")
    assert pro.is_sync_enabled
    assert PosConfig.objects.filter(tenant=pro, sync_state=SyncState.PENDING_CREATE).count() == 3
    assert PosConfig.objects.get(tenant__slug="corner-kiosk").sync_state == SyncState.SYNCED

    # The sandbox Odoo starts empty on each run: a second seed re-queues the
    # demo's registers for creation instead of duplicating anything.
    for odoo_id, reg in enumerate(PosConfig.objects.filter(tenant=pro), start=1):
        reg.sync_state, reg.odoo_pos_config_id = SyncState.SYNCED, odoo_id
        reg.save()
    call_command("seed_demo", stdout=StringIO())
    assert Tenant.objects.count() == 2
    requeued = PosConfig.objects.filter(tenant=pro, sync_state=SyncState.PENDING_CREATE)
    assert requeued.count() == 3
    assert not requeued.filter(odoo_pos_config_id__isnull=False).exists()
    assert get_user_model().objects.get(username="admin").check_password("demo-pass")


def test_seed_demo_refuses_without_a_password(settings):
    from django.core.management.base import CommandError

    settings.DEMO_ADMIN_PASSWORD = ""
    with pytest.raises(CommandError, match="make \\.env"):
        call_command("seed_demo", stdout=StringIO())


def test_seed_demo_prints_the_admin_url_on_web_port(settings):
    # `make run WEB_PORT=8010` serves the admin there (Procfile): the URL printed says so.
    settings.DEMO_ADMIN_PASSWORD = "demo-pass"
    settings.ODOO_ALLOW_PRIVATE_URLS = True
    settings.ODOO_REQUIRE_HTTPS = False
    settings.WEB_PORT = 8010
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "admin:        http://127.0.0.1:8010/\n" in out.getvalue()
    assert ":8000" not in out.getvalue()
