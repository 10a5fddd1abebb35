"""Health checks and Prometheus metrics (issue 15): what a load balancer and Prometheus see."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time
from prometheus_client.parser import text_string_to_metric_families

from cafe.tests.factories import TenantFactory, tenant_on
from odoo_sync import housekeeping
from odoo_sync.drain import drain_tenant
from odoo_sync.models import AuditFinding, AuditRun, SyncAttempt, SyncAttemptTally
from registers import services
from registers.models import SyncState

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"


# --- health -----------------------------------------------------------------------------------


def _health(path: str) -> tuple[int, dict, str]:
    response = Client().get(path)
    body = response.content.decode()
    assert "\n" not in body.strip()  # one line
    return response.status_code, json.loads(body), body


def test_healthz_answers_ok_without_a_login_while_the_database_answers():
    assert _health("/healthz")[:2] == (200, {"status": "ok"})


@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_when_the_database_is_unreachable():
    saved = dict(connection.settings_dict)
    connection.close()
    # A port where nothing listens: the next query's connect fails for real.
    connection.settings_dict.update(HOST="127.0.0.1", PORT="9", NAME="nothing-here")
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-dir/regsync.sqlite3"
    try:
        status, body, _ = _health("/healthz")
        beat_status, beat_body, _ = _health("/healthz/beat")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert (status, body) == (503, {"status": "unavailable", "reason": "database unreachable"})
    assert (beat_status, beat_body["reason"]) == (503, "database unreachable")


@pytest.mark.parametrize(
    ("path", "name", "periods", "what"),
    [("/healthz/beat", "tick", 2, "tick"), ("/healthz/worker", "worker", 3, "worker heartbeat")],
)
def test_heartbeat_health_follows_the_last_beat(settings, path, name, periods, what):
    settings.SYNC_TICK_SECONDS = 60
    tenant = TenantFactory(name="Secret Cafe Name")
    status, body, raw = _health(path)
    assert (status, body) == (503, {"status": "unavailable", "reason": f"no {what} recorded yet"})

    with freeze_time("2031-03-01 12:00:00"):
        housekeeping.beat(name)
    with freeze_time("2031-03-01 12:00:30"):
        assert _health(path)[:2] == (200, {"status": "ok", "age_seconds": 30})
    with freeze_time(f"2031-03-01 12:{periods:02d}:00"):
        assert _health(path)[0] == 200  # exactly at the limit: still fresh
    with freeze_time(f"2031-03-01 12:{periods:02d}:01"):
        status, body, raw = _health(path)
    assert status == 503
    assert body["reason"] == f"last {what} {periods * 60 + 1} s ago (limit {periods * 60} s)"
    assert tenant.name not in raw and tenant.slug not in raw


def test_health_checks_are_not_redirected_to_https_but_the_admin_is(settings):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/admin/").status_code == 301


def test_health_refuses_a_post():
    assert Client().post("/healthz").status_code == 405


def test_every_response_carries_a_request_id_and_keeps_a_plain_given_one():
    client = Client()
    assert client.get("/healthz")["X-Request-ID"].startswith("req-")
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-42")["X-Request-ID"] == "lb-42"
    odd = client.get("/healthz", HTTP_X_REQUEST_ID="a b\x01<script>")["X-Request-ID"]
    assert odd.startswith("req-")


# --- metrics: access ----------------------------------------------------------------------------


def test_metrics_do_not_exist_without_a_token(settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


def test_metrics_refuse_a_missing_or_wrong_token_without_saying_more(settings):
    settings.METRICS_TOKEN = TOKEN
    client = Client()
    missing = client.get("/metrics")
    assert (missing.status_code, missing.content) == (401, b"Unauthorized\n")
    assert missing["WWW-Authenticate"] == "Bearer"
    for header in (f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN):
        response = client.get("/metrics", HTTP_AUTHORIZATION=header)
        assert response.status_code in (401, 403), header
        assert b"regsync" not in response.content


# --- metrics: what they say --------------------------------------------------------------------


def scrape(client=None) -> dict:
    """{(sample name, frozenset(labels)): value} of one scrape, parsed as Prometheus does."""
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.ODOO_ALLOW_PRIVATE_URLS = True


@pytest.mark.django_db(transaction=True)
def test_metrics_count_registers_due_work_dead_letters_and_tenant_health(
    metrics_on, sandbox_tenant, odoo_sandbox_factory
):
    services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    services.add_register(sandbox_tenant, name="Terrace", prefix="TER")
    drain_tenant(sandbox_tenant.pk)
    other_odoo = odoo_sandbox_factory()
    paused = tenant_on(other_odoo, slug="paused-cafe")
    other_odoo.rotate_key("a-new-key")
    services.add_register(paused, name="Kiosk", prefix="KIO")
    drain_tenant(paused.pk)  # Odoo refuses the key: the tenant pauses
    with freeze_time(timezone.now() + timedelta(minutes=7)):
        samples = scrape()

    slug = sandbox_tenant.slug
    assert value(samples, "regsync_registers", tenant=slug, state=SyncState.SYNCED) == 2
    assert value(samples, "regsync_registers", tenant="paused-cafe", state="pending_create") == 1
    assert (
        value(samples, "regsync_due_registers", tenant="paused-cafe", state="pending_create") == 1
    )
    age = value(
        samples, "regsync_oldest_due_age_seconds", tenant="paused-cafe", state="pending_create"
    )
    assert 7 * 60 <= age < 8 * 60
    assert value(samples, "regsync_due_registers", tenant=slug, state="pending_update") == 0
    assert value(samples, "regsync_dead_letters", tenant=slug) == 0
    assert value(samples, "regsync_tenant_paused", tenant="paused-cafe") == 1
    assert value(samples, "regsync_tenant_paused", tenant=slug) == 0
    assert value(samples, "regsync_tenants_paused") == 1
    assert value(samples, "regsync_tenants_unreachable") == 0


@pytest.mark.django_db(transaction=True)
def test_a_pro_tenant_that_never_reached_its_odoo_counts_as_unreachable(metrics_on, sandbox_tenant):
    # A cafe whose connection Odoo never accepted (no register, so no drain ran).
    TenantFactory(pro=True, slug="never-cafe")
    drain_tenant(sandbox_tenant.pk)  # this one logs in: in contact
    samples = scrape()
    assert value(samples, "regsync_tenant_unreachable", tenant="never-cafe") == 1
    assert value(samples, "regsync_tenant_never_connected", tenant="never-cafe") == 1
    assert value(samples, "regsync_tenant_unreachable", tenant=sandbox_tenant.slug) == 0
    assert value(samples, "regsync_tenant_never_connected", tenant=sandbox_tenant.slug) == 0
    assert value(samples, "regsync_tenants_unreachable") == 1
    assert value(samples, "regsync_tenants_never_connected") == 1


@pytest.mark.django_db(transaction=True)
def test_metrics_count_attempts_and_odoo_call_durations_and_survive_pruning(
    metrics_on, settings, sandbox_tenant, odoo_sandbox
):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    odoo_sandbox.add_latency(0.06, method="pos.config.load")
    drain_tenant(sandbox_tenant.pk)  # a create
    services.rename_register(reg, name="Bar 2")
    drain_tenant(sandbox_tenant.pk)  # a write, >= 60 ms
    reg.refresh_from_db()
    odoo_sandbox.delete_pos_config(reg.odoo_pos_config_id)
    services.rename_register(reg, name="Bar 3")
    drain_tenant(sandbox_tenant.pk)  # deleted in Odoo: dead-lettered at once
    sandbox_tenant.refresh_from_db()
    protocol = sandbox_tenant.odoo_detected_protocol or "xmlrpc"

    before = scrape()
    assert value(before, "regsync_sync_attempts_total", action="create", outcome="synced") == 1
    assert value(before, "regsync_sync_attempts_total", action="update", outcome="synced") == 1
    assert (
        value(before, "regsync_sync_attempts_total", action="update", outcome="dead_lettered") == 1
    )
    assert value(before, "regsync_dead_letters", tenant=sandbox_tenant.slug) == 1
    histogram = "regsync_odoo_call_duration_seconds"
    assert value(before, f"{histogram}_count", protocol=protocol) == 3
    assert value(before, f"{histogram}_bucket", protocol=protocol, le="+Inf") == 3
    assert value(before, f"{histogram}_bucket", protocol=protocol, le="0.05") <= 1  # 2 waited 60 ms
    ms = sum(SyncAttempt.objects.values_list("duration_ms", flat=True))
    assert value(before, f"{histogram}_sum", protocol=protocol) == pytest.approx(ms / 1000)

    # Pruning moves the history into the tally: the counters never go down.
    later = timezone.now() + timedelta(days=settings.SYNC_ATTEMPT_RETENTION_DAYS + 1)
    assert housekeeping.prune_attempts(now=later) == 3
    assert not SyncAttempt.objects.exists() and SyncAttemptTally.objects.exists()
    after = scrape()
    counters = {k: v for k, v in before.items() if k[0].startswith(("regsync_sync", histogram))}
    assert counters and {k: after[k] for k in counters} == counters
    assert housekeeping.prune_attempts(now=later) == 0
    assert {k: scrape()[k] for k in counters} == counters


def test_metrics_show_the_ticks_time_and_duration(metrics_on):
    from odoo_sync.tasks import tick

    tick()
    samples = scrape()
    last = value(samples, "regsync_last_tick_timestamp_seconds")
    assert abs(last - timezone.now().timestamp()) < 60
    assert 0 <= value(samples, "regsync_tick_duration_seconds") < 30


def _audit_run(tenant, at, kinds, *, decided=()):
    """An audit of `tenant` at `at` that saw one config of each kind (ids from 1), and configs
    of the kinds in `decided` (ids from 100) that someone decided about ("local wins")."""
    run = AuditRun.objects.create(
        tenant=tenant, started_at=at, finished_at=at, status=AuditRun.Status.OK
    )
    AuditFinding.objects.filter(tenant=tenant).update(resolved_at=at)  # gone unless seen again
    for odoo_id, kind in enumerate(kinds, start=1):
        AuditFinding.objects.update_or_create(
            tenant=tenant,
            kind=kind,
            odoo_id=odoo_id,
            defaults={"run": run, "first_seen_at": at, "resolved_at": None},
        )
    for odoo_id, kind in enumerate(decided, start=100):
        AuditFinding.objects.create(
            run=run,
            tenant=tenant,
            kind=kind,
            odoo_id=odoo_id,
            first_seen_at=at,
            decision=AuditFinding.Decision.LOCAL_WINS,
            decided_at=at,
        )
    return run


def test_metrics_show_the_findings_that_need_a_decision_per_tenant(metrics_on):
    tenant = TenantFactory(pro=True)
    now = timezone.now()
    Kind = AuditFinding.Kind
    _audit_run(tenant, now - timedelta(days=1), [Kind.RENAMED, Kind.DELETED, Kind.UNKNOWN])
    last = _audit_run(tenant, now, [Kind.UNKNOWN, Kind.UNKNOWN], decided=[Kind.RENAMED])
    AuditFinding.objects.filter(kind=Kind.UNKNOWN, odoo_id=2).update(
        decision=AuditFinding.Decision.IGNORED
    )
    samples = scrape()
    slug = tenant.slug
    assert value(samples, "regsync_drift_findings", tenant=slug, kind=Kind.UNKNOWN) == 1
    assert value(samples, "regsync_drift_findings", tenant=slug, kind=Kind.RENAMED) == 0
    assert value(samples, "regsync_drift_findings", tenant=slug, kind=Kind.DELETED) == 0
    stamp = value(samples, "regsync_last_audit_timestamp_seconds", tenant=slug)
    assert stamp == pytest.approx(last.started_at.timestamp())


def test_a_scrape_costs_the_same_few_queries_for_many_tenants(
    metrics_on, django_assert_max_num_queries
):
    for n in range(12):
        tenant = TenantFactory(slug=f"cafe-{n}")
        services.add_register(tenant, name="Bar", prefix="BAR")
    client = Client()
    with django_assert_max_num_queries(9):
        samples = scrape(client)
    assert value(samples, "regsync_registers", tenant="cafe-11", state="synced") == 1


def test_metrics_name_tenants_by_slug_and_never_show_secrets(metrics_on, sandbox_tenant):
    services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    text = response.content.decode()
    assert f'tenant="{sandbox_tenant.slug}"' in text
    for secret in (sandbox_tenant.odoo_api_key, sandbox_tenant.odoo_url, sandbox_tenant.name):
        assert secret not in text
