"""Real processes for integration tests and bench/: celery workers, beat, manage.py runs.

Shared by the tests (through the fixtures in the root conftest.py) and by the
bench/ scripts, so both start, kill and wait on processes the same way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.02, what: str = ""
):
    """Poll `predicate` until it is truthy; fail after `timeout` seconds.

    A condition wait with a deadline, for things another process does: never a
    bare sleep standing in for synchronisation.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def database_url(settings_dict: dict) -> str:
    """The DATABASE_URL of a Django connection's settings (the test database's, in tests)."""
    if "sqlite" in settings_dict["ENGINE"]:
        return f"sqlite:///{settings_dict['NAME']}"
    auth = settings_dict["USER"] + (
        f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
    )
    host = settings_dict["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"


def child_env_for(settings_dict: dict) -> dict[str, str]:
    """Environment for a child process (manage.py, celery) that must use this database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=database_url(settings_dict),
        ODOO_ALLOW_PRIVATE_URLS="true",
        PYTHONUNBUFFERED="1",
    )
    return env


def fresh_broker() -> None:
    """No queued task or drain lock left on this Redis database by an earlier run."""
    from django.conf import settings

    from config.celery import app as celery_app
    from odoo_sync.locks import _redis

    celery_app.control.purge()
    if settings.REDIS_URL:
        client = _redis(settings.REDIS_URL)
        for key in client.scan_iter("regsync:drain-lock:*"):
            client.delete(key)


class Processes:
    """Celery workers, beat and manage.py commands started as real processes.

    Each runs in its own session (process group), so `kill` takes a prefork
    worker's parent and children at once, as a crashed machine would.
    """

    def __init__(self, env: dict[str, str], logdir: Path, cwd: Path):
        self.env = env
        self.logdir = Path(logdir)
        self.cwd = cwd
        self.logs: dict[str, Path] = {}
        self.running: dict[str, subprocess.Popen] = {}
        self._count = 0

    def _start(
        self, name: str, argv: list[str], env: dict[str, str] | None, *, python: bool = True
    ) -> subprocess.Popen:
        self._count += 1
        log = self.logdir / f"{self._count:03d}-{name}.log"
        proc = subprocess.Popen(
            [sys.executable, *argv] if python else argv,
            env={**self.env, **(env or {})},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.cwd,
            start_new_session=True,
        )
        self.logs[name] = log
        self.running[name] = proc
        return proc

    def worker(self, name: str, *, concurrency: int = 1, env: dict | None = None):
        """A `celery worker`: production's prefork pool (the task time limits need it)."""
        argv = ["-m", "celery", "-A", "config", "worker", "--pool", "prefork"]
        argv += ["--concurrency", str(concurrency), "-n", f"{name}@%h", "--loglevel", "INFO"]
        argv += ["--without-mingle", "--without-gossip"]
        # Its INFO lines are read: "ready.", and each task's result.
        return self._start(name, argv, {"LOG_LEVEL": "INFO", **(env or {})})

    def beat(self, name: str = "beat", *, env: dict | None = None) -> subprocess.Popen:
        schedule = self.logdir / f"{name}-schedule"
        argv = ["-m", "celery", "-A", "config", "beat", "--schedule", str(schedule)]
        return self._start(name, [*argv, "--loglevel", "INFO"], env)

    def manage(self, name: str, *args: str, env: dict | None = None) -> subprocess.Popen:
        return self._start(name, ["manage.py", *args], env)

    def serve(self, role: str, name: str = "", *, env: dict | None = None) -> subprocess.Popen:
        """`scripts/serve ROLE` (web, worker, beat, release): production's own commands."""
        python = {"PYTHON": sys.executable}
        argv = ["bash", str(Path(self.cwd) / "scripts" / "serve"), role]
        return self._start(name or role, argv, {**python, **(env or {})}, python=False)

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")

    def wait_ready(self, name: str, *, timeout: float = 60.0) -> None:
        """Until the worker consumes its queue (celery logs 'ready.')."""

        def ready():
            proc = self.running[name]
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited {proc.returncode}:\n{self.log(name)[-3000:]}")
            return " ready." in self.log(name)

        wait_until(ready, timeout=timeout, interval=0.05, what=f"{name} ready")

    def kill(self, name: str) -> None:
        """SIGKILL the whole process group: no handler runs, nothing is acked or released."""
        proc = self.running.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, name: str, *, timeout: float = 15.0) -> int:
        """SIGTERM to the main process (celery's warm shutdown), SIGKILL if it takes too long."""
        proc = self.running.pop(name)
        if proc.poll() is not None:
            return proc.returncode
        proc.terminate()
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait(timeout=5)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def tail(self, chars: int = 3000) -> str:
        return "\n".join(
            f"--- {name} ---\n{path.read_text(errors='replace')[-chars:]}"
            for name, path in self.logs.items()
        )


def as_linked(*registers) -> None:
    """These synced registers as onboarding leaves them: linked to configs Odoo already had,
    so their updates are written by database id (a `write`, a `load` by `.id`), after a read
    of the configs' external ids, rather than sent by external id (docs/odoo.md "Writing
    only what is ours")."""
    from registers.models import PosConfig

    PosConfig.objects.filter(pk__in=[r.pk for r in registers]).update(odoo_made_by_regsync=False)
    for register in registers:
        register.refresh_from_db()
