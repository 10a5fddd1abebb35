"""Start-up refuses missing or malformed secrets with one clear line (no traceback)."""

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
