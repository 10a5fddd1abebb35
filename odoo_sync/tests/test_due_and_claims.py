"""Without Odoo: finding due work, claims, counts per state, queue health, history pruning."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from cafe.tests.factories import TenantFactory
from odoo_sync import claims, due, housekeeping, reporting
from odoo_sync.models import SyncAttempt
from registers.tests.factories import PosConfigFactory

pytestmark = pytest.mark.django_db

NOW = "2026-11-24 10:00:00"


@freeze_time(NOW)
def test_tenants_with_due_work_is_one_query_over_sync_enabled_tenants():
    ready = PosConfigFactory(pending_create=True)
    PosConfigFactory(pushed=True)  # synced: nothing due
    later = PosConfigFactory(
        pending_create=True, next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    paused = PosConfigFactory(pending_create=True)
    paused.tenant.odoo_paused_at = timezone.now()
    paused.tenant.save()
    backing_off = PosConfigFactory(pending_create=True)
    backing_off.tenant.odoo_next_attempt_at = timezone.now() + timedelta(minutes=1)
    backing_off.tenant.save()

    with CaptureQueriesContext(connection) as ctx:
        found = due.tenants_with_due_work()
    assert len(ctx.captured_queries) == 1
    assert found == [ready.tenant_id]
    assert later.tenant_id not in found
    assert set(due.tenants_with_due_work(include_backing_off=True)) == {
        ready.tenant_id,
        backing_off.tenant_id,
    }


@freeze_time(NOW)
def test_claimed_rows_are_not_due_until_the_claim_expires():
    reg = PosConfigFactory(pending_create=True)
    [claim] = claims.claim_due(reg.tenant_id, limit=10, connection_revision=0)
    assert claims.claim_due(reg.tenant_id, limit=10, connection_revision=0) == []
    assert due.tenants_with_due_work() == []
    with freeze_time(timezone.now() + timedelta(seconds=django_settings.SYNC_CLAIM_SECONDS + 1)):
        [again] = claims.claim_due(reg.tenant_id, limit=10, connection_revision=0)
    assert again.register_id == claim.register_id
    assert again.token != claim.token


def test_release_gives_rows_back_uncharged():
    reg = PosConfigFactory(pending_create=True)
    taken = claims.claim_due(reg.tenant_id, limit=10, connection_revision=0)
    assert claims.release_claims(taken) == 1
    reg.refresh_from_db()
    assert (reg.claim_token, reg.sync_retries) == (None, 0)
    assert len(claims.claim_due(reg.tenant_id, limit=10, connection_revision=0)) == 1


def test_status_counts_per_state_and_per_tenant():
    tenant = TenantFactory(pro=True)
    PosConfigFactory(tenant=tenant, pending_create=True)
    PosConfigFactory(tenant=tenant, dead_update=True)
    PosConfigFactory()
    assert reporting.status_counts() == {
        "pos_configs_total": 3,
        "pending_create": 1,
        "pending_update": 0,
        "sync_error": 1,
        "synced": 1,
    }
    assert reporting.status_counts(tenant_id=tenant.pk)["pos_configs_total"] == 2


def test_queue_health_shows_oldest_due_age_and_dead_letters():
    with freeze_time(NOW) as clock:
        reg = PosConfigFactory(pending_create=True)
        PosConfigFactory(tenant=reg.tenant, dead_update=True)
        clock.tick(timedelta(minutes=7))
        health = reporting.queue_health()[reg.tenant_id]
    assert health["oldest_due_age"] == timedelta(minutes=7)
    assert health["sync_error"] == 1
    assert health["pending_create"] == 1


def test_history_older_than_retention_is_pruned(settings):
    retention = timedelta(days=settings.SYNC_ATTEMPT_RETENTION_DAYS)
    with freeze_time(NOW) as clock:
        reg = PosConfigFactory(pushed=True)
        clock.move_to(timezone.now() - retention - timedelta(minutes=1))
        SyncAttempt.objects.create(
            tenant=reg.tenant, register=reg, action="create", outcome="synced"
        )
        clock.move_to(NOW)
        recent = SyncAttempt.objects.create(
            tenant=reg.tenant, register=reg, action="update", outcome="synced"
        )
        assert housekeeping.prune_attempts() == 1
    assert list(SyncAttempt.objects.all()) == [recent]


def test_backoff_schedule_repeats_its_last_step():
    schedule = [1, 5, 15, 60, 240]
    assert [due.backoff_for(n, schedule).seconds // 60 for n in range(1, 8)] == [
        1,
        5,
        15,
        60,
        240,
        240,
        240,
    ]


def test_timeouts_are_ordered_so_each_layer_gives_up_before_the_next(settings):
    one_row = 2 * (settings.ODOO_CONNECT_TIMEOUT + settings.ODOO_READ_TIMEOUT)  # write + check
    ordered = [
        one_row,
        settings.SYNC_TASK_SOFT_TIME_LIMIT,
        settings.SYNC_TASK_TIME_LIMIT,
        settings.SYNC_CLAIM_SECONDS,
        settings.CELERY_VISIBILITY_TIMEOUT,
    ]
    assert ordered == sorted(ordered) and len(set(ordered)) == len(ordered)
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT == settings.SYNC_TASK_SOFT_TIME_LIMIT
    assert settings.CELERY_TASK_TIME_LIMIT == settings.SYNC_TASK_TIME_LIMIT


def test_tick_logs_oldest_due_age_and_dead_letters_per_tenant(caplog):
    with freeze_time(NOW) as clock:
        stuck = PosConfigFactory(pending_create=True, tenant__slug="stuck-cafe")
        PosConfigFactory(tenant=stuck.tenant, dead_update=True)
        quiet = PosConfigFactory(pushed=True, tenant__slug="quiet-cafe")
        # Downgraded to Starter with a row still queued: it never syncs, so it
        # is not a stuck queue.
        downgraded = PosConfigFactory(pending_create=True, tenant__slug="downgraded-cafe")
        downgraded.tenant.plan = "starter"
        downgraded.tenant.save()
        clock.tick(timedelta(minutes=11))
        PosConfigFactory(pending_create=True, tenant__slug="fresh-cafe")
        with caplog.at_level("INFO", logger="odoo_sync"):
            reporting.log_queue_health()
    lines = {r.getMessage().split()[2]: r for r in caplog.records}
    assert "tenant=stuck-cafe" in lines
    assert lines["tenant=stuck-cafe"].levelname == "WARNING"
    assert "oldest_due_age_s=660 dead_letters=1" in lines["tenant=stuck-cafe"].getMessage()
    assert lines["tenant=fresh-cafe"].levelname == "INFO"
    assert "oldest_due_age_s=0 dead_letters=0" in lines["tenant=fresh-cafe"].getMessage()
    assert f"tenant={quiet.tenant.slug}" not in lines
    assert "tenant=downgraded-cafe" not in lines


def test_timeouts_set_out_of_order_are_refused_at_startup(child_env):
    import subprocess
    import sys

    from django.conf import settings as django_settings

    env = {**child_env, "SYNC_CLAIM_SECONDS": "200", "SYNC_TASK_TIME_LIMIT": "250"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "Timeouts out of order" in done.stderr
    assert "50 < 240 < 250 < 200" in done.stderr
