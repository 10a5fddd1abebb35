"""Shared fixtures: the sandbox Odoo, tenants connected to it, and test-wide switches."""

import os

import pytest

from config.celery import app as celery_app

pytest_plugins = ["odoo_sandbox.pytest_plugin"]


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


@pytest.fixture(autouse=True)
def _no_odoo_client_kept_between_tests():
    """Each test starts with no Odoo client kept from another test's drains (odoo_sync.sessions)."""
    yield
    from odoo_sync.sessions import pool

    pool.clear()


@pytest.fixture
def sandbox_tenant(db, odoo_sandbox):
    """A Pro tenant whose Odoo connection points at the (reset) sandbox Odoo."""
    from cafe.tests.factories import tenant_on

    return tenant_on(odoo_sandbox)


@pytest.fixture
def child_env(transactional_db):
    """Environment for a child process (manage.py, celery) that must see the test database."""
    from django.db import connection

    from odoo_sync.tests.harness import child_env_for

    return child_env_for(connection.settings_dict)


@pytest.fixture
def prefork_on_redis():
    """Production's pool and broker (PostgreSQL, Redis): fails in CI without them, else skips."""
    from django.conf import settings
    from django.db import connection

    if settings.REDIS_URL and connection.vendor == "postgresql":
        return
    if os.environ.get("CI"):
        pytest.fail("CI must run on PostgreSQL and Redis")
    pytest.skip("needs PostgreSQL and REDIS_URL (CI always has both)")


@pytest.fixture
def wait_until():
    """Poll a predicate until it is truthy, with a deadline (odoo_sync/tests/harness.py)."""
    from odoo_sync.tests.harness import wait_until

    return wait_until


@pytest.fixture
def operator(db):
    """A superuser: an operator of the whole service."""
    from cafe.tests.factories import OperatorFactory

    return OperatorFactory()
