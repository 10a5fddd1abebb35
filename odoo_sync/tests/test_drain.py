"""The drain against the sandbox Odoo over HTTP: every path of the state diagram."""

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from odoo_sync import claims, due, outcomes
from odoo_sync.drain import TenantStatus, drain_all, drain_tenant
from odoo_sync.models import SyncAttempt
from odoo_sync.tests.harness import as_linked
from registers import services
from registers.models import ErrorKind, PosConfig, SyncState
from registers.tests.factories import PosConfigFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _reload(reg: PosConfig) -> PosConfig:
    reg.refresh_from_db()
    return reg


# A fixed instant for tests that move the clock; their data is made inside it.
NOW = "2026-11-24 10:00:00"


def _synced_register(tenant, name="Bar"):
    reg = services.add_register(tenant, name=name, prefix="BAR")
    drain_tenant(tenant.pk)
    return _reload(reg)


# --- create half --------------------------------------------------------------------


def test_pending_create_is_pushed_and_stores_the_odoo_id(sandbox_tenant, odoo_sandbox):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    result = drain_tenant(sandbox_tenant.pk)
    reg = _reload(reg)
    assert (result.status, result.created) == (TenantStatus.OK, 1)
    assert reg.sync_state == SyncState.SYNCED
    assert reg.last_synced_at is not None
    odoo = odoo_sandbox.pos_config(reg.odoo_pos_config_id)
    assert (odoo["name"], odoo["active"]) == ("Bar", True)
    assert SyncAttempt.objects.get(register=reg).outcome == SyncAttempt.Outcome.SYNCED


def test_create_is_an_external_id_upsert(sandbox_tenant, odoo_sandbox):
    reg = _synced_register(sandbox_tenant)
    xids = [x for x in odoo_sandbox.external_ids() if x["res_id"] == reg.odoo_pos_config_id]
    assert xids == [
        {
            **xids[0],
            "module": "regsync",
            "name": f"register_{reg.uuid.hex}",
            "model": "pos.config",
        }
    ]


def test_rename_during_create_flight_is_caught_by_the_divergence_check(
    sandbox_tenant, odoo_sandbox
):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    [claim] = claims.claim_due(sandbox_tenant.pk, limit=10, connection_revision=0)
    with odoo_sandbox.client() as client:
        odoo_id = client.upsert_pos_config(external_id=claim.external_id, name=claim.name)
    # The admin renames while the create's reply is on its way back.
    services.rename_register(reg, name="Bar North")
    assert _reload(reg).sync_state == SyncState.PENDING_CREATE  # create signal untouched
    outcomes.mark_create_pushed(claim, odoo_id=odoo_id, pushed_name=claim.name)
    reg = _reload(reg)
    assert reg.sync_state == SyncState.PENDING_UPDATE
    assert reg.odoo_pos_config_id == odoo_id

    drain_tenant(sandbox_tenant.pk)
    assert _reload(reg).sync_state == SyncState.SYNCED
    assert odoo_sandbox.pos_config(odoo_id)["name"] == "Bar North"


def test_deactivate_before_create_lands_ends_archived_in_odoo(sandbox_tenant, odoo_sandbox):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    services.set_register_active(reg, active=False)
    # The create makes an active pos.config, the divergence check re-queues the
    # row, and the same drain's next batch archives it.
    result = drain_tenant(sandbox_tenant.pk)
    reg = _reload(reg)
    assert (result.created, result.updated) == (1, 1)
    assert reg.sync_state == SyncState.SYNCED
    assert odoo_sandbox.pos_config(reg.odoo_pos_config_id)["active"] is False
    history = list(reg.sync_attempts.order_by("id").values_list("action", "outcome"))
    assert history == [("create", "requeued"), ("update", "synced")]


# --- update half --------------------------------------------------------------------


def test_rename_and_deactivate_are_written_back(sandbox_tenant, odoo_sandbox):
    reg = _synced_register(sandbox_tenant)
    services.rename_register(reg, name="Terrace")
    services.set_register_active(reg, active=False)
    result = drain_tenant(sandbox_tenant.pk)
    reg = _reload(reg)
    assert (result.updated, reg.sync_state) == (1, SyncState.SYNCED)
    odoo = odoo_sandbox.pos_config(reg.odoo_pos_config_id)
    assert (odoo["name"], odoo["active"]) == ("Terrace", False)


