"""OdooClient against the sandbox Odoo, over real HTTP: errors, timeouts, reuse, idempotence."""

import gc
import json
import socket
import sys
import threading
import time
import unicodedata

import pytest

from odoo_client.client import OdooClient
from odoo_client.errors import (
    OdooAccessError,
    OdooAuthError,
    OdooBatchError,
    OdooConfigError,
    OdooError,
    OdooMissingRecordError,
    OdooNotSentError,
    OdooOutageError,
    OdooPermanentError,
    OdooTransientError,
    OdooUnreachableError,
    OdooValidationError,
)
from odoo_client.names import name_key, name_pattern
from odoo_sandbox.models import like_pattern, pg_lower

XID = ("regsync", "register_0123456789abcdef0123456789abcdef")


def _find_by_external_id(client, external_id):
    """What `ir.model.data` records under an external id: the test's view into Odoo."""
    module, name = external_id
    rows = client.execute_kw(
        "ir.model.data",
        "search_read",
        [[("module", "=", module), ("name", "=", name), ("model", "=", "pos.config")]],
        {"fields": ["res_id"], "limit": 1},
    )
    return int(rows[0]["res_id"]) if rows else None


def fault_body(code, text):
    import xmlrpc.client

    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, text), methodresponse=True)


# --- version and protocol ---------------------------------------------------------


def test_auto_protocol_picks_xmlrpc_on_17(odoo_sandbox):
    with odoo_sandbox.client() as client:
        assert client.version() == {
            "server_version": "17.0",
            "major": 17,
            "raw": {
                "server_version": "17.0",
                "server_version_info": [17, 0, 0, "final", 0, ""],
                "server_serie": "17.0",
                "protocol_version": 1,
            },
        }
        assert client.protocol_in_use == "xmlrpc"
        assert client.authenticate() == 2
    assert odoo_sandbox.calls() == {"web.version": 1, "common.version": 1, "common.authenticate": 1}


def test_auto_protocol_picks_json2_on_19_without_touching_xmlrpc(odoo_sandbox):
    odoo_sandbox.reset(version="19.0")
    with odoo_sandbox.client() as client:
        assert client.protocol_in_use == "json2"
        assert client.version()["major"] == 19
        assert client.authenticate() == 2
        client.upsert_pos_config(external_id=XID, name="Bar")
    calls = odoo_sandbox.calls()
    assert not [key for key in calls if key.startswith("common.")]
    assert odoo_sandbox.deprecation_warnings() == 0


def test_xmlrpc_still_works_on_19_and_triggers_its_deprecation_warning(odoo_sandbox):
    odoo_sandbox.reset(version="19.0")
    with odoo_sandbox.client(protocol="xmlrpc") as client:
        assert client.protocol_in_use == "xmlrpc"
        assert client.version()["major"] == 19
        config_id = client.upsert_pos_config(external_id=XID, name="Bar")
        assert client.execute_kw("pos.config", "read", [[config_id], ["name"]]) == [
            {"id": config_id, "name": "Bar"}
        ]
    assert odoo_sandbox.deprecation_warnings() >= 3


def test_odoo_online_saas_version_is_parsed(odoo_sandbox):
    odoo_sandbox.reset(version="saas~18.2")
    with odoo_sandbox.client() as client:
        version = client.version()
        assert version["major"] == 18
        assert version["server_version"] == "saas~18.2+e"
        assert client.protocol_in_use == "xmlrpc"


def test_json2_forced_on_18_is_a_config_error(odoo_sandbox):
    odoo_sandbox.reset(version="18.0")
    with odoo_sandbox.client(protocol="json2") as client, pytest.raises(OdooConfigError) as exc:
        client.authenticate()
    assert exc.value.http_status == 303
    assert "19+" in exc.value.message


def test_unknown_protocol_is_rejected():
    with pytest.raises(ValueError, match="protocol"):
        OdooClient("https://x.example", "db", "admin", "k", protocol="soap")


# --- helpers on every version -------------------------------------------------------


def test_helpers_round_trip(odoo_sandbox_any_version):
    sandbox = odoo_sandbox_any_version
    with sandbox.client() as client:
        config_id = client.upsert_pos_config(external_id=XID, name="Bar")
        assert _find_by_external_id(client, XID) == config_id
        assert _find_by_external_id(client, ("regsync", "register_x")) is None
        client.write_pos_config(config_id, {"name": "Terrace", "active": False})
        assert client.execute_kw("pos.config", "read", [[config_id], ["name", "active"]]) == [
            {"id": config_id, "name": "Terrace", "active": False}
        ]
        # archived: hidden from searches unless active_test is off, still readable by id
        assert client.execute_kw("pos.config", "search", [[("name", "=", "Terrace")]]) == []
        assert client.execute_kw(
            "pos.config",
            "search",
            [[("name", "ilike", "terr")]],
            {"context": {"active_test": False}},
        ) == [config_id]
        assert client.execute_kw("pos.config", "search_count", [[("active", "=", False)]]) == 1
        new_id = client.execute_kw("pos.config", "create", [{"name": "Kiosk"}])
        assert isinstance(new_id, int) and new_id != config_id
        rows = client.execute_kw(
            "pos.config", "search_read", [[("id", "in", [new_id])]], {"fields": ["name"]}
        )
        assert rows == [{"id": new_id, "name": "Kiosk"}]
    assert sandbox.external_ids()[0]["complete_name"] == f"regsync.{XID[1]}"


def test_upsert_is_idempotent_and_updates_the_same_record(odoo_sandbox_any_version):
    sandbox = odoo_sandbox_any_version
    with sandbox.client() as client:
        first = client.upsert_pos_config(external_id=XID, name="Bar")
        again = client.upsert_pos_config(external_id=XID, name="Bar")
        renamed = client.upsert_pos_config(external_id=XID, name="Bar 2", active=False)
    assert first == again == renamed
    assert sandbox.pos_configs() == [
        {"id": first, "name": "Bar 2", "active": False, "open_session": False}
    ]


def test_upsert_recreates_a_record_deleted_in_odoo(odoo_sandbox):
    with odoo_sandbox.client() as client:
        first = client.upsert_pos_config(external_id=XID, name="Bar")
        odoo_sandbox.delete_pos_config(first)
        second = client.upsert_pos_config(external_id=XID, name="Bar")
    assert second != first
    assert [c["id"] for c in odoo_sandbox.pos_configs()] == [second]


@pytest.mark.parametrize("version", ["17.0", "19.0"])
def test_create_survives_a_reply_lost_after_odoo_applied_it(odoo_sandbox, version):
    odoo_sandbox.reset(version=version)
    external_id = ("regsync", "register_3f2b1c4d000040008000000000000001")
    with odoo_sandbox.client() as client:
        client.authenticate()
        odoo_sandbox.drop_next("after", method="pos.config.load")
        with pytest.raises(OdooUnreachableError) as exc:
            client.upsert_pos_config(external_id=external_id, name="Bar")
        assert exc.value.outcome_unknown is True
        assert len(odoo_sandbox.pos_configs()) == 1  # it landed; we never heard back
        found = _find_by_external_id(client, external_id)
        retried = client.upsert_pos_config(external_id=external_id, name="Bar")
    assert retried == found
    assert len(odoo_sandbox.pos_configs()) == 1
    # the client itself never re-sent: exactly two loads reached Odoo
    assert odoo_sandbox.call_count("pos.config.load") == 2


def test_connection_dropped_before_apply_creates_nothing_and_is_not_resent(odoo_sandbox):
    with odoo_sandbox.client() as client:
        client.authenticate()
        odoo_sandbox.drop_next("before", method="load")
        with pytest.raises(OdooUnreachableError) as exc:
            client.upsert_pos_config(external_id=XID, name="Bar")
        assert exc.value.outcome_unknown is True  # the client cannot know it was not applied
        assert odoo_sandbox.pos_configs() == []
        assert odoo_sandbox.call_count("pos.config.load") == 1
        client.upsert_pos_config(external_id=XID, name="Bar")
    assert len(odoo_sandbox.pos_configs()) == 1


