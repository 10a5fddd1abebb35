"""The partial index on due work: the planner uses it, so finding work is O(pending)."""

import pytest
from django.db import connection
from django.utils import timezone

from cafe.tests.factories import TenantFactory
from registers.models import PosConfig, SyncState

pytestmark = pytest.mark.django_db

DUE_WORK_SQL = (
    "SELECT id FROM cafe_pos_configs "
    "WHERE sync_state IN ('pending_create', 'pending_update') AND next_attempt_at <= %s"
)


def _plan(sql: str, params: list) -> str:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("ANALYZE cafe_pos_configs")
            cur.execute("EXPLAIN " + sql, params)
        else:
            cur.execute("ANALYZE")
            cur.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row) for row in cur.fetchall())


def test_due_work_query_uses_the_partial_index_on_100k_synced_rows():
    tenant = TenantFactory(pro=True)
    rows = [
        PosConfig(
            tenant=tenant,
            name=f"Register {n}",
            sequence_prefix="R",
            sync_state=SyncState.SYNCED,
            odoo_pos_config_id=n + 1,
        )
        for n in range(100_000)
    ]
    rows += [
        PosConfig(
            tenant=tenant,
            name=f"Pending {n}",
            sequence_prefix="P",
            sync_state=SyncState.PENDING_UPDATE,
            odoo_pos_config_id=200_000 + n,
            next_attempt_at=timezone.now(),
        )
        for n in range(20)
    ]
    PosConfig.objects.bulk_create(rows, batch_size=5000)
    plan = _plan(DUE_WORK_SQL, [timezone.now()])
    assert "cafe_pos_configs_pending_push_idx" in plan, plan


def test_partial_index_covers_exactly_the_pending_states():
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                ["cafe_pos_configs_pending_push_idx"],
            )
        else:
            cur.execute(
                "SELECT sql FROM sqlite_master WHERE name = %s",
                ["cafe_pos_configs_pending_push_idx"],
            )
        definition = cur.fetchone()[0]
    assert "pending_create" in definition and "pending_update" in definition
    assert "synced" not in definition and "sync_error" not in definition
