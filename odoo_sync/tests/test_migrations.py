"""Data migrations, run forward from the state before them on the test database."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("odoo_sync", "0007_audit_stale_links")]
AFTER = [("odoo_sync", "0009_one_finding_per_config_and_kind_constraint")]


def _migrate(targets):
    """Migrate to `targets`, the other apps' to their latest (the tenants' table as it is
    now, with the columns its later migrations added): the apps as they are then."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    migrated = {app for app, _ in targets}
    latest = [n for n in executor.loader.graph.leaf_nodes() if n[0] == "cafe"]
    targets = [*targets, *(n for n in latest if n[0] not in migrated)]
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_one_finding_per_config():
    apps = _migrate(BEFORE)
    yield apps
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_findings_that_piled_up_become_one_per_config_and_kind(before_one_finding_per_config):
    apps = before_one_finding_per_config
    Tenant = apps.get_model("cafe", "Tenant")
    AuditRun = apps.get_model("odoo_sync", "AuditRun")
    AuditFinding = apps.get_model("odoo_sync", "AuditFinding")
    tenant = Tenant.objects.create(name="Acme", slug="acme", plan="pro")
    day = datetime(2026, 12, 1, 9, tzinfo=UTC)
    runs = [
        AuditRun.objects.create(
            tenant=tenant, started_at=day + timedelta(days=n), finished_at=day, status=status
        )
        for n, status in enumerate(["ok", "ok", "ok", "unreachable"])
    ]

    def found(run, kind, odoo_id, **values):
        return AuditFinding.objects.create(
            run=run, tenant=tenant, kind=kind, odoo_id=odoo_id, **values
        )

    for run in runs[:3]:  # seen by every successful run: still open
        found(run, "unknown_in_odoo", 9, odoo_name="Made in Odoo", odoo_active=True)
    found(runs[0], "renamed_in_odoo", 5, odoo_name="Bar (old)")
    found(runs[1], "renamed_in_odoo", 5, odoo_name="Bar (older)", fixed_at=day)  # gone since

    apps = _migrate(AFTER)
    AuditFinding = apps.get_model("odoo_sync", "AuditFinding")
    unknown, renamed = AuditFinding.objects.order_by("-kind")
    assert AuditFinding.objects.count() == 2
    assert (unknown.kind, unknown.run_id, unknown.first_seen_at) == (
        "unknown_in_odoo",
        runs[2].pk,
        runs[0].started_at,
    )
    assert (unknown.resolved_at, unknown.decision) == (None, "")
    assert (renamed.odoo_name, renamed.first_seen_at) == ("Bar (older)", runs[0].started_at)
    assert (renamed.resolved_at, renamed.decision, renamed.decided_at) == (
        runs[2].started_at,
        "local_wins",
        day,
    )