# --- error classes from real responses ---------------------------------------------


def test_wrong_key_makes_authenticate_false_and_an_auth_error(odoo_sandbox):
    with OdooClient(odoo_sandbox.url, odoo_sandbox.db, "admin", "wrong-key-123") as client:
        with pytest.raises(OdooAuthError) as exc:
            client.authenticate()
    assert "admin" in exc.value.message
    assert "wrong-key-123" not in exc.value.message


def test_rotated_key_gives_fault_3(odoo_sandbox):
    with odoo_sandbox.client() as client:
        client.authenticate()
        odoo_sandbox.rotate_key()
        with pytest.raises(OdooAuthError) as exc:
            client.execute_kw("pos.config", "read", [[1], ["name"]])
    assert exc.value.fault_code == 3
    assert exc.value.message == "Access Denied"


def _new_calls(sandbox, before: dict) -> dict:
    after = sandbox.calls()
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def test_a_client_given_its_uid_makes_no_login(odoo_sandbox):
    config_id = odoo_sandbox.create_pos_config("Bar")
    before = odoo_sandbox.calls()
    with odoo_sandbox.client(uid=2, protocol="xmlrpc") as client:
        client.write_pos_config(config_id, {"name": "Renamed"})
        assert client.uid == 2
    assert _new_calls(odoo_sandbox, before) == {"pos.config.write": 1}


def test_a_client_given_its_uid_on_json2_skips_context_get(odoo_sandbox):
    odoo_sandbox.reset(version="19.0")
    config_id = odoo_sandbox.create_pos_config("Bar")
    before = odoo_sandbox.calls()
    with odoo_sandbox.client(uid=2, protocol="json2") as client:
        client.write_pos_config(config_id, {"name": "Renamed"})
    assert _new_calls(odoo_sandbox, before) == {"pos.config.write": 1}


def test_a_stale_uid_is_told_from_a_bad_key_by_one_login_then_the_call_lands_once(
    odoo_sandbox,
):
    config_id = odoo_sandbox.create_pos_config("Bar")
    before = odoo_sandbox.calls()
    with odoo_sandbox.client(
        uid=7, protocol="xmlrpc"
    ) as client:  # the key is good, the uid is another user's
        client.write_pos_config(config_id, {"name": "Renamed"})
        assert client.uid == 2
    # Denied (not applied), one login, the same call again with the uid Odoo gave.
    assert _new_calls(odoo_sandbox, before) == {"pos.config.write": 2, "common.authenticate": 1}
    assert odoo_sandbox.mutations() == [(config_id, "write", "Renamed", True)]


def test_a_revoked_key_with_a_known_uid_logs_in_once_and_says_access_denied(odoo_sandbox):
    config_id = odoo_sandbox.create_pos_config("Bar")
    client = odoo_sandbox.client(uid=2, protocol="xmlrpc")
    odoo_sandbox.rotate_key()
    before = odoo_sandbox.calls()
    with client, pytest.raises(OdooAuthError) as exc:
        client.write_pos_config(config_id, {"name": "Renamed"})
    assert (exc.value.fault_code, exc.value.message) == (3, "Access Denied")
    assert _new_calls(odoo_sandbox, before) == {"pos.config.write": 1, "common.authenticate": 1}
    assert odoo_sandbox.mutations() == []


def test_every_request_carries_the_request_id_it_is_given(odoo_sandbox):
    """The sandbox groups calls by X-Request-ID: two clients of one drain are one session."""
    for _ in range(2):
        with odoo_sandbox.client(protocol="xmlrpc") as client:
            client.request_id = "drain-0123456789ab"
            client.execute_kw("pos.config", "search", [[]])
    with odoo_sandbox.client(protocol="xmlrpc") as client:
        client.execute_kw("pos.config", "search", [[]])
    assert [s["calls"] for s in odoo_sandbox.sessions()] == [4, 2]


def test_login_cooldown_after_five_failures(odoo_sandbox):
    good = odoo_sandbox.client()
    good.authenticate()
    for _ in range(5):
        with (
            pytest.raises(OdooAuthError),
            OdooClient(odoo_sandbox.url, odoo_sandbox.db, "admin", "bad-key-xyz") as bad,
        ):
            bad.authenticate()
    # even the right key is refused now: authenticate says False, calls say fault 3
    with pytest.raises(OdooAuthError), odoo_sandbox.client() as fresh:
        fresh.authenticate()
    with pytest.raises(OdooAuthError, match="Too many login failures") as exc:
        good.execute_kw("pos.config", "read", [[1], ["name"]])
    assert exc.value.fault_code == 3
    odoo_sandbox.clear_login_failures()
    assert good.execute_kw("pos.config", "read", [[1], ["name"]]) == []
    good.close()


def test_wrong_database_is_an_auth_error(odoo_sandbox):
    with OdooClient(odoo_sandbox.url, "nodb", "admin", odoo_sandbox.api_key) as client:
        with pytest.raises(OdooAuthError, match='database "nodb" does not exist') as exc:
            client.authenticate()
    assert exc.value.fault_code == 1


def test_wrong_database_header_on_json2_is_an_auth_error(odoo_sandbox):
    odoo_sandbox.reset(version="19.0")
    with OdooClient(odoo_sandbox.url, "nodb", "admin", odoo_sandbox.api_key) as client:
        with pytest.raises(OdooAuthError, match="No database is selected") as exc:
            client.authenticate()
    assert exc.value.http_status == 404


def test_bad_bearer_key_on_json2_is_an_auth_error(odoo_sandbox):
    odoo_sandbox.reset(version="19.0")
    with OdooClient(odoo_sandbox.url, odoo_sandbox.db, "admin", "not-the-key-42") as client:
        with pytest.raises(OdooAuthError, match="Invalid apikey") as exc:
            client.authenticate()
    assert exc.value.http_status == 401
    # "auto" tried the key as a password over XML-RPC once before giving up
    assert odoo_sandbox.call_count("common.authenticate") == 1


def test_validation_error_is_permanent_and_not_mistaken_for_missing(odoo_sandbox_any_version):
    with odoo_sandbox_any_version.client() as client:
        config_id = client.upsert_pos_config(external_id=XID, name="Bar")
        with pytest.raises(OdooValidationError, match="Missing required value") as exc:
            client.write_pos_config(config_id, {"name": False})
    assert not isinstance(exc.value, OdooMissingRecordError)


def test_create_without_name_is_a_validation_error(odoo_sandbox_any_version):
    sandbox = odoo_sandbox_any_version
    with sandbox.client() as client, pytest.raises(OdooValidationError) as exc:
        client.execute_kw("pos.config", "create", [{"active": True}])
    if sandbox.version == "17.0":
        assert exc.value.fault_code == 1
        assert exc.value.message.endswith("KeyError: 'name'")
    else:
        assert exc.value.http_status == 422
        assert "Missing required value for the field 'Point of Sale' (name)" in exc.value.message


def test_load_errors_are_raised_as_validation_errors(odoo_sandbox_any_version):
    with odoo_sandbox_any_version.client() as client, pytest.raises(OdooValidationError) as exc:
        client.upsert_pos_config(external_id=XID, name="")
    assert "Missing required value" in exc.value.message
    assert odoo_sandbox_any_version.pos_configs() == []


def test_missing_rights_are_an_access_error(odoo_sandbox_any_version):
    sandbox = odoo_sandbox_any_version
    with sandbox.client() as client:
        config_id = client.upsert_pos_config(external_id=XID, name="Bar")
        sandbox.set_pos_manager(False)
        with pytest.raises(OdooAccessError, match="not allowed to modify"):
            client.write_pos_config(config_id, {"name": "Terrace"})
        with pytest.raises(OdooAccessError):
            client.upsert_pos_config(external_id=XID, name="Terrace")
        assert client.execute_kw("pos.config", "read", [[config_id], ["name"]]) == [
            {"id": config_id, "name": "Bar"}
        ]


