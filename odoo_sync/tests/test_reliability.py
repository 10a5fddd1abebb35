"""The kill matrix and the races at CI size (the full runs: `make kill-matrix`, `make races`).

Real prefork workers on Redis, real beat and `manage.py odoo_sync --once`,
sandbox Odoos over HTTP; the harness is odoo_sync/tests/reliability.py, the
same code the bench/ scripts run with more repetitions and rows.
"""

import random

import pytest
from django.conf import settings as django_settings

from cafe.tests.factories import tenant_on
from config.celery import app as celery_app
from odoo_sync.tests import reliability
from odoo_sync.tests.harness import Processes, fresh_broker

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def processes(prefork_on_redis, child_env, tmp_path):
    fresh_broker()
    procs = Processes(child_env, tmp_path, django_settings.BASE_DIR)
    yield procs
    procs.stop_all()
    print(procs.tail())


@pytest.mark.parametrize("point", reliability.POINTS)
def test_a_worker_killed_at_any_point_loses_no_edit_and_duplicates_nothing(
    point, processes, odoo_sandbox, odoo_sandbox_factory
):
    processes.env.update(reliability.KILL_ENV)
    sandboxes = {"create": odoo_sandbox, "update": odoo_sandbox_factory()}
    tenants = {op: tenant_on(sandbox) for op, sandbox in sandboxes.items()}
    matrix = reliability.KillMatrix(
        procs=processes, sandboxes=sandboxes, tenants=tenants, rng=random.Random(point)
    )
    matrix.setup()

    run = matrix.run(point, lock_db=reliability.lock_db_settings())
    print(run)

    assert run.at_point_when_killed  # both drains were still at the point when killed
    assert run.recovered, f"not quiet {run.recovery_s}s after the kill"
    assert run.lost == {"create": 0, "update": 0}
    assert run.duplicates == {"create": 0, "update": 0}
    assert run.stuck_claims == 0
    assert run.tenants_sane  # nothing charged, dead-lettered, paused or backing off
    # The recovery waited for the dead worker's lease, not for anything longer.
    assert run.recovery_s < reliability.LEASE_SECONDS + 15


def test_racing_workers_ticks_and_once_runs_drain_one_at_a_time_and_write_each_edit_once(
    settings, processes, odoo_sandbox, wait_until
):
    # Every edit also pushes a drain on commit, as an admin edit does.
    settings.SYNC_PUSH_ON_COMMIT = True
    celery_app.conf.task_always_eager = False
    processes.env.update(reliability.RACE_ENV)
    tenant = tenant_on(odoo_sandbox)

    figures = reliability.run_races(
        procs=processes,
        tenant=tenant,
        sandbox=odoo_sandbox,
        workers=2,
        rows=60,
        edits=120,
        once_loops=1,
        rng=random.Random(7),
        quiet_timeout=90,
    )

    print(reliability.races_table([figures]))
    assert figures.errors == []
    assert figures.quiet
    # Every edit was made (a fixed amount of work, however slow the machine), and the
    # drains did race: some found the tenant busy, and more than one reached Odoo.
    assert figures.edits == 120 and figures.found_busy > 0 and figures.drains_in_odoo > 1
    assert figures.max_concurrent_drains == 1
    assert figures.max_creates_per_row == 1 and figures.duplicate_pos_config == 0
    assert figures.max_writes_of_one_edit == 1
    assert figures.writes_per_written_edit == 1.0
    assert figures.writes_of_values_never_made == 0
    assert figures.lost_edits == 0
    assert figures.stuck_claims == 0
