"""Structured logs (issue 15): JSON lines with a correlation id, tenant and register; never a key."""

import io
import json
import logging
import logging.config
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from cafe.tests.clients import logged_in
from cafe.tests.factories import tenant_on
from config.logging import CorrelationFilter, logging_config
from odoo_sync.drain import drain_tenant
from registers import services

KNOWN_KEY = "known-odoo-key-4f1c9a77e2"
WRONG_KEY = "wrong-odoo-key-b83d10c6aa"
ROTATED_KEY = "rotated-odoo-key-5e92c0d4f1"


@pytest.fixture
def json_lines():
    """Every record logged meanwhile, formatted as production does (settings' JSON formatter)."""
    config = logging_config(log_format="json", level="DEBUG")
    formatter = logging.config.DictConfigurator(config).configure_formatter(
        config["formatters"]["json"]
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(CorrelationFilter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _run_once(child_env, *args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", "odoo_sync", "--once", *args],
        env={**child_env, **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=settings.BASE_DIR,
    )


@pytest.mark.django_db(transaction=True)
def test_a_drain_logs_json_lines_with_one_correlation_id_tenant_and_register(
    child_env, odoo_sandbox
):
    """A real process with the production format: each line one JSON object."""
    odoo_sandbox.rotate_key(KNOWN_KEY)
    tenant = tenant_on(odoo_sandbox)
    bar = services.add_register(tenant, name="Bar", prefix="BAR")
    terrace = services.add_register(tenant, name="Terrace", prefix="TER")
    proc = _run_once(child_env, LOG_FORMAT="json", LOG_LEVEL="DEBUG")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines()]  # every line parses
    attempts = [line for line in lines if line["message"].startswith("odoo_sync attempt")]
    assert {(a["tenant"], a["register"], a["outcome"]) for a in attempts} == {
        (tenant.slug, bar.pk, "synced"),
        (tenant.slug, terrace.pk, "synced"),
    }
    # The message stays readable on its own, and one drain is one id.
    for attempt in attempts:
        assert f"tenant={attempt['tenant']} register={attempt['register']} " in attempt["message"]
    [drain_id] = {a["correlation_id"] for a in attempts}
    assert drain_id.startswith("drain-")
    assert {"time", "level", "logger"} <= set(attempts[0])
    assert KNOWN_KEY not in proc.stdout + proc.stderr


@pytest.mark.django_db(transaction=True)
def test_the_plain_format_carries_the_correlation_id_too(child_env, odoo_sandbox):
    tenant = tenant_on(odoo_sandbox)
    services.add_register(tenant, name="Bar", prefix="BAR")
    proc = _run_once(child_env, LOG_FORMAT="plain")
    [line] = [line for line in proc.stderr.splitlines() if "odoo_sync attempt" in line]
    assert " [drain-" in line and f"tenant={tenant.slug} " in line


@pytest.mark.django_db(transaction=True)
def test_no_api_key_is_ever_logged_drain_pause_key_edit_and_connection_tests(
    settings, child_env, odoo_sandbox, operator, json_lines
):
    """Known key drained, a wrong key (pause), a key edit, connection tests: grep every line."""
    settings.ODOO_ALLOW_PRIVATE_URLS = True
    settings.ODOO_REQUIRE_HTTPS = False
    odoo_sandbox.rotate_key(KNOWN_KEY)
    tenant = tenant_on(odoo_sandbox)
    services.add_register(tenant, name="Bar", prefix="BAR")
    drain_tenant(tenant.pk)  # in this process, every logger at DEBUG

    client = logged_in(operator)
    test_connection = reverse("admin:cafe_tenant_test_connection", args=[tenant.pk])
    client.post(test_connection)  # the right key
    odoo_sandbox.rotate_key(ROTATED_KEY)  # Odoo revoked it: KNOWN_KEY is now wrong
    client.post(test_connection)
    reg = services.add_register(tenant, name="Terrace", prefix="TER")
    child = _run_once(child_env, LOG_FORMAT="json", LOG_LEVEL="DEBUG")  # pauses the tenant
    tenant.refresh_from_db()
    assert tenant.odoo_paused_at is not None
    change = reverse("admin:cafe_tenant_change", args=[tenant.pk])
    form = {
        "name": tenant.name,
        "plan": tenant.plan,
        "odoo_url": tenant.odoo_url,
        "odoo_db": tenant.odoo_db,
        "odoo_login": tenant.odoo_login,
        "odoo_protocol": tenant.odoo_protocol,
        "_save": "Save",
    }
    client.post(change, {**form, "new_api_key": WRONG_KEY})  # an operator's typo
    client.post(test_connection)
    # Five refusals from this address by now (the paused drain's denied call and its
    # login count as two, as in Odoo): its login cooldown would refuse the right key too.
    odoo_sandbox.clear_login_failures()
    client.post(change, {**form, "new_api_key": ROTATED_KEY})  # the right one
    drain_tenant(tenant.pk)
    reg.refresh_from_db()
    assert reg.sync_state == "synced"

    lines = json_lines()
    text = json.dumps(lines) + child.stdout + child.stderr
    # The child knew the uid: the revoked key showed on its first call, which paused the tenant.
    assert len(lines) > 10 and "odoo_sync attempt" in text
    assert '"outcome": "paused"' in child.stderr
    for key in (KNOWN_KEY, WRONG_KEY, ROTATED_KEY):
        assert key not in text


@pytest.mark.django_db
def test_an_admin_request_logs_under_the_id_it_answers_with(operator, json_lines):
    response = logged_in(operator).get("/admin/no-such-page/")
    assert response.status_code == 404
    request_id = response["X-Request-ID"]
    [line] = [line for line in json_lines() if line["logger"] == "django.request"]
    assert line["correlation_id"] == request_id
    assert line["message"].startswith("Not Found: /admin/no-such-page/")


@pytest.mark.django_db
def test_lines_outside_a_request_or_drain_have_no_id(json_lines):
    Client()  # nothing in flight
    logging.getLogger("odoo_sync").info("between drains")
    [line] = [line for line in json_lines() if line["message"] == "between drains"]
    assert line["correlation_id"] == "-"