def test_write_on_a_record_deleted_in_odoo_is_confirmed_missing(odoo_sandbox_any_version):
    sandbox = odoo_sandbox_any_version
    with sandbox.client() as client:
        config_id = client.upsert_pos_config(external_id=XID, name="Bar")
        sandbox.delete_pos_config(config_id)
        with pytest.raises(OdooMissingRecordError, match="Record does not exist") as exc:
            client.write_pos_config(config_id, {"name": "Terrace"})
        assert client.execute_kw("pos.config", "read", [[config_id], ["name"]]) == []
    assert isinstance(exc.value, OdooPermanentError)
    assert sandbox.call_count("pos.config.search_count") == 1  # the confirmation


def test_archived_record_is_not_mistaken_for_missing(odoo_sandbox):
    with odoo_sandbox.client() as client:
        config_id = client.upsert_pos_config(external_id=XID, name="Bar", active=False)
        client.write_pos_config(config_id, {"active": False})
        assert client.execute_kw("pos.config", "read", [[config_id], ["active"]]) == [
            {"id": config_id, "active": False}
        ]


def test_missing_record_wording_of_16(odoo_sandbox):
    odoo_sandbox.reset(version="16.0")
    with odoo_sandbox.client() as client, pytest.raises(OdooMissingRecordError, match="refreshing"):
        client.write_pos_config(999999, {"name": "x"})


def test_archiving_with_an_open_session(odoo_sandbox_any_version):
    sandbox = odoo_sandbox_any_version
    with sandbox.client() as client:
        config_id = client.upsert_pos_config(external_id=XID, name="Bar")
        sandbox.open_session(config_id)
        client.write_pos_config(config_id, {"name": "Renamed"})  # renaming is always allowed
        if sandbox.version == "19.0":
            with pytest.raises(OdooTransientError, match="while a session is open") as exc:
                client.write_pos_config(config_id, {"active": False})
            assert not isinstance(exc.value, OdooUnreachableError)
            with pytest.raises(OdooTransientError):
                client.upsert_pos_config(external_id=XID, name="Renamed", active=False)
            sandbox.close_session(config_id)
        client.write_pos_config(config_id, {"active": False})
    assert sandbox.pos_config(config_id)["active"] is False


def test_serialization_failure_is_transient(odoo_sandbox_any_version):
    sandbox = odoo_sandbox_any_version
    with sandbox.client() as client:
        client.authenticate()
        sandbox.serialization_failure_next(method="pos.config.load")
        with pytest.raises(OdooTransientError, match="could not serialize") as exc:
            client.upsert_pos_config(external_id=XID, name="Bar")
        assert not isinstance(exc.value, OdooUnreachableError)
        assert sandbox.pos_configs() == []
        client.upsert_pos_config(external_id=XID, name="Bar")


@pytest.mark.parametrize(
    ("status", "outcome_unknown"),
    [(502, True), (504, True), (500, True), (503, False), (429, False)],
)
def test_proxy_errors_are_unreachable(odoo_sandbox_any_version, status, outcome_unknown):
    sandbox = odoo_sandbox_any_version
    with sandbox.client() as client:
        client.authenticate()
        sandbox.fail_next(status, method="pos.config.write")
        with pytest.raises(OdooUnreachableError) as exc:
            client.write_pos_config(1, {"name": "x"})
    assert exc.value.http_status == status
    assert exc.value.outcome_unknown is outcome_unknown
    assert f"HTTP {status}" in exc.value.message


def test_5xx_on_authenticate_is_unreachable(odoo_sandbox):
    odoo_sandbox.fail_next(503, count=5)
    with odoo_sandbox.client() as client, pytest.raises(OdooUnreachableError):
        client.authenticate()


def test_connection_refused_is_unreachable_and_surely_not_applied(odoo_unreachable_url):
    with OdooClient(odoo_unreachable_url, "db", "admin", "key-abcdef") as client:
        with pytest.raises(OdooUnreachableError, match="Cannot connect") as exc:
            client.authenticate()
    assert exc.value.outcome_unknown is False


def test_json2_protocol_errors_are_classified(odoo_sandbox):
    odoo_sandbox.reset(version="19.0")
    with odoo_sandbox.client() as client:
        with pytest.raises(OdooPermanentError, match="does not exist") as exc:
            client.execute_kw("pos.nonexistent", "search", [[]])
        assert exc.value.http_status == 404
        with pytest.raises(OdooAccessError, match="Private methods"):
            client.execute_kw("pos.config", "_check_company", [], {})
        with pytest.raises(OdooPermanentError, match="missing a required argument: 'domain'"):
            client.execute_kw("pos.config", "search", [])
        with pytest.raises(OdooPermanentError, match="Invalid field 'no_such_field'") as exc:
            client.execute_kw("pos.config", "read", [[1], ["no_such_field"]])
        assert exc.value.http_status == 500


def test_xmlrpc_unknown_model_and_load_column(odoo_sandbox):
    with odoo_sandbox.client() as client:
        with pytest.raises(OdooPermanentError, match=r"Object pos\.nonexistent doesn't exist") as e:
            client.execute_kw("pos.nonexistent", "search", [[]])
        assert e.value.fault_code == 2
        with pytest.raises(OdooPermanentError) as e:
            client.execute_kw("pos.config", "load", [["id", "bogus"], [["regsync.x", "1"]]])
        assert e.value.fault_code == 1 and type(e.value) is OdooPermanentError


# --- failures that are the tenant's, not the row's ------------------------------------

MAINTENANCE_PAGE = (
    "<!DOCTYPE html><html><head><title>\n  Site under   maintenance\n</title>"
    '<script src="https://cdn.example/tracker.js?token=abc123"></script></head>'
    "<body><h1>Back soon</h1><p>Internal host db-7.internal (10.0.3.7)</p></body></html>"
)


def _assert_no_body_bytes(message: str) -> None:
    for leak in ("tracker", "abc123", "Back soon", "db-7", "10.0.3.7", "<", ">"):
        assert leak not in message


@pytest.mark.parametrize(
    "reason", ["refused", "could_not_connect", "closed", "pool_full", "connection_closed"]
)
@pytest.mark.parametrize("version", ["17.0", "19.0"])
def test_odoo_losing_its_own_database_is_the_tenants_outage(odoo_sandbox, version, reason):
    odoo_sandbox.reset(version=version)
    with odoo_sandbox.client() as client:
        client.authenticate()
        odoo_sandbox.database_down_next(reason, method="pos.config.load")
        with pytest.raises(OdooOutageError) as exc:
            client.upsert_pos_config(external_id=XID, name="Bar")
    assert not isinstance(exc.value, OdooPermanentError)
    # Odoo may lose it after committing (signalling registry changes): reconcile.
    assert exc.value.outcome_unknown is True
    if version == "17.0":
        assert (exc.value.fault_code, exc.value.http_status) == (1, 200)
        assert exc.value.message.startswith("Traceback")  # Odoo's own text, as for any fault
    else:
        assert exc.value.http_status == 500
        assert exc.value.fault_code.startswith("psycopg2.")
    assert odoo_sandbox.pos_configs() == []


def test_odoo_losing_its_database_at_login_is_the_tenants_outage(odoo_sandbox):
    odoo_sandbox.database_down_next("refused", method="common.authenticate")
    with odoo_sandbox.client() as client, pytest.raises(OdooOutageError) as exc:
        client.authenticate()
    assert "port 5432 failed: Connection refused" in exc.value.message


