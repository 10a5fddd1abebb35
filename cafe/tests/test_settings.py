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
    assert proc.stdout.startswith("config.broker:Transport")  # the filesystem one, writing whole
    assert "No hostname was supplied" not in proc.stderr


def _drain_queue_while_written(transport, tmp_path, messages: int = 12) -> int:
    """Write `messages` large messages in a thread while this one takes them; how many it took.

    `_get` raises on a message it reads half-written (an empty or cut JSON file).
    """
    import threading
    import time
    from queue import Empty

    from kombu import Connection

    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    body = {"payload": "x" * 2_000_000}
    with Connection(
        "filesystem://localhost//", transport=transport, transport_options=options
    ) as c:
        writer_channel, reader_channel = c.channel(), c.channel()
        writer = threading.Thread(
            target=lambda: [writer_channel._put("q", body) for _ in range(messages)]
        )
        writer.start()
        taken = 0
        deadline = time.monotonic() + 120  # a bound on a hang, not a speed
        while taken < messages and time.monotonic() < deadline:
            try:
                assert reader_channel._get("q") == body
            except Empty:
                continue
            taken += 1
        writer.join()
    return taken


def test_the_embedded_broker_never_hands_a_worker_a_half_written_message(tmp_path):
    """Kombu's own filesystem transport creates the file, then writes it: a worker polling
    the folder read it empty and stopped (the soak met it on a busy machine)."""
    from config.broker import Transport

    if not settings.REDIS_URL:  # the embedded default uses it
        assert settings.CELERY_BROKER_TRANSPORT == "config.broker:Transport"

    assert _drain_queue_while_written(Transport, tmp_path) == 12
    assert not list((tmp_path / "queue").iterdir())  # nothing left behind, no .part file