def test_rename_during_an_in_flight_write_is_not_lost(sandbox_tenant, odoo_sandbox):
    reg = _synced_register(sandbox_tenant)
    services.rename_register(reg, name="Second")
    [claim] = claims.claim_due(sandbox_tenant.pk, limit=10, connection_revision=0)
    with odoo_sandbox.client() as client:
        client.write_pos_config(claim.odoo_pos_config_id, {"name": claim.name, "active": True})
    services.rename_register(reg, name="Third")  # lands while the write is in flight
    # The edit ended the claim: the late outcome is superseded, the row stays queued.
    assert outcomes.mark_update_synced(claim) == outcomes.Outcome.SUPERSEDED
    reg = _reload(reg)
    assert (reg.sync_state, reg.claim_token) == (SyncState.PENDING_UPDATE, None)

    drain_tenant(sandbox_tenant.pk)
    assert _reload(reg).sync_state == SyncState.SYNCED
    assert odoo_sandbox.pos_config(reg.odoo_pos_config_id)["name"] == "Third"


def test_creates_are_drained_before_updates(sandbox_tenant, odoo_sandbox):
    old = _synced_register(sandbox_tenant, name="Old")
    services.rename_register(old, name="Old renamed")
    new = services.add_register(sandbox_tenant, name="New", prefix="NEW")
    drain_tenant(sandbox_tenant.pk)
    order = list(
        SyncAttempt.objects.filter(register__in=[old, new])
        .exclude(register=old, action="create")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert order == ["create", "update"]


# --- failures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "minutes"), [(1, 1), (2, 5), (3, 15), (4, 60)], ids=lambda v: str(v)
)
def test_transient_failure_backs_off_on_the_schedule(
    sandbox_tenant, odoo_sandbox, failure, minutes
):
    with freeze_time(NOW):
        reg = _synced_register(sandbox_tenant)
        services.rename_register(reg, name="Renamed")
        PosConfig.objects.filter(pk=reg.pk).update(sync_retries=failure - 1)
        odoo_sandbox.serialization_failure_next(method="pos.config.load")
        result = drain_tenant(sandbox_tenant.pk)
        reg = _reload(reg)
        assert result.update_failed == 1
        assert reg.sync_state == SyncState.PENDING_UPDATE
        assert reg.sync_retries == failure
        assert reg.next_attempt_at == timezone.now() + timedelta(minutes=minutes)
        assert reg.last_sync_error_kind == ErrorKind.TRANSIENT
        assert "SerializationFailure" in reg.last_sync_error


def test_fifth_failure_dead_letters(sandbox_tenant, odoo_sandbox):
    reg = _synced_register(sandbox_tenant)
    services.rename_register(reg, name="Renamed")
    PosConfig.objects.filter(pk=reg.pk).update(sync_retries=4)
    odoo_sandbox.serialization_failure_next(method="pos.config.load")
    result = drain_tenant(sandbox_tenant.pk)
    reg = _reload(reg)
    assert (result.update_failed, result.dead_lettered) == (1, 1)
    assert reg.sync_state == SyncState.SYNC_ERROR
    assert reg.sync_retries == 5
    assert reg.next_attempt_at is None
    assert reg.last_sync_error_kind == ErrorKind.EXHAUSTED


def test_row_backing_off_is_not_retried_before_its_time(sandbox_tenant, odoo_sandbox):
    with freeze_time(NOW) as clock:
        reg = _synced_register(sandbox_tenant)
        services.rename_register(reg, name="Renamed")
        odoo_sandbox.serialization_failure_next(method="pos.config.load")
        drain_tenant(sandbox_tenant.pk)
        clock.tick(timedelta(seconds=59))
        assert drain_tenant(sandbox_tenant.pk).updated == 0
        clock.tick(timedelta(seconds=2))
        assert drain_tenant(sandbox_tenant.pk).updated == 1
    assert _reload(reg).sync_state == SyncState.SYNCED