def test_a_wrong_database_name_is_still_an_auth_error_not_an_outage(odoo_sandbox):
    # Its traceback also says "connection to server ... failed": the name rule comes first.
    with OdooClient(odoo_sandbox.url, "nodb", "admin", odoo_sandbox.api_key) as client:
        with pytest.raises(OdooAuthError) as exc:
            client.authenticate()
    assert not isinstance(exc.value, OdooOutageError)


def test_serialization_failure_is_transient_not_an_outage(odoo_sandbox):
    with odoo_sandbox.client() as client:
        client.authenticate()
        odoo_sandbox.serialization_failure_next(method="pos.config.load")
        with pytest.raises(OdooTransientError) as exc:
            client.upsert_pos_config(external_id=XID, name="Bar")
    assert not isinstance(exc.value, OdooUnreachableError)


def test_a_row_error_quoting_database_words_is_not_an_outage(odoo_sandbox):
    text = (
        "Traceback (most recent call last):\n"
        "ValueError: could not connect to server named in the register's name"
    )
    with odoo_sandbox.client() as client:
        client.authenticate()
        odoo_sandbox.reply_body_next(fault_body(1, text))
        with pytest.raises(OdooPermanentError):
            client.execute_kw("pos.config", "read", [[1], ["name"]])


@pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])
def test_a_maintenance_page_with_status_200_is_the_tenants_outage(odoo_sandbox, protocol):
    odoo_sandbox.reset(version="19.0")
    wire = client_wire(protocol)
    with odoo_sandbox.client(protocol=protocol) as client:
        client.authenticate()
        odoo_sandbox.reply_body_next(
            MAINTENANCE_PAGE, content_type="text/html; charset=utf-8", method="pos.config.read"
        )
        with pytest.raises(OdooOutageError) as exc:
            client.execute_kw("pos.config", "read", [[1], ["name"]])
    assert exc.value.message == (
        f'Odoo\'s server answered with an HTML page (HTTP 200), not {wire}: "Site under maintenance"'
    )
    assert exc.value.http_status == 200
    assert exc.value.outcome_unknown is True  # a success status: we cannot tell what ran behind it
    _assert_no_body_bytes(exc.value.message)


def test_plain_text_instead_of_json2_is_the_tenants_outage(odoo_sandbox):
    odoo_sandbox.reset(version="19.0")
    with odoo_sandbox.client() as client:
        client.authenticate()
        odoo_sandbox.reply_body_next(
            "upstream connect error db-7 10.0.3.7", content_type="text/plain", method="read"
        )
        with pytest.raises(OdooOutageError) as exc:
            client.execute_kw("pos.config", "read", [[1], ["name"]])
    assert exc.value.message == "Odoo's server answered with a text reply (HTTP 200), not JSON-2"


def test_a_page_title_is_cleaned_before_it_is_shown(odoo_sandbox):
    key = odoo_sandbox.api_key
    title = "  Blocked\x1b[31m \u202eevil\n\t" + key + " &amp; " + "x" * 300
    page = f"<html><head><title>{title}</title></head><body>secret</body></html>"
    with odoo_sandbox.client(protocol="xmlrpc") as client:
        odoo_sandbox.reply_body_next(page, content_type="text/html", method="common.version")
        with pytest.raises(OdooOutageError) as exc:
            client.version()
    quoted = exc.value.message.split(": ", 1)[1]
    assert quoted.startswith('"Blocked[31m evil [redacted] & xxx')
    assert len(quoted) <= 120 + 2
    assert key not in exc.value.message
    assert not any(ord(c) < 32 or c == "\u202e" for c in exc.value.message)


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (MAINTENANCE_PAGE.replace("Site under   maintenance", "Attention Required!"), "text/html"),
        ("Forbidden by policy 10.0.3.7", "text/plain"),
        ("", "text/html"),
    ],
    ids=["html", "text", "empty"],
)
def test_xmlrpc_401_403_always_come_from_in_front_of_odoo(odoo_sandbox, status, body, content_type):
    # Odoo's XML-RPC answers every refusal as a fault with status 200 (fault 3, fault 4).
    with odoo_sandbox.client() as client:
        client.authenticate()
        odoo_sandbox.reply_body_next(body, status=status, content_type=content_type)
        with pytest.raises(OdooOutageError) as exc:
            client.execute_kw("pos.config", "read", [[1], ["name"]])
    assert not isinstance(exc.value, OdooAuthError | OdooAccessError)
    assert exc.value.http_status == status
    assert exc.value.outcome_unknown is False  # refused before it reached Odoo
    assert f"(HTTP {status}), not XML-RPC" in exc.value.message
    _assert_no_body_bytes(exc.value.message)


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (MAINTENANCE_PAGE.replace("Site under   maintenance", "Access denied"), "text/html"),
        ("Forbidden by policy 10.0.3.7", "text/plain"),
        (json.dumps({"error": "blocked", "rule": "10.0.3.7"}), "application/json"),
        (json.dumps({"name": "Forbidden", "message": "10.0.3.7"}), "application/json"),
    ],
    ids=["html", "text", "foreign-json", "json-without-odoos-shape"],
)
def test_json2_401_403_without_odoos_error_body_are_the_tenants_outage(
    odoo_sandbox, status, body, content_type
):
    # Was OdooAccessError (403, dead-lettering the row) or OdooAuthError (401, pausing).
    odoo_sandbox.reset(version="19.0")
    with odoo_sandbox.client() as client:
        client.authenticate()
        odoo_sandbox.reply_body_next(
            body, status=status, content_type=content_type, method="pos.config.read"
        )
        with pytest.raises(OdooOutageError) as exc:
            client.execute_kw("pos.config", "read", [[1], ["name"]])
    assert exc.value.http_status == status
    assert exc.value.outcome_unknown is False
    assert f"(HTTP {status}), not JSON-2" in exc.value.message
    _assert_no_body_bytes(exc.value.message)


@pytest.mark.parametrize("status", [400, 405, 413])
@pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])
def test_any_other_page_is_the_tenants_outage_never_the_rows(odoo_sandbox, protocol, status):
    # JSON-2 used to make these OdooPermanentError: a proxy's page dead-lettered the row.
    odoo_sandbox.reset(version="19.0")
    page = MAINTENANCE_PAGE.replace("Site under   maintenance", "Request refused")
    with odoo_sandbox.client(protocol=protocol) as client:
        client.authenticate()
        odoo_sandbox.reply_body_next(page, status=status, content_type="text/html")
        with pytest.raises(OdooOutageError) as exc:
            client.execute_kw("pos.config", "read", [[1], ["name"]])
    assert exc.value.outcome_unknown is False
    assert exc.value.message.endswith(
        f'(HTTP {status}), not {client_wire(protocol)}: "Request refused"'
    )
    _assert_no_body_bytes(exc.value.message)


def client_wire(protocol: str) -> str:
    return {"xmlrpc": "XML-RPC", "json2": "JSON-2"}[protocol]


@pytest.mark.parametrize(
    ("status", "name", "expected"),
    [
        (401, "werkzeug.exceptions.Unauthorized", OdooAuthError),
        (403, "odoo.exceptions.AccessDenied", OdooAuthError),
        (403, "odoo.exceptions.AccessError", OdooAccessError),
    ],
)
def test_json2_401_403_with_odoos_error_body_keep_their_meaning(
    odoo_sandbox, status, name, expected
):
    odoo_sandbox.reset(version="19.0")
    body = {"name": name, "message": "Odoo says no", "arguments": [], "context": {}, "debug": ""}
    with odoo_sandbox.client() as client:
        client.authenticate()
        odoo_sandbox.reply_body_next(
            json.dumps(body), status=status, content_type="application/json", method="read"
        )
        with pytest.raises(expected) as exc:
            client.execute_kw("pos.config", "read", [[1], ["name"]])
    assert not isinstance(exc.value, OdooUnreachableError)
    assert exc.value.message == "Odoo says no"


@pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])
def test_a_proxy_error_page_keeps_only_its_title(odoo_sandbox, protocol):
    odoo_sandbox.reset(version="19.0")
    with odoo_sandbox.client(protocol=protocol) as client:
        client.authenticate()
        odoo_sandbox.fail_next(502, method="pos.config.read")
        with pytest.raises(OdooUnreachableError) as exc:
            client.execute_kw("pos.config", "read", [[1], ["name"]])
        assert exc.value.message == 'HTTP 502 from Odoo: "502 Bad Gateway"'
        odoo_sandbox.reply_body_next(
            "upstream db-7 10.0.3.7 refused", status=503, content_type="text/plain"
        )
        with pytest.raises(OdooUnreachableError) as exc:
            client.execute_kw("pos.config", "read", [[1], ["name"]])
        assert exc.value.message == "HTTP 503 from Odoo"
    assert not isinstance(exc.value, OdooOutageError)


def test_json2_wrong_database_page_is_named_without_its_html(odoo_sandbox):
    odoo_sandbox.reset(version="19.0")
    with OdooClient(odoo_sandbox.url, "nodb", "admin", odoo_sandbox.api_key) as client:
        with pytest.raises(OdooAuthError) as exc:
            client.authenticate()
    assert exc.value.message == (
        "No database is selected: this Odoo has no database 'nodb' "
        "(HTTP 404 to the X-Odoo-Database header)"
    )


# --- timeouts, reuse, bounds ----------------------------------------------------------


def test_read_timeout_fires_and_reports_unknown_outcome(odoo_sandbox_any_version):
    sandbox = odoo_sandbox_any_version
    with sandbox.client(read_timeout=0.3) as client:
        client.authenticate()
        sandbox.timeout_next(seconds=30, method="pos.config.write")
        started = time.monotonic()
        with pytest.raises(OdooUnreachableError, match=r"did not answer within 0\.3 s") as exc:
            client.write_pos_config(1, {"name": "x"})
        elapsed = time.monotonic() - started
    assert exc.value.outcome_unknown is True
    assert 0.25 <= elapsed < 2.0


def test_slow_odoo_times_out_on_latency(odoo_sandbox):
    odoo_sandbox.add_latency(5.0, method="authenticate")
    started = time.monotonic()
    with odoo_sandbox.client(read_timeout=0.2) as client, pytest.raises(OdooUnreachableError):
        client.authenticate()
    assert time.monotonic() - started < 2.0


def test_one_connection_is_reused_for_a_whole_drain(odoo_sandbox):
    with odoo_sandbox.client() as client:
        config_id = client.upsert_pos_config(external_id=XID, name="Bar")
        for n in range(10):
            client.write_pos_config(config_id, {"name": f"Bar {n}"})
        assert client.calls == 14  # web.version, common.version, authenticate, load, 10 writes
    assert odoo_sandbox.connections() == 1


def test_connection_close_servers_still_work_one_connection_per_call(odoo_sandbox):
    odoo_sandbox.set_keep_alive(False)
    with odoo_sandbox.client() as client:
        config_id = client.upsert_pos_config(external_id=XID, name="Bar")
        client.write_pos_config(config_id, {"name": "Bar 2"})
        assert client.calls == 5
    assert odoo_sandbox.connections() == 5


def test_response_size_is_bounded(odoo_sandbox):
    huge = fault_body(2, "x" * 5000)
    with odoo_sandbox.client(max_response_bytes=2000) as client:
        client.authenticate()
        odoo_sandbox.reply_body_next(huge)
        with pytest.raises(OdooConfigError, match="larger than 2000 bytes"):
            client.execute_kw("pos.config", "read", [[1], ["name"]])


def test_response_size_is_bounded_without_a_content_length(odoo_sandbox):
    with odoo_sandbox.client(max_response_bytes=100_000) as client:
        client.authenticate()
        odoo_sandbox.reply_body_next("x" * 10_000, repeat=50, chunked=True)  # 500 kB, chunked
        with pytest.raises(OdooConfigError, match="larger than 100000 bytes"):
            client.execute_kw("pos.config", "read", [[1], ["name"]])


def test_a_reply_trickling_in_cannot_outlast_the_calls_deadline(odoo_sandbox):
    # Each byte comes well inside the read timeout; the whole reply would take minutes.
    with odoo_sandbox.client(connect_timeout=0.5, read_timeout=1.0) as client:
        client.authenticate()
        odoo_sandbox.trickle_next(interval=0.2, method="pos.config.search_count")
        started = time.monotonic()
        with pytest.raises(OdooUnreachableError, match=r"did not complete within 1\.5 s") as exc:
            client.execute_kw("pos.config", "search_count", [[]])
        assert exc.value.outcome_unknown is True
        assert time.monotonic() - started < 5


def test_a_call_that_could_not_end_by_the_budget_is_never_sent(odoo_sandbox):
    """`end_by` bounds every exchange, a confirming search inside one method included."""
    with odoo_sandbox.client(connect_timeout=0.5, read_timeout=1.0) as client:
        client.authenticate()
        config_id = client.upsert_pos_config(external_id=XID, name="Bar")
        odoo_sandbox.delete_pos_config(config_id)
        calls = odoo_sandbox.counters()["calls"]
        client.end_by = time.monotonic() + 1.5 - 0.5  # less than connect + read left
        with pytest.raises(OdooNotSentError, match="time budget"):
            client.execute_kw("pos.config", "search_count", [[]])
        assert odoo_sandbox.counters()["calls"] == calls  # Odoo saw nothing
        client.end_by = time.monotonic() + 60
        with pytest.raises(OdooMissingRecordError):  # the write, then the search confirming it
            client.write_pos_config(config_id, {"name": "Terrace"})
        assert odoo_sandbox.counters()["calls"] == calls + 2
        client.end_by = None
        assert client.execute_kw("pos.config", "search_count", [[]]) == 0


def _deadline_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "odoo-call-deadline"}


def test_status_line_and_headers_trickling_in_cannot_outlast_the_calls_deadline(odoo_sandbox):
    # Every byte, the status line's included, comes well inside the read timeout.
    threads_before = _deadline_threads()
    with odoo_sandbox.client(connect_timeout=0.5, read_timeout=1.0) as client:
        client.authenticate()
        odoo_sandbox.trickle_next(interval=0.2, method="pos.config.search_count", headers=True)
        started = time.monotonic()
        with pytest.raises(OdooUnreachableError, match=r"did not complete within 1\.5 s") as exc:
            client.execute_kw("pos.config", "search_count", [[]])
        elapsed = time.monotonic() - started
        assert exc.value.outcome_unknown is True
        assert 1.5 <= elapsed < 1.5 + 0.5
        # The same client goes on, on a new connection: the shut one is not reused.
        connections = odoo_sandbox.connections()
        assert client.execute_kw("pos.config", "search_count", [[]]) == 0
        assert odoo_sandbox.connections() == connections + 1
        assert len(_deadline_threads() - threads_before) == 1  # one watchdog per client
    assert _deadline_threads() - threads_before == set()  # joined by close()


def test_the_watchdog_is_one_thread_per_client_and_joined_when_it_closes(odoo_sandbox):
    threads_before = _deadline_threads()
    client = odoo_sandbox.client()
    assert _deadline_threads() == threads_before  # started by the first call, not before
    for n in range(20):
        client.upsert_pos_config(external_id=XID, name=f"Bar {n}")
    assert len(_deadline_threads() - threads_before) == 1
    client.close()
    assert _deadline_threads() - threads_before == set()
    assert odoo_sandbox.connections() == 1  # watching each call leaves connection reuse alone
    with pytest.raises(RuntimeError, match="closed"):
        client.execute_kw("pos.config", "read", [[1], ["name"]])


