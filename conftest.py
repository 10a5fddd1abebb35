"""Shared fixtures: the sandbox Odoo, tenants connected to it, and test-wide switches."""

import pytest

from config.celery import app as celery_app

pytest_plugins = ["odoo_sync.sandbox.pytest_plugin"]


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
