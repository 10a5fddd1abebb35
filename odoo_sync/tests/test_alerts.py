"""Mail to the operators when a tenant pauses or a register dead-letters, one per tenant per hour."""

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from cafe.tests.factories import OperatorFactory, TenantFactory
from odoo_sync import tenant_health
from odoo_sync.drain import drain_tenant
from odoo_sync.models import OperatorAlert
from registers import services
from registers.models import SyncState

pytestmark = pytest.mark.django_db

NOW = "2026-05-04 09:00:00"


@pytest.fixture
def operator_with_mail(db):
    return OperatorFactory(email="ops@example.com")


def _pause(tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tenant_health.pause_tenant(tenant.pk, connection_revision=0, reason="Odoo refused")


@freeze_time(NOW, tick=True)
def test_a_pause_mails_the_operators_once_per_hour_per_tenant(
    operator_with_mail, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.ADMINS = [("Night shift", "night@example.com")]
    tenant = TenantFactory(pro=True, name="Acme")
    _pause(tenant, django_capture_on_commit_callbacks)
    [mail] = mailoutbox
    assert mail.subject == "[regsync] Acme is paused: Odoo refused its connection"
    assert sorted(mail.to) == ["night@example.com", "ops@example.com"]
    assert "Odoo refused" in mail.body

    # Fixed, paused again within the hour: no second mail; another tenant still gets one.
    tenant.odoo_paused_at = None
    tenant.save()
    _pause(tenant, django_capture_on_commit_callbacks)
    other = TenantFactory(pro=True, name="Beta")
    _pause(other, django_capture_on_commit_callbacks)
    assert [m.subject for m in mailoutbox][1:] == [
        "[regsync] Beta is paused: Odoo refused its connection"
    ]

    with freeze_time(timezone.now() + timedelta(minutes=61)):
        tenant.odoo_paused_at = None
        tenant.save()
        _pause(tenant, django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 3
    assert OperatorAlert.objects.filter(tenant=tenant).count() == 2


def test_nothing_is_sent_without_an_operator_address_or_with_alerts_off(
    mailoutbox, django_capture_on_commit_callbacks, settings
):
    tenant = TenantFactory(pro=True)
    _pause(tenant, django_capture_on_commit_callbacks)
    assert mailoutbox == []
    OperatorFactory(email="ops@example.com")
    settings.OPERATOR_ALERTS = False
    tenant.odoo_paused_at = None
    tenant.save()
    _pause(tenant, django_capture_on_commit_callbacks)
    assert mailoutbox == []


@pytest.mark.django_db(transaction=True)  # a real drain
def test_a_dead_lettered_register_mails_the_operators(
    operator_with_mail, mailoutbox, sandbox_tenant, odoo_sandbox
):
    register = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    odoo_sandbox.reply_body_next(
        "<?xml version='1.0'?><methodResponse><fault><value><struct>"
        "<member><name>faultCode</name><value><int>2</int></value></member>"
        "<member><name>faultString</name><value><string>The name is not valid</string></value>"
        "</member></struct></value></fault></methodResponse>",
        method="pos.config.load",
    )
    drain_tenant(sandbox_tenant.pk)
    register.refresh_from_db()
    assert register.sync_state == SyncState.SYNC_ERROR
    [mail] = mailoutbox
    assert mail.subject == f"[regsync] Register 'Bar' of {sandbox_tenant.name} could not be synced"
    assert "The name is not valid" in mail.body


@pytest.mark.django_db(transaction=True)
def test_the_tick_logs_in_tenants_that_never_connected_and_mails_when_they_cannot(
    operator_with_mail, mailoutbox, sandbox_tenant, odoo_sandbox, odoo_unreachable_url, settings
):
    from odoo_sync import tasks

    settings.ODOO_ALLOW_PRIVATE_URLS = True
    # Two cafes with no register yet (nothing due): one mistyped URL, one revoked key.
    mistyped = TenantFactory(pro=True, name="Mistyped", odoo_url=odoo_unreachable_url)
    sandbox_tenant.name = "Refused"
    sandbox_tenant.save(update_fields=["name"])
    odoo_sandbox.rotate_key()
    assert tasks.tick.delay().get() == 0  # nothing due, yet both log in

    mistyped.refresh_from_db()
    sandbox_tenant.refresh_from_db()
    assert mistyped.odoo_unreachable_since is not None
    assert sandbox_tenant.odoo_paused_at is not None
    assert sorted(m.subject for m in mailoutbox) == [
        "[regsync] Mistyped has never reached its Odoo",
        "[regsync] Refused is paused: Odoo refused its connection",
    ]
    assert f"Nothing answered at {odoo_unreachable_url}" in mailoutbox[0].body + mailoutbox[1].body

    # The next tick leaves both alone: one backs off, the other waits for a fix.
    calls = odoo_sandbox.calls()
    tasks.tick.delay().get()
    assert odoo_sandbox.calls() == calls
    assert len(mailoutbox) == 2
