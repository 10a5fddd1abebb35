"""Shared fixtures: the sandbox Odoo, tenants connected to it, and test-wide switches."""

import pytest

from config.celery import app as celery_app

pytest_plugins = ["odoo_sync.sandbox.pytest_plugin"]


def pytest_addoption(parser):
    parser.addoption(
        "--shift-clock-days",
        type=int,
        default=0,
        help=(
            "run the whole session with the wall clock moved by this many days (negative: "
            "back), ticking: a check that no test depends on today's date (docs/testing.md)"
        ),
    )


# Started in every child process (worker, beat, manage.py) of a shifted session,
# so that they and the tests agree on what time it is.
_SHIFT_CHILD = """
import os
import warnings
from datetime import UTC, datetime, timedelta

# freezegun swaps datetime's classes before C extensions (psycopg) import it;
# they notice the size and warn, harmlessly, on stderr that tests read.
warnings.filterwarnings("ignore", message=r"datetime\\.\\w+ size changed")

from freezegun import freeze_time

_days = int(os.environ["REGSYNC_TEST_SHIFT_CLOCK_DAYS"])
freeze_time(datetime.now(UTC) + timedelta(days=_days), tick=True).start()
"""


@pytest.fixture(autouse=True, scope="session")
def _shifted_clock(request, tmp_path_factory):
    days = request.config.getoption("--shift-clock-days")
    if not days:
        yield
        return
    import os
    from datetime import UTC, datetime, timedelta

    import freezegun
    import freezegun.config
    from freezegun import freeze_time

    site = tmp_path_factory.mktemp("shifted-clock")
    (site / "sitecustomize.py").write_text(_SHIFT_CHILD)
    os.environ["REGSYNC_TEST_SHIFT_CLOCK_DAYS"] = str(days)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(site), os.environ.get("PYTHONPATH")])
    )
    # freezegun gives real time to calls made "from" threading, judged by the
    # few frames nearest the call, so one drain in a thread would read the real
    # clock in one place and the shifted one in another. Under a shift every
    # thread reads the shifted clock.
    freezegun.configure(
        default_ignore_list=[m for m in freezegun.config.DEFAULT_IGNORE_LIST if m != "threading"]
    )
    try:
        with freeze_time(datetime.now(UTC) + timedelta(days=days), tick=True):
            yield
    finally:
        freezegun.configure(default_ignore_list=freezegun.config.DEFAULT_IGNORE_LIST)


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hasher(django_test_environment):
    """Tests hash passwords with MD5: the real hasher is slow by design (~25 s a suite).

    Test settings only; production keeps Django's default (PBKDF2).
    """
    from django.test.utils import override_settings

    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    fast.enable()
    yield
    fast.disable()


@pytest.fixture(autouse=True)
def _unit_test_celery(settings):
    """Unit tests run tasks eagerly and do not push drains on commit.

    A test that is about the on-commit push turns it back on with
    `settings.SYNC_PUSH_ON_COMMIT = True`. Integration tests with real worker
    processes configure those processes through their environment instead.
    """
    settings.SYNC_PUSH_ON_COMMIT = False
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def sandbox_tenant(db, odoo_sandbox):
    """A Pro tenant whose Odoo connection points at the (reset) sandbox Odoo."""
    from cafe.tests.factories import TenantFactory

    return TenantFactory(
        plan="pro",
        odoo_url=odoo_sandbox.url,
        odoo_db=odoo_sandbox.db,
        odoo_login=odoo_sandbox.login,
        odoo_api_key=odoo_sandbox.api_key,
    )


@pytest.fixture
def child_env(transactional_db):
    """Environment for a child process (manage.py, celery) that must see the test database."""
    import os

    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(DATABASE_URL=url, ODOO_ALLOW_PRIVATE_URLS="true", PYTHONUNBUFFERED="1")
    return env


def _wait_until(predicate, *, timeout: float = 10.0, interval: float = 0.02, what: str = ""):
    """Poll `predicate` until it is truthy; fail after `timeout` seconds.

    A condition wait with a deadline, for things another process does: never a
    bare sleep standing in for synchronisation.
    """
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


@pytest.fixture
def wait_until():
    return _wait_until


@pytest.fixture
def operator(db):
    """A superuser: an operator of the whole service."""
    from cafe.tests.factories import OperatorFactory

    return OperatorFactory()