def test_an_unclosed_client_does_not_leave_its_watchdog_behind(odoo_sandbox):
    threads_before = _deadline_threads()
    client = odoo_sandbox.client()
    client.version()
    del client  # no close(): collecting the client stops and joins its watchdog
    gc.collect()
    assert _deadline_threads() - threads_before == set()


@pytest.fixture
def tls_certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    from odoo_sandbox.tls import self_signed_certificate

    return self_signed_certificate(tmp_path)


@pytest.fixture
def slow_tls_server(tls_certificate):
    """A TLS server (127.0.0.1) whose handler `mode` trickles a byte every 0.1 s.

    `handshake`: answers the ClientHello with a record it never finishes;
    `headers`: completes TLS, then sends its status line and headers slowly.
    """
    import ssl

    listener = socket.create_server(("127.0.0.1", 0))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_certificate)
    stop = threading.Event()
    threads = []

    def serve(mode: str) -> None:
        conn, _ = listener.accept()
        try:
            if mode == "handshake":
                conn.recv(4096)  # the ClientHello
                conn.sendall(b"\x16\x03\x03\x40\x00")  # a 16 kB handshake record...
                slow = b"\x00" * 16384  # ...that never ends in time
            else:
                conn = context.wrap_socket(conn, server_side=True)
                conn.recv(65536)  # the request
                slow = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 0\r\n\r\n"
            for byte in slow:
                if stop.wait(0.1):
                    return
                conn.sendall(bytes([byte]))
        except OSError:
            return  # the client hung up, as it must at its deadline
        finally:
            conn.close()

    def start(mode: str) -> str:
        thread = threading.Thread(target=serve, args=(mode,), daemon=True)
        thread.start()
        threads.append(thread)
        return f"https://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=5)
        assert not thread.is_alive()
    listener.close()


def test_a_tls_handshake_trickling_in_cannot_outlast_the_calls_deadline(slow_tls_server):
    url = slow_tls_server("handshake")
    with OdooClient(url, "db", "admin", "key-abcdef", connect_timeout=0.5, read_timeout=1.0) as c:
        started = time.monotonic()
        with pytest.raises(OdooUnreachableError) as exc:
            c.version()
        assert time.monotonic() - started < 1.5 + 0.5
    assert exc.value.outcome_unknown is True


def test_https_headers_trickling_in_cannot_outlast_the_calls_deadline(
    slow_tls_server, tls_certificate
):
    url = slow_tls_server("headers")
    with OdooClient(
        url, "db", "admin", "key-abcdef", protocol="xmlrpc", connect_timeout=0.5, read_timeout=1.0
    ) as client:
        client._session.verify = tls_certificate[0]  # trust the test's own certificate
        started = time.monotonic()
        with pytest.raises(OdooUnreachableError, match=r"did not complete within 1\.5 s"):
            client.version()
        assert 1.5 <= time.monotonic() - started < 1.5 + 0.5


@pytest.mark.parametrize(
    "body",
    [
        # billion laughs
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        "<methodResponse><params><param><value><string>&lol3;</string></value></param>"
        "</params></methodResponse>",
        # external entity
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        "<methodResponse><params><param><value><string>&xxe;</string></value></param>"
        "</params></methodResponse>",
        # a bare DTD
        '<?xml version="1.0"?><!DOCTYPE methodResponse SYSTEM "http://example.com/x.dtd">'
        "<methodResponse><params><param><value><int>1</int></value></param>"
        "</params></methodResponse>",
    ],
    ids=["entity-expansion", "external-entity", "dtd"],
)
def test_hostile_xml_is_refused(odoo_sandbox, body):
    with odoo_sandbox.client(protocol="xmlrpc") as client:
        odoo_sandbox.reply_body_next(body, method="common.version")
        with pytest.raises(OdooConfigError, match="forbidden XML"):
            client.version()


def test_a_page_instead_of_xmlrpc_is_the_tenants_outage_not_a_config_error(odoo_sandbox):
    # Was OdooConfigError (pausing the tenant): a proxy's page says nothing about the URL.
    page = "<html><body>Welcome to nginx!</body></html>"
    with odoo_sandbox.client(protocol="xmlrpc") as client:
        odoo_sandbox.reply_body_next(page, content_type="text/html", method="common.version")
        with pytest.raises(OdooOutageError) as exc:
            client.version()
    assert exc.value.message == "Odoo's server answered with an HTML page (HTTP 200), not XML-RPC"
    assert "nginx" not in exc.value.message


def test_wrong_path_is_a_config_error(odoo_sandbox):
    with OdooClient(odoo_sandbox.url + "/odoo", "db", "admin", "key", protocol="xmlrpc") as client:
        with pytest.raises(OdooConfigError, match="HTTP 404"):
            client.version()


# --- where a connection may go ------------------------------------------------------------


def test_a_private_peer_is_refused_before_anything_is_sent(odoo_sandbox):
    with odoo_sandbox.client(allow_private_addresses=False) as client:
        with pytest.raises(OdooConfigError) as exc:
            client.authenticate()
    assert exc.value.message == (
        "The Odoo URL host '127.0.0.1' is a loopback address; only public addresses are allowed."
    )
    assert odoo_sandbox.calls() == {}
    assert odoo_sandbox.state()["requests"] == 0


def test_a_name_that_now_resolves_to_a_private_address_is_refused(odoo_sandbox):
    # The save-time check resolved it once; what counts is where each connection goes.
    url = odoo_sandbox.url.replace("127.0.0.1", "localhost")
    with OdooClient(
        url,
        odoo_sandbox.db,
        odoo_sandbox.login,
        odoo_sandbox.api_key,
        allow_private_addresses=False,
    ) as client:
        with pytest.raises(OdooConfigError) as exc:
            client.version()
    assert exc.value.message == (
        "The Odoo URL host 'localhost' now resolves to 127.0.0.1, a loopback address; "
        "only public addresses are allowed."
    )
    assert odoo_sandbox.calls() == {}


def test_private_addresses_are_allowed_by_default_and_when_asked(odoo_sandbox):
    url = odoo_sandbox.url.replace("127.0.0.1", "localhost")
    with odoo_sandbox.client() as client:
        assert client.authenticate() == 2
    with OdooClient(
        url,
        odoo_sandbox.db,
        odoo_sandbox.login,
        odoo_sandbox.api_key,
        allow_private_addresses=True,
    ) as client:
        assert client.authenticate() == 2


@pytest.fixture
def byte_counting_server():
    """A TCP listener that records every byte a client sends before hanging up."""
    listener = socket.create_server(("127.0.0.1", 0))
    received = bytearray()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            while chunk := conn.recv(4096):
                received.extend(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], received, thread
    listener.close()


def test_https_to_a_private_peer_is_refused_before_the_tls_handshake(byte_counting_server):
    port, received, thread = byte_counting_server
    with OdooClient(
        f"https://127.0.0.1:{port}", "db", "admin", "key-abcdef", allow_private_addresses=False
    ) as client:
        with pytest.raises(OdooConfigError, match="is a loopback address"):
            client.version()
    thread.join(timeout=5)  # the refused connection was closed: the server saw its end
    assert not thread.is_alive()
    assert bytes(received) == b""  # not even a ClientHello


# --- secrets ------------------------------------------------------------------------------


def test_credentials_never_appear_in_errors_or_repr(odoo_sandbox):
    key = odoo_sandbox.api_key
    with odoo_sandbox.client() as client:
        assert key not in repr(client)
        assert key not in str(vars(client).get("url"))
        client.authenticate()
        odoo_sandbox.reply_body_next(fault_body(1, f"Traceback ...\nValueError: bad key {key}"))
        with pytest.raises(OdooError) as exc:
            client.execute_kw("pos.config", "read", [[1], ["name"]])
    assert key not in str(exc.value)
    assert "[redacted]" in exc.value.message