def test_record_deleted_in_odoo_dead_letters_at_once_with_a_useful_message(
    sandbox_tenant, odoo_sandbox
):
    reg = _synced_register(sandbox_tenant)
    odoo_sandbox.delete_pos_config(reg.odoo_pos_config_id)
    services.rename_register(reg, name="Renamed")
    result = drain_tenant(sandbox_tenant.pk)
    reg = _reload(reg)
    assert result.dead_lettered == 1
    assert reg.sync_state == SyncState.SYNC_ERROR
    assert reg.sync_retries == 1
    assert reg.last_sync_error_kind == ErrorKind.MISSING
    assert "was deleted in Odoo" in reg.last_sync_error
    assert "Unknown database identifier" in reg.last_sync_error  # Odoo's own words

    # The operator's retry creates it again under the same external id.
    assert services.retry_sync(reg) == services.RetryOutcome.RECREATE
    drain_tenant(sandbox_tenant.pk)
    reg = _reload(reg)
    assert reg.sync_state == SyncState.SYNCED
    assert odoo_sandbox.pos_config(reg.odoo_pos_config_id)["name"] == "Renamed"


def test_a_charged_failure_logs_the_calls_duration(sandbox_tenant, odoo_sandbox, caplog):
    reg = _synced_register(sandbox_tenant)
    odoo_sandbox.delete_pos_config(reg.odoo_pos_config_id)
    odoo_sandbox.add_latency(0.05, method="pos.config.load")
    services.rename_register(reg, name="Renamed")
    with caplog.at_level("INFO", logger="odoo_sync"):
        drain_tenant(sandbox_tenant.pk)
    attempt = SyncAttempt.objects.get(register=reg, outcome=SyncAttempt.Outcome.DEAD_LETTERED)
    [line] = [r.getMessage() for r in caplog.records if "outcome=dead_lettered" in r.getMessage()]
    assert attempt.duration_ms >= 50
    assert f"duration_ms={attempt.duration_ms} " in line


def test_access_error_dead_letters_at_once_with_odoos_message(sandbox_tenant, odoo_sandbox):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    odoo_sandbox.set_pos_manager(False)
    drain_tenant(sandbox_tenant.pk)
    reg = _reload(reg)
    assert reg.sync_state == SyncState.SYNC_ERROR
    assert reg.last_sync_error_kind == ErrorKind.ACCESS
    assert reg.last_sync_error.startswith("OdooAccessError: ")


def test_archive_refused_for_an_open_session_on_19_is_retried_not_dead_lettered(
    sandbox_tenant, odoo_sandbox
):
    odoo_sandbox.reset(version="19.0")
    reg = _synced_register(sandbox_tenant)
    odoo_sandbox.open_session(reg.odoo_pos_config_id)
    services.set_register_active(reg, active=False)
    drain_tenant(sandbox_tenant.pk)
    reg = _reload(reg)
    assert reg.sync_state == SyncState.PENDING_UPDATE
    assert reg.sync_retries == 1
    assert "session is open" in reg.last_sync_error

    odoo_sandbox.close_session(reg.odoo_pos_config_id)
    PosConfig.objects.filter(pk=reg.pk).update(next_attempt_at=timezone.now())
    drain_tenant(sandbox_tenant.pk)
    assert _reload(reg).sync_state == SyncState.SYNCED
    assert odoo_sandbox.pos_config(reg.odoo_pos_config_id)["active"] is False


def test_lost_reply_after_create_applied_reconciles_without_a_duplicate(
    sandbox_tenant, odoo_sandbox
):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    odoo_sandbox.drop_next(when="after", method="pos.config.load")
    result = drain_tenant(sandbox_tenant.pk)
    reg = _reload(reg)
    # Nothing went through in this drain yet: the lost reply says nothing about
    # the row, so the tenant backs off and the row keeps its attempts.
    assert result.status == TenantStatus.UNREACHABLE
    assert (reg.sync_state, reg.sync_retries) == (SyncState.PENDING_CREATE, 0)
    assert len(odoo_sandbox.pos_configs()) == 1  # it did land

    drain_tenant(sandbox_tenant.pk, ignore_outage_backoff=True)
    reg = _reload(reg)
    assert reg.sync_state == SyncState.SYNCED
    [odoo] = odoo_sandbox.pos_configs()
    assert odoo["id"] == reg.odoo_pos_config_id


