"""What bench/kill_matrix.py and bench/races.py share: a throwaway database, sandboxes, processes.

The harness itself (odoo_sync/tests/reliability.py) is the one the tests run.
"""

import json
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("ODOO_ALLOW_PRIVATE_URLS", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def require_postgres_and_redis() -> None:
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        sys.exit(
            "needs PostgreSQL and Redis: set DATABASE_URL=postgres://... and REDIS_URL=redis://..."
        )


@contextmanager
def throwaway_database(suffix: str = "reliability"):
    """A fresh database next to the configured one, dropped afterwards.

    Named `<db>_<suffix>`, so it never clobbers the test database pytest keeps.
    """
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"{old_name}_{suffix}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


@contextmanager
def sandbox_process():
    """A sandbox Odoo in its own process (it must not share the driver's GIL)."""
    from odoo_sandbox.control import Sandbox

    server = subprocess.Popen(
        [sys.executable, "-m", "odoo_sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = re.search(r"listening on (\S+)", server.stdout.readline()).group(1)
        handle = Sandbox(url).reset()
        handle.pid = server.pid  # bench/run.py reads its CPU time
        yield handle
    finally:
        server.terminate()
        server.wait(timeout=10)


def new_tenant(name: str, sandbox):
    from cafe.models import Tenant

    return Tenant.objects.create(
        name=name,
        slug=name.lower().replace(" ", "-"),
        plan="pro",
        odoo_url=sandbox.url,
        odoo_db=sandbox.db,
        odoo_login=sandbox.login,
        odoo_api_key=sandbox.api_key,
    )


def processes(label: str):
    from odoo_sync.tests.harness import Processes, child_env_for

    logdir = ROOT / "var" / "bench" / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    logdir.mkdir(parents=True, exist_ok=True)
    return Processes(child_env_for(connection.settings_dict), logdir, ROOT)


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip()


def write_results(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
