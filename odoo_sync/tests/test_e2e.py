"""End to end: real `celery worker` and `celery beat` processes sync edits to the sandbox Odoo.

Nothing here calls the drain: the beat tick and the on-commit push do. The
broker is the one configured (Redis in CI, the filesystem broker without
REDIS_URL), and the processes share the test database.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config.celery import app as celery_app
from registers import services
from registers.models import PosConfig, SyncState

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def celery_processes(child_env, tmp_path):
    """Start Celery processes by name ("worker", "beat"); stopped (and logs shown) at teardown."""
    celery_app.control.purge()  # nothing left over from another test's run
    env = {**child_env, "SYNC_TICK_SECONDS": "1", "SYNC_PUSH_ON_COMMIT": "false"}
    started: list[tuple[str, subprocess.Popen, Path]] = []
    # Production's prefork pool on Redis (it enforces the task time limits);
    # the filesystem broker of the embedded default runs a thread pool.
    pool = "prefork" if settings.REDIS_URL else "threads"

    def start(*names: str):
        for name in names:
            log = tmp_path / f"{name}.log"
            args = {
                "worker": ["worker", "--pool", pool, "--concurrency", "2", "-n", "e2e@%h"],
                "beat": ["beat", "--schedule", str(tmp_path / "beat-schedule")],
            }[name]
            proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", *args, "--loglevel", "INFO"],
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
                cwd=settings.BASE_DIR,
                start_new_session=True,
            )
            started.append((name, proc, log))

    yield start
    for name, proc, log in started:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        print(f"--- celery {name} log ---\n{log.read_text()[-4000:]}")


def _odoo_view(sandbox, reg: PosConfig):
    reg.refresh_from_db()
    if reg.sync_state != SyncState.SYNCED or reg.odoo_pos_config_id is None:
        return None
    record = sandbox.pos_config(reg.odoo_pos_config_id)
    return record and (record["name"], record["active"])


def test_beat_and_worker_sync_adds_renames_and_deactivations(
    sandbox_tenant, odoo_sandbox, celery_processes, wait_until
):
    # The test's own edits do not push on commit (conftest): only the tick can.
    bar = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    terrace = services.add_register(sandbox_tenant, name="Terrace", prefix="TER")
    celery_processes("worker", "beat")

    wait_until(lambda: _odoo_view(odoo_sandbox, bar) == ("Bar", True), timeout=60, what="Bar")
    wait_until(lambda: _odoo_view(odoo_sandbox, terrace), timeout=30, what="Terrace created")

    services.rename_register(bar, name="Bar North")
    services.set_register_active(terrace, active=False)
    wait_until(
        lambda: _odoo_view(odoo_sandbox, bar) == ("Bar North", True), timeout=30, what="rename"
    )
    wait_until(
        lambda: _odoo_view(odoo_sandbox, terrace) == ("Terrace", False),
        timeout=30,
        what="deactivation",
    )
    assert len(odoo_sandbox.pos_configs()) == 2  # no duplicates from repeated ticks


def test_an_admin_edit_reaches_odoo_through_the_worker_without_a_tick(
    settings, sandbox_tenant, odoo_sandbox, celery_processes, wait_until
):
    celery_processes("worker")  # no beat: only the on-commit push can do it
    settings.SYNC_PUSH_ON_COMMIT = True
    celery_app.conf.task_always_eager = False
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    wait_until(lambda: _odoo_view(odoo_sandbox, reg) == ("Bar", True), timeout=60, what="push")
    services.rename_register(reg, name="Bar South")
    wait_until(
        lambda: _odoo_view(odoo_sandbox, reg) == ("Bar South", True), timeout=30, what="rename"
    )
