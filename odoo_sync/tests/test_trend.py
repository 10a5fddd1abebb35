"""The overview's last 24 hours, per hour: what reporting.hourly_trend counts and measures."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from freezegun import freeze_time

from cafe.tests.clients import logged_in
from cafe.tests.factories import TenantFactory, TenantStaffFactory
from odoo_sync import reporting
from odoo_sync.models import SyncAttempt
from registers.models import RegisterEvent, SyncState
from registers.state import Event
from registers.tests.factories import PosConfigFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
Outcome = SyncAttempt.Outcome


def at(hh_mm_ss: str, *, days_before: int = 0) -> datetime:
    h, m, s = (float(x) for x in hh_mm_ss.split(":"))
    when = datetime(2026, 3, 1, int(h), int(m), tzinfo=UTC) + timedelta(seconds=s)
    return when - timedelta(days=days_before)


def event(register, when, action, from_state, to_state):
    with freeze_time(when):
        RegisterEvent.objects.create(
            register=register, action=action, from_state=from_state, to_state=to_state
        )


def attempt(register, when, outcome):
    with freeze_time(when):
        SyncAttempt.objects.create(
            tenant_id=register.tenant_id, register=register, action="update", outcome=outcome
        )


@pytest.fixture
def day():
    """Acme: an edit landing in 2 s (10:05), an add in 0.5 s and an edit edited again while
    waiting, landing 10 s after the first edit (11:xx), a retry and a dead letter (11:xx).
    Harbour: one sync at 12:10 and one 25 h ago. Hidden: a sync nobody asked about."""
    acme, harbour, hidden = (TenantFactory(pro=True) for _ in range(3))
    bar, kiosk, patio = (PosConfigFactory(tenant=acme, pushed=True) for _ in range(3))
    synced, update, create = SyncState.SYNCED, SyncState.PENDING_UPDATE, SyncState.PENDING_CREATE
    event(bar, at("10:05:00"), Event.EDITED, synced, update)
    event(bar, at("10:05:02"), Event.WRITE_LANDED, update, synced)
    attempt(bar, at("10:05:02"), Outcome.SYNCED)
    event(kiosk, at("11:10:00"), "added", "", create)
    event(kiosk, at("11:10:00.5"), Event.CREATE_LANDED, create, synced)
    attempt(kiosk, at("11:10:00.5"), Outcome.SYNCED)
    event(patio, at("11:00:00"), Event.EDITED, synced, update)
    event(patio, at("11:00:05"), Event.EDITED, update, update)  # edited again: still waiting
    event(patio, at("11:00:10"), Event.WRITE_LANDED, update, synced)
    attempt(patio, at("11:20:00"), Outcome.RETRY)
    attempt(patio, at("11:40:00"), Outcome.DEAD_LETTERED)
    attempt(patio, at("11:41:00"), Outcome.SUPERSEDED)  # neither a sync nor a failure
    attempt(PosConfigFactory(tenant=harbour, pushed=True), at("12:10:00"), Outcome.SYNCED)
    attempt(
        PosConfigFactory(tenant=harbour, pushed=True), at("11:00:00", days_before=1), Outcome.SYNCED
    )
    attempt(PosConfigFactory(tenant=hidden, pushed=True), at("12:00:00"), Outcome.SYNCED)
    return acme, harbour, hidden


def test_each_hour_counts_syncs_failures_dead_letters_and_edit_to_odoo_times(day):
    acme, harbour, hidden = day
    trend = reporting.hourly_trend([acme.pk, harbour.pk], now=NOW)
    hours = trend["hours"]
    assert (len(hours), hours[0], hours[-1]) == (24, at("13:00:00", days_before=1), at("12:00:00"))
    overall = trend["overall"]
    assert overall["synced"][21:] == [1, 1, 1]  # 10:00, 11:00, 12:00
    assert overall["failed"][21:] == [0, 2, 0]
    assert overall["dead"][21:] == [0, 1, 0]
    assert sum(overall["synced"]) == 3  # not the one 25 h ago, nor the hidden tenant's
    assert overall["p50"][21:] == [2000, 500, None]
    assert overall["p95"][21:] == [2000, 10000, None]
    assert overall["totals"] == {"synced": 3, "failed": 2, "dead": 1, "p50": 2000, "p95": 10000}
    assert set(trend["per_tenant"]) == {acme.pk, harbour.pk}  # not `hidden`
    assert hidden.pk not in trend["per_tenant"]
    assert trend["per_tenant"][harbour.pk]["totals"]["synced"] == 1
    assert trend["per_tenant"][acme.pk]["totals"]["p50"] == 2000


def test_percentile_is_the_nearest_rank():
    assert reporting.percentile([], 50) is None
    assert reporting.percentile([5, 1, 3, 2, 4], 50) == 3
    assert reporting.percentile(list(range(1, 101)), 95) == 95


@freeze_time(NOW)
def test_the_overview_draws_the_trend_of_the_tenants_the_user_sees(day):
    acme, harbour, _ = day
    staff = TenantStaffFactory(tenants=[acme])
    page = logged_in(staff).get(reverse("admin:odoo_sync_overview")).content.decode()
    chart = page[page.index('id="sync-trend"') : page.index('id="sync-per-tenant"')]
    assert chart.count("<svg") == 2  # all of theirs, and Acme's own
    assert "2 synced, 2 failed, 1 dead letter" in chart
    assert "edit to Odoo p50 2 s, p95 10 s" in chart
    assert harbour.name not in chart
