"""The partial indexes: the queries the tick and the drain really run use them.

So finding work costs O(pending) and counting dead letters O(dead letters),
never O(all registers).
"""

import pytest
from django.db import connection, transaction
from django.utils import timezone

from cafe.tests.factories import TenantFactory
from odoo_sync import claims, due, reporting
from registers.models import PosConfig, SyncState

pytestmark = pytest.mark.django_db

PENDING_IDX = "cafe_pos_configs_due_idx"
DEAD_IDX = "cafe_pos_configs_dead_idx"


def _analyze() -> None:
    with connection.cursor() as cur:
        cur.execute("ANALYZE cafe_pos_configs" if connection.vendor == "postgresql" else "ANALYZE")


def _captured_sql(fn) -> list[tuple[str, tuple]]:
    """The statements `fn` runs, with their parameters."""
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        fn()
    return seen


def _plan(sql: str, params) -> str:
    explain = "EXPLAIN " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cur:
        cur.execute(explain + sql, params)
        return "\n".join(str(row) for row in cur.fetchall())


@pytest.fixture(scope="module")
def hundred_thousand_synced_and_a_few_due(django_db_setup, django_db_blocker):
    """Built once, in a transaction that is rolled back after this module's tests.

    Each test's own transaction nests inside it (a savepoint), so the rows are
    seen here and never leak into the counts other modules assert.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _build_hundred_thousand()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _build_hundred_thousand():
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
    rows += [
        PosConfig(
            tenant=tenant,
            name=f"Dead {n}",
            sequence_prefix="D",
            sync_state=SyncState.SYNC_ERROR,
            odoo_pos_config_id=300_000 + n,
        )
        for n in range(5)
    ]
    PosConfig.objects.bulk_create(rows, batch_size=5000)
    _analyze()
    return tenant


def test_the_ticks_and_drains_queries_use_the_partial_indexes_on_100k_synced_rows(
    hundred_thousand_synced_and_a_few_due,
):
    tenant = hundred_thousand_synced_and_a_few_due
    now = timezone.now()

    # The tick: which tenants have due work (one query).
    [(sql, params)] = _captured_sql(lambda: due.tenants_with_due_work(now=now))
    assert PENDING_IDX in _plan(sql, params)

    # The drain: which rows to claim next.
    claim_qs = claims.claimable(tenant.pk, now=now)[:50]
    sql, params = claim_qs.query.sql_with_params()
    assert PENDING_IDX in _plan(sql, params)

    # The tick's health line: pending work and dead letters, each on its index.
    statements = _captured_sql(lambda: reporting.unsettled_by_tenant(now=now))
    plans = [_plan(sql, params) for sql, params in statements if "cafe_pos_configs" in sql]
    assert any(PENDING_IDX in p for p in plans), plans
    assert any(DEAD_IDX in p for p in plans), plans
    health = reporting.unsettled_by_tenant(now=now)[tenant.pk]
    assert (health["pending_update"], health["sync_error"]) == (20, 5)


def test_partial_index_covers_exactly_the_pending_states():
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [PENDING_IDX])
        else:
            cur.execute("SELECT sql FROM sqlite_master WHERE name = %s", [PENDING_IDX])
        definition = cur.fetchone()[0]
    assert "pending_create" in definition and "pending_update" in definition
    assert "synced" not in definition and "sync_error" not in definition


def test_every_index_the_models_declare_exists_after_all_migrations():
    """Migration state and database agree, on SQLite as on PostgreSQL.

    An index made with raw SQL that the state does not know is dropped by
    SQLite's table rebuilds in later migrations: the embedded default lost
    the due-work index that way.
    """
    from django.apps import apps

    missing = []
    with connection.cursor() as cur:
        for model in apps.get_models():
            declared = [index.name for index in model._meta.indexes]
            if not declared:
                continue
            present = connection.introspection.get_constraints(cur, model._meta.db_table)
            missing += [
                f"{model._meta.db_table}.{name}" for name in declared if name not in present
            ]
    assert not missing
    assert PENDING_IDX in [i.name for i in PosConfig._meta.indexes]