def test_json2_bearer_key_is_not_echoed(odoo_sandbox):
    odoo_sandbox.reset(version="19.0")
    with odoo_sandbox.client() as client:
        client.authenticate()
        odoo_sandbox.reply_body_next(
            json.dumps({"name": "builtins.ValueError", "message": odoo_sandbox.api_key}),
            status=500,
            content_type="application/json",
        )
        with pytest.raises(OdooPermanentError) as exc:
            client.execute_kw("pos.config", "read", [[1], ["name"]])
    assert odoo_sandbox.api_key not in exc.value.message


def test_error_messages_are_trimmed():
    err = OdooPermanentError(
        "Traceback (most recent call last):\n" + "x" * 5000 + "\nKeyError: 'a'"
    )
    assert len(err.message) <= 2000
    assert err.message.endswith("KeyError: 'a'")
    assert str(err) == err.message


def test_errors_survive_pickling():
    import pickle

    err = pickle.loads(
        pickle.dumps(OdooUnreachableError("gone", outcome_unknown=True, http_status=502))
    )
    assert (err.message, err.outcome_unknown, err.http_status) == ("gone", True, 502)


def test_a_slow_odoo_does_not_delay_another_tenants_odoo(odoo_sandbox, odoo_sandbox_factory):
    slow = odoo_sandbox_factory(version="19.0")
    slow.add_latency(30.0)
    outcome = []

    def call_slow():
        try:
            with slow.client(read_timeout=60) as client:
                client.version()
        except OdooUnreachableError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call_slow)
    thread.start()
    started = time.monotonic()
    with odoo_sandbox.client() as client:
        client.upsert_pos_config(external_id=XID, name="Bar")
    assert time.monotonic() - started < 1.0
    assert thread.is_alive()  # still parked on the slow tenant's Odoo
    slow.reset()  # wakes it: the parked call is dropped unanswered
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert outcome and outcome[0].outcome_unknown is True


# --- onboarding (issue 13) ------------------------------------------------------------------


def test_find_pos_configs_by_name_in_two_calls_archived_included(odoo_sandbox_any_version):
    s = odoo_sandbox_any_version
    terrace = s.create_pos_config("Terrace", xmlid="regsync.register_a")
    old = s.create_pos_config("Terrace", active=False)
    s.create_pos_config("Bar")
    s.as_integration_user()  # may not read ir.model.data: get_metadata is how
    with s.client() as client:
        client.authenticate()
        before = sum(s.calls().values())
        found = client.find_pos_configs_by_name(["Terrace", "Kiosk", "Terrace"])
        assert sum(s.calls().values()) - before == 2
    assert found == {
        "Terrace": [
            {
                "id": terrace,
                "name": "Terrace",
                "active": True,
                "external_id": "regsync.register_a",
                "external_ids": ["regsync.register_a"],
            },
            {
                "id": old,
                "name": "Terrace",
                "active": False,
                "external_id": None,
                "external_ids": [],
            },
        ],
        "Kiosk": [],
    }


def test_find_pos_configs_by_name_is_trimmed_and_case_blind_never_a_substring(odoo_sandbox):
    s = odoo_sandbox
    spaced = s.create_pos_config("  front COUNTER ")
    s.create_pos_config("Front counter 2")  # contains the name: not the same name
    s.create_pos_config("Bar 100%_off")  # wildcards in Odoo's ilike match more; narrowed here
    with s.client() as client:
        client.authenticate()
        found = client.find_pos_configs_by_name(["Front Counter", "Bar 100%_off", "Bar 1000off"])
    assert [r["id"] for r in found["Front Counter"]] == [spaced]
    assert [r["name"] for r in found["Bar 100%_off"]] == ["Bar 100%_off"]
    assert found["Bar 1000off"] == []


def _ascii_lower(text: str) -> str:
    """lower() in a database whose LC_CTYPE is C: ASCII letters only."""
    return "".join(ch.lower() if ch.isascii() else ch for ch in text)


def _tricky_characters() -> list[str]:
    """Every character whose case, fold or normal form differs, or that another folds to."""
    found = set()
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        folded = unicodedata.normalize("NFC", unicodedata.normalize("NFD", char).casefold())
        if folded != char or unicodedata.normalize("NFD", char) != char or char.isspace():
            found.add(char)
            found.update(folded)
    return sorted(found)


def test_name_pattern_finds_every_name_that_name_key_calls_equal():
    """For any name Odoo may hold, the pattern made from any name with the same key matches
    it under the sandbox's ILIKE (en_US.UTF-8) and under a C locale's."""
    names = [f"Ab {ch}cD" for ch in _tricky_characters()] + [
        "  Stra\u00dfe  ",
        "\ufb01sh \ufb00 \ufb06op",  # ligatures
        "Cafe\u0301\tbar",
        "\u1100\u1161\u11a8",  # a Hangul syllable in conjoining jamo (NFD)
        "\u212a\u017f\u0130",  # Kelvin sign, long s, dotted capital I
        "50% _off\\",
    ]
    for name in names:
        key = name_key(name)
        assert name_key(key) == key, repr(name)
        pattern = name_pattern(key)
        assert like_pattern("=ilike", pattern).fullmatch(pg_lower(name)), (name, pattern)
        c_locale = like_pattern("=ilike", pattern, lower=_ascii_lower)
        assert c_locale.fullmatch(_ascii_lower(name)), (name, pattern)


def test_name_pattern_keeps_what_cannot_differ_and_escapes_likes_own_characters():
    assert name_pattern("  Terrace  Bar ") == "%terrace%bar%"
    assert name_pattern("Straße") == name_pattern("STRASSE") == "%ra%e%"  # s: long s, ß
    assert name_pattern("Bar 100%_off\\") == "%bar%100\\%\\_o%\\\\%"  # ff: the ligature
    assert (
        name_pattern("\u30ab\u30a6\u30f3\u30bf\u30fc") == "%\u30ab\u30a6\u30f3\u30bf\u30fc%"
    )  # caseless
    assert name_pattern("Caf\u00e9") == "%caf%"


def test_read_all_pos_configs_pages_by_id(odoo_sandbox):
    s = odoo_sandbox
    ids = [s.create_pos_config(f"R{i}", active=i % 2 == 0) for i in range(7)]
    s.delete_pos_config(ids[3])
    with s.client() as client:
        client.upsert_pos_config(external_id=XID, name="Linked")
        rows = client.read_all_pos_configs(page_size=3)
    assert [r["id"] for r in rows] == [*ids[:3], *ids[4:], ids[-1] + 1]
    assert [r["active"] for r in rows][:3] == [True, False, True]
    assert rows[-1]["external_id"] == f"regsync.{XID[1]}"
    assert s.call_count("pos.config.search_read") == 3  # 3 + 3 + 1 rows
    with pytest.raises(ValueError):
        s.client().read_all_pos_configs(page_size=0)


def test_link_needs_access_rights_and_says_so(odoo_sandbox_any_version):
    s = odoo_sandbox_any_version
    existing = s.create_pos_config("Terrace")
    s.as_integration_user()
    with s.client() as client, pytest.raises(OdooAccessError) as caught:
        client.link_pos_config(existing, XID)
    assert "Administration / Access Rights" in caught.value.message
    assert "not allowed to create 'Model Data'" in caught.value.message
    assert s.external_ids() == [] and len(s.pos_configs()) == 1


def test_link_attaches_the_id_to_the_existing_record_once(odoo_sandbox_any_version):
    s = odoo_sandbox_any_version
    existing = s.create_pos_config("Terrace")
    with s.client() as client:
        client.link_pos_config(existing, XID)
        client.link_pos_config(existing, f"regsync.{XID[1]}")  # again: nothing to do
        assert s.call_count("ir.model.data.create") == 1
        # the upsert now finds it: the same record is renamed, none is created
        assert client.upsert_pos_config(external_id=XID, name="Patio") == existing
    assert s.pos_configs() == [
        {"id": existing, "name": "Patio", "active": True, "open_session": False}
    ]