def test_a_connection_failure_before_any_row_went_through_is_the_tenants_outage(
    sandbox_tenant, odoo_sandbox
):
    first = services.add_register(sandbox_tenant, name="A", prefix="A")
    second = services.add_register(sandbox_tenant, name="B", prefix="B")
    odoo_sandbox.fail_next(status=502, method="pos.config.load")
    result = drain_tenant(sandbox_tenant.pk)
    sandbox_tenant.refresh_from_db()
    assert result.status == TenantStatus.UNREACHABLE
    assert (result.create_failed, result.skipped) == (0, 2)
    assert sandbox_tenant.odoo_outage_failures == 1
    rows = PosConfig.objects.filter(pk__in=[first.pk, second.pk])
    assert {(r.sync_retries, r.claim_token) for r in rows} == {(0, None)}
    # The row that met the outage goes to the back of the queue, so a row that
    # always fails cannot stand first in line for ever.
    assert rows.get(pk=first.pk).next_attempt_at > rows.get(pk=second.pk).next_attempt_at


def test_a_connection_failure_after_a_row_went_through_charges_that_row_and_ends_the_drain(
    sandbox_tenant, odoo_sandbox
):
    updated = _synced_register(sandbox_tenant, name="U")
    as_linked(updated)  # a config Odoo had: its update is a `write`, after the create's load
    services.rename_register(updated, name="U2")
    created = services.add_register(sandbox_tenant, name="C", prefix="C")
    odoo_sandbox.fail_next(status=502, method="pos.config.write")
    result = drain_tenant(sandbox_tenant.pk)  # creates first: C lands, then U's write fails
    assert result.status == TenantStatus.ENDED_EARLY
    assert (result.created, result.update_failed) == (1, 1)
    assert _reload(created).sync_state == SyncState.SYNCED
    updated = _reload(updated)
    assert (updated.sync_state, updated.sync_retries) == (SyncState.PENDING_UPDATE, 1)
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_outage_failures == 0


# --- tenant-level outcomes ------------------------------------------------------------


def test_rejected_credentials_pause_the_tenant_and_rows_keep_their_attempts(
    sandbox_tenant, odoo_sandbox
):
    reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    odoo_sandbox.rotate_key()
    result = drain_tenant(sandbox_tenant.pk)
    sandbox_tenant.refresh_from_db()
    assert result.status == TenantStatus.PAUSED
    assert sandbox_tenant.odoo_paused_at is not None
    assert "refused the login" in sandbox_tenant.odoo_paused_reason
    assert "API key" in sandbox_tenant.odoo_paused_reason  # what to do, in words
    reg = _reload(reg)
    assert (reg.sync_state, reg.sync_retries) == (SyncState.PENDING_CREATE, 0)

    calls_before = sum(odoo_sandbox.calls().values())
    assert drain_tenant(sandbox_tenant.pk).status == TenantStatus.PAUSED
    assert due.tenants_with_due_work() == []
    assert sum(odoo_sandbox.calls().values()) == calls_before  # nothing more sent


def test_odoo_down_at_login_backs_the_tenant_off_and_rows_keep_their_attempts(
    sandbox_tenant, odoo_sandbox
):
    with freeze_time(NOW) as clock:
        reg = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
        for n, minutes in enumerate([1, 5, 15, 60, 240, 240], start=1):
            odoo_sandbox.fail_next(status=503, count=5)
            result = drain_tenant(sandbox_tenant.pk)
            sandbox_tenant.refresh_from_db()
            assert result.status == TenantStatus.UNREACHABLE
            assert sandbox_tenant.odoo_outage_failures == n
            assert sandbox_tenant.odoo_next_attempt_at == timezone.now() + timedelta(
                minutes=minutes
            )
            assert drain_tenant(sandbox_tenant.pk).status == TenantStatus.BACKING_OFF
            clock.tick(timedelta(minutes=minutes))
        assert sandbox_tenant.odoo_unreachable_since.isoformat().startswith("2026-11-24T10:00")
        reg = _reload(reg)
        assert (reg.sync_state, reg.sync_retries) == (SyncState.PENDING_CREATE, 0)

        odoo_sandbox.clear_faults()
        assert drain_tenant(sandbox_tenant.pk).created == 1
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_unreachable_since is None
    assert sandbox_tenant.odoo_outage_failures == 0
    assert _reload(reg).sync_state == SyncState.SYNCED


