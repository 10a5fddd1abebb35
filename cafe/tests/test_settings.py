"""Start-up refuses missing or malformed secrets with one clear line (no traceback)."""

import os
import subprocess
import sys

import pytest
from django.conf import settings


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FIELD_ENCRYPTION_KEY": ""}, "FIELD_ENCRYPTION_KEY is not set"),
        ({"FIELD_ENCRYPTION_KEY": "not-a-key"}, "key #1 is not a Fernet key"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
    ],
)
def test_missing_or_bad_secret_stops_start_up_with_one_line(env, message):
    proc = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={"PATH": "/usr/bin:/bin", "DEBUG": "false", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("regsync: configuration error: ")
    assert message in lines[0]


def test_the_embedded_broker_starts_without_kombus_hostname_warning(tmp_path):
    """With no REDIS_URL, a worker's broker connection logs nothing about a missing hostname."""
    code = (
        "import logging, django; logging.basicConfig(level=logging.WARNING); django.setup(); "
        "from config.celery import app; "
        "conn = app.connection_for_write(); conn.ensure_connection(max_retries=1); "
        "print(conn.transport_cls, conn.as_uri())"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL") and not k.startswith("PYTEST")
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings", CELERY_BROKER_DIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("filesystem")
    assert "No hostname was supplied" not in proc.stderr