def test_link_refuses_an_id_of_another_record_and_a_second_id(odoo_sandbox):
    s = odoo_sandbox
    other = s.create_pos_config("Bar", xmlid=f"regsync.{XID[1]}")
    existing = s.create_pos_config("Terrace", xmlid="regsync.register_old")
    fresh = s.create_pos_config("Kiosk")
    with s.client() as client:
        with pytest.raises(OdooValidationError, match=r"already linked to regsync\.register_old"):
            client.link_pos_config(existing, XID)
        with pytest.raises(OdooValidationError, match="already belongs to another record"):
            client.link_pos_config(fresh, XID)
        with pytest.raises(OdooMissingRecordError):
            client.link_pos_config(999, XID)
    assert {x["res_id"] for x in s.external_ids()} == {other, existing}


# --- batching (issue 14) --------------------------------------------------------------------


def test_upsert_many_in_one_call_then_again_updates_the_same_records(odoo_sandbox_any_version):
    s = odoo_sandbox_any_version
    rows = [(("regsync", f"register_{i}"), f"R{i}", True) for i in range(50)]
    with s.client() as client:
        ids = client.upsert_pos_configs(rows)
        again = client.upsert_pos_configs(
            [(x, f"{n}!", i % 2 == 0) for i, (x, n, _) in enumerate(rows)]
        )
    assert again == ids and len(set(ids)) == 50
    assert s.call_count("pos.config.load") == 2
    configs = s.pos_configs()
    assert len(configs) == 50 and configs[1] == {
        "id": ids[1],
        "name": "R1!",
        "active": False,
        "open_session": False,
    }


def test_upsert_many_names_the_bad_rows_and_writes_nothing(odoo_sandbox_any_version):
    s = odoo_sandbox_any_version
    rows = [(f"regsync.register_{i}", "" if i in (1, 4) else f"R{i}", True) for i in range(6)]
    with s.client() as client, pytest.raises(OdooBatchError) as caught:
        client.upsert_pos_configs(rows)
    error = caught.value
    assert isinstance(error, OdooValidationError)
    assert set(error.failed_rows) == {1, 4}
    assert "Missing required value" in error.failed_rows[4]
    assert not error.uncertain_rows and not error.transient_rows and not error.incomplete
    assert error.message.startswith("Odoo refused 2 of 6 rows, nothing was written: row 1: ")
    assert s.pos_configs() == []


def test_the_repeat_of_a_batch_error_on_row_0_is_not_a_failure_of_row_0(odoo_sandbox):
    s = odoo_sandbox.reset(version="19.0")
    with s.client() as client:
        ids = client.upsert_pos_configs([(f"regsync.r{i}", f"R{i}", True) for i in range(3)])
        s.open_session(ids[2])
        with pytest.raises(OdooBatchError) as caught:
            client.upsert_pos_configs([(f"regsync.r{i}", f"R{i}", False) for i in range(3)])
    error = caught.value
    # Odoo's messages: row 0 (the batch's error, repeated) then row 2: row 0 may be fine
    assert [m["record"] for m in error.messages] == [0, 2]
    assert set(error.failed_rows) == {2} and error.transient_rows == {2}
    assert error.uncertain_rows == {0}
    assert all(c["active"] for c in s.pos_configs())


def test_upsert_many_reports_an_interrupted_batch_and_refuses_duplicates(odoo_sandbox):
    s = odoo_sandbox
    with s.client() as client:
        with pytest.raises(OdooBatchError) as caught:
            client.upsert_pos_configs([(f"regsync.r{i}", "", True) for i in range(12)])
        assert caught.value.incomplete and set(caught.value.failed_rows) == set(range(10))
        with pytest.raises(ValueError, match="appears twice"):
            client.upsert_pos_configs([("regsync.r1", "A", True), (("regsync", "r1"), "B", True)])
        assert client.upsert_pos_configs([]) == []
    assert s.call_count("pos.config.load") == 1


def test_update_many_writes_each_rows_values_in_one_load_archived_too(odoo_sandbox_any_version):
    s = odoo_sandbox_any_version
    ids = [s.create_pos_config(f"R{i}", active=i != 2) for i in range(4)]
    with s.client() as client:
        client.update_pos_configs(
            [(i, {"name": f"New {n}", "active": True}) for n, i in enumerate(ids)]
        )
        assert (s.call_count("pos.config.load"), s.call_count("pos.config.write")) == (1, 0)
        assert [(c["name"], c["active"]) for c in s.pos_configs()] == [
            (f"New {n}", True) for n in range(4)
        ]  # R2 was archived: found (active_test off) and reactivated
        client.update_pos_configs([(ids[0], {"name": "Only the name"}), (ids[3], {"name": "X"})])
    assert s.pos_config(ids[0])["name"] == "Only the name" and s.pos_config(ids[0])["active"]
    assert s.external_ids() == []  # a load by database id links nothing
    assert len(s.pos_configs()) == 4  # and creates nothing


def test_update_many_names_a_deleted_record_and_writes_nothing(odoo_sandbox_any_version):
    s = odoo_sandbox_any_version
    ids = [s.create_pos_config(f"R{i}") for i in range(3)]
    s.delete_pos_config(ids[1])
    with s.client() as client, pytest.raises(OdooBatchError) as caught:
        client.update_pos_configs([(i, {"name": f"New {n}"}) for n, i in enumerate(ids)])
    error = caught.value
    assert set(error.failed_rows) == {1} and error.missing_rows == {1}
    assert f"'{ids[1]}'" in error.failed_rows[1]  # Odoo's "Unknown database identifier '<id>'"
    assert sorted(c["name"] for c in s.pos_configs()) == ["R0", "R2"]  # all or nothing
    assert s.mutations() == []  # nor the create load tried for the unknown row, rolled back


def test_update_many_refuses_rows_that_set_different_fields_or_one_record_twice(odoo_sandbox):
    with odoo_sandbox.client() as client:
        with pytest.raises(ValueError, match="same fields"):
            client.update_pos_configs([(1, {"name": "A"}), (2, {"active": False})])
        with pytest.raises(ValueError, match="twice"):
            client.update_pos_configs([(1, {"name": "A"}), (1, {"name": "B"})])
        client.update_pos_configs([])
    assert odoo_sandbox.call_count("pos.config.load") == 0


def test_update_many_tells_an_open_session_refusal_from_a_bad_value(odoo_sandbox):
    s = odoo_sandbox.reset(version="19.0")
    ids = [s.create_pos_config(f"R{i}") for i in range(3)]
    s.open_session(ids[2])
    with s.client() as client, pytest.raises(OdooBatchError) as caught:
        client.update_pos_configs(
            [
                (ids[0], {"name": "A", "active": False}),
                (ids[1], {"name": "", "active": True}),
                (ids[2], {"name": "C", "active": False}),
            ]
        )
    error = caught.value
    assert 2 in error.failed_rows and error.transient_rows == {2}
    assert not error.missing_rows
    assert [c["name"] for c in s.pos_configs()] == ["R0", "R1", "R2"]


def test_write_many_is_one_call_and_names_the_deleted_ones(odoo_sandbox_any_version):
    s = odoo_sandbox_any_version
    ids = [s.create_pos_config(f"R{i}") for i in range(4)]
    with s.client() as client:
        client.write_pos_configs(ids, {"active": False})
        assert s.call_count("pos.config.write") == 1
        assert not any(c["active"] for c in s.pos_configs())
        s.delete_pos_config(ids[1])
        with pytest.raises(OdooMissingRecordError) as caught:
            client.write_pos_configs(ids, {"active": True})
    assert caught.value.missing_ids == (ids[1],)
    assert not any(c["active"] for c in s.pos_configs())  # nothing applied