@pytest.mark.parametrize(
    "reply",
    [
        {"body": "<html><body>502 Bad Gateway</body></html>", "content_type": "text/html"},
        {
            "body": (
                "<?xml version='1.0'?><methodResponse><fault><value><struct>"
                "<member><name>faultCode</name><value><int>1</int></value></member>"
                "<member><name>faultString</name><value><string>Traceback (most recent call "
                "last):\npsycopg2.OperationalError: connection to server at "
                '"db" failed: Connection refused</string></value></member>'
                "</struct></value></fault></methodResponse>"
            ),
        },
    ],
    ids=["proxy-page", "odoo-cannot-reach-its-database"],
)
def test_odoo_failing_at_login_for_other_reasons_backs_off_instead_of_pausing(
    sandbox_tenant, odoo_sandbox, reply
):
    services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    odoo_sandbox.reply_body_next(method="common.authenticate", **reply)
    result = drain_tenant(sandbox_tenant.pk)
    sandbox_tenant.refresh_from_db()
    assert result.status == TenantStatus.UNREACHABLE
    assert sandbox_tenant.odoo_paused_at is None
    assert sandbox_tenant.odoo_unreachable_since is not None
    assert sandbox_tenant.odoo_last_error


def test_try_now_skips_the_outage_backoff_but_not_a_pause(sandbox_tenant, odoo_sandbox):
    services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    odoo_sandbox.fail_next(status=503, count=3)
    drain_tenant(sandbox_tenant.pk)
    assert drain_tenant(sandbox_tenant.pk).status == TenantStatus.BACKING_OFF
    odoo_sandbox.clear_faults()
    assert drain_tenant(sandbox_tenant.pk, ignore_outage_backoff=True).created == 1

    services.add_register(sandbox_tenant, name="Terrace", prefix="TER")
    odoo_sandbox.rotate_key()
    drain_tenant(sandbox_tenant.pk)
    result = drain_tenant(sandbox_tenant.pk, ignore_outage_backoff=True)
    assert (result.status, result.skipped) == (TenantStatus.PAUSED, 1)


def test_starter_tenants_and_prefix_changes_never_reach_odoo(sandbox_tenant, odoo_sandbox):
    reg = _synced_register(sandbox_tenant)
    calls_before = odoo_sandbox.calls()
    services.set_register_prefix(reg, prefix="NEW")
    starter_reg = PosConfigFactory()  # a Starter tenant's register
    services.rename_register(starter_reg, name="Starter renamed")
    results, totals = drain_all()
    assert results == []
    assert totals.created == totals.updated == 0
    drain_tenant(sandbox_tenant.pk)
    drain_tenant(starter_reg.tenant_id)
    writes = ("pos.config.write", "pos.config.load", "pos.config.create")
    assert {k: v for k, v in odoo_sandbox.calls().items() if k in writes} == {
        k: v for k, v in calls_before.items() if k in writes
    }


def test_drain_refuses_to_run_inside_a_transaction(sandbox_tenant):
    from django.db import transaction

    with pytest.raises(RuntimeError, match="must not run inside a transaction"):
        with transaction.atomic():
            drain_tenant(sandbox_tenant.pk)


def test_drain_speaks_json2_to_odoo_19(sandbox_tenant, odoo_sandbox):
    odoo_sandbox.reset(version="19.0")
    reg = _synced_register(sandbox_tenant)
    services.rename_register(reg, name="Renamed")
    drain_tenant(sandbox_tenant.pk)
    assert _reload(reg).sync_state == SyncState.SYNCED
    assert odoo_sandbox.pos_config(reg.odoo_pos_config_id)["name"] == "Renamed"
    assert odoo_sandbox.deprecation_warnings() == 0  # no XML-RPC calls on 19


def test_drain_reuses_one_connection(sandbox_tenant, odoo_sandbox):
    for n in range(5):
        services.add_register(sandbox_tenant, name=f"R{n}", prefix=f"R{n}")
    drain_tenant(sandbox_tenant.pk)
    assert PosConfig.objects.filter(sync_state=SyncState.SYNCED).count() == 5
    assert odoo_sandbox.connections() == 1


def test_a_known_odoo_version_and_uid_skip_detection_and_login_on_later_drains(
    sandbox_tenant, odoo_sandbox
):
    reg = _synced_register(sandbox_tenant)
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_server_version == "17.0"
    services.rename_register(reg, name="Renamed")
    before = odoo_sandbox.calls()
    drain_tenant(sandbox_tenant.pk)
    after = odoo_sandbox.calls()
    new_calls = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert new_calls == {"pos.config.load": 1}  # the write, by the register's external id


def test_a_password_on_odoo_19_keeps_syncing_over_xml_rpc(sandbox_tenant, odoo_sandbox):
    import json

    odoo_sandbox.reset(version="19.0")
    # A password, not an API key: JSON-2's bearer check refuses it, XML-RPC takes it.
    refused = json.dumps(
        {
            "name": "werkzeug.exceptions.Unauthorized",
            "message": "Invalid apikey",
            "arguments": [],
            "context": {},
            "debug": "",
        }
    )
    odoo_sandbox.reply_body_next(
        refused,
        status=401,
        content_type="application/json",
        method="res.users.context_get",
        count=5,
    )
    first = services.add_register(sandbox_tenant, name="Bar", prefix="BAR")
    assert drain_tenant(sandbox_tenant.pk).created == 1
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_detected_protocol == "xmlrpc"

    second = services.add_register(sandbox_tenant, name="Pub", prefix="PUB")
    result = drain_tenant(sandbox_tenant.pk)
    sandbox_tenant.refresh_from_db()
    assert (result.status, result.created) == (TenantStatus.OK, 1)
    assert sandbox_tenant.odoo_paused_at is None
    assert odoo_sandbox.call_count("res.users.context_get") == 1  # not tried again
    for reg in (first, second):
        assert _reload(reg).sync_state == SyncState.SYNCED


def test_editing_the_connection_detects_the_protocol_again(sandbox_tenant, odoo_sandbox):
    from odoo_sync.tenants import update_odoo_connection

    _synced_register(sandbox_tenant)
    sandbox_tenant.refresh_from_db()
    assert sandbox_tenant.odoo_detected_protocol == "xmlrpc"  # a 17.0
    odoo_sandbox.reset(version="19.0", api_key="a-new-key")  # upgraded to 19, new key
    update_odoo_connection(sandbox_tenant, api_key="a-new-key")
    services.add_register(sandbox_tenant, name="New", prefix="NEW")
    drain_tenant(sandbox_tenant.pk)
    sandbox_tenant.refresh_from_db()
    assert (sandbox_tenant.odoo_detected_protocol, sandbox_tenant.odoo_server_version) == (
        "json2",
        "19.0",
    )


def test_a_stale_odoo_id_after_odoo_was_restored_is_relinked_not_crashed(
    sandbox_tenant, odoo_sandbox
):
    old = _synced_register(sandbox_tenant, name="Old")
    odoo_sandbox.reset()  # Odoo's database restored empty: ids start over
    new = services.add_register(sandbox_tenant, name="New", prefix="NEW")
    drain_tenant(sandbox_tenant.pk)  # New gets the id Old still holds
    old, new = _reload(old), _reload(new)
    assert new.sync_state == SyncState.SYNCED
    assert old.sync_state == SyncState.SYNCED and old.odoo_pos_config_id != new.odoo_pos_config_id
    # Old was re-created by its external id in the same drain, not duplicated.
    names = sorted(c["name"] for c in odoo_sandbox.pos_configs())
    assert names == ["New", "Old"]
    assert odoo_sandbox.pos_config(old.odoo_pos_config_id)["name"] == "Old"


def test_moving_a_tenant_to_another_odoo_database_relinks_every_register(
    settings, sandbox_tenant, odoo_sandbox
):
    from odoo_sync.tenants import update_odoo_connection

    settings.ODOO_ALLOW_PRIVATE_URLS = True
    settings.ODOO_REQUIRE_HTTPS = False
    regs = [_synced_register(sandbox_tenant, name=n) for n in ("A", "B")]
    odoo_sandbox.reset(db="other")
    update_odoo_connection(sandbox_tenant, db="other")
    assert {_reload(r).sync_state for r in regs} == {SyncState.PENDING_CREATE}
    assert {_reload(r).odoo_pos_config_id for r in regs} == {None}
    drain_tenant(sandbox_tenant.pk)
    assert sorted(c["name"] for c in odoo_sandbox.pos_configs()) == ["A", "B"]
    assert {_reload(r).sync_state for r in regs} == {SyncState.SYNCED}
