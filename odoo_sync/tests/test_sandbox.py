"""The sandbox speaks Odoo's wire protocols as real Odoo does (raw HTTP, no OdooClient)."""

import http.client
import json
import logging
import os
import socket
import subprocess
import sys
import time
import xmlrpc.client
from urllib.parse import urlsplit

import pytest
import requests

from odoo_sandbox import Sandbox, SandboxControlError


def xmlrpc_call(sandbox, service, method, *params):
    """POST one XML-RPC call; return (response, value-or-Fault)."""
    body = xmlrpc.client.dumps(params, method, allow_none=False)
    response = requests.post(
        f"{sandbox.url}/xmlrpc/2/{service}",
        data=body.encode(),
        timeout=5,
        headers={"Content-Type": "text/xml"},
    )
    try:
        value = xmlrpc.client.loads(response.content)[0][0]
    except xmlrpc.client.Fault as fault:
        value = fault
    return response, value


def execute_kw(sandbox, model, method, args, kwargs=None, *, db=None, key=None):
    params = [db or sandbox.db, 2, key or sandbox.api_key, model, method, args]
    if kwargs is not None:
        params.append(kwargs)
    return xmlrpc_call(sandbox, "object", "execute_kw", *params)[1]


def json2(sandbox, model, method, payload=None, *, key=None, headers=None, raw=None, verb="POST"):
    all_headers = {
        "Authorization": f"bearer {key or sandbox.api_key}",
        "Content-Type": "application/json",
        **(headers or {}),
    }
    data = raw if raw is not None else json.dumps(payload or {}).encode()
    return requests.request(
        verb, f"{sandbox.url}/json/2/{model}/{method}", data=data, headers=all_headers, timeout=5
    )


# --- XML-RPC ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["16.0", "17.0", "18.0", "19.0"])
def test_common_version_shape(odoo_sandbox, version):
    odoo_sandbox.reset(version=version)
    response, value = xmlrpc_call(odoo_sandbox, "common", "version")
    major = int(version.split(".")[0])
    assert value == {
        "server_version": version,
        "server_version_info": [major, 0, 0, "final", 0, ""],
        "server_serie": version,
        "protocol_version": 1,
    }
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.content.startswith(b'<?xml version="1.0"?>\n<methodResponse>\n')


def test_authenticate_returns_uid_or_false_not_a_fault(odoo_sandbox):
    s = odoo_sandbox
    assert xmlrpc_call(s, "common", "authenticate", s.db, s.login, s.api_key, {})[1] == 2
    assert xmlrpc_call(s, "common", "login", s.db, s.login, s.api_key)[1] == 2
    assert xmlrpc_call(s, "common", "authenticate", s.db, s.login, "nope", {})[1] is False
    assert xmlrpc_call(s, "common", "authenticate", s.db, "bob", s.api_key, {})[1] is False


def test_faults_come_with_http_200_and_integer_codes(odoo_sandbox):
    s = odoo_sandbox
    response, fault = xmlrpc_call(
        s, "object", "execute_kw", s.db, 2, "bad-key", "pos.config", "search", [[]]
    )
    assert response.status_code == 200
    assert (fault.faultCode, fault.faultString) == (3, "Access Denied")

    fault = xmlrpc_call(s, "common", "authenticate", "nodb", s.login, s.api_key, {})[1]
    assert fault.faultCode == 1
    assert fault.faultString.startswith("Traceback (most recent call last):")
    assert fault.faultString.rstrip().endswith(
        "psycopg2.OperationalError: connection to server on socket "
        '"/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  database "nodb" does not exist'
    )
    fault = execute_kw(s, "pos.nonexistent", "search", [[]])
    assert (fault.faultCode, fault.faultString) == (2, "Object pos.nonexistent doesn't exist")
    fault = execute_kw(s, "pos.config", "_check_company", [[1]])
    assert fault.faultCode == 4 and "Private methods" in fault.faultString
    s.set_pos_manager(False)
    fault = execute_kw(s, "pos.config", "create", [{"name": "x"}])
    assert fault.faultCode == 4 and "not allowed to create" in fault.faultString


@pytest.mark.parametrize(("version", "code"), [("17.0", 1), ("18.0", 1), ("19.0", 2)])
def test_create_without_name_differs_by_version(odoo_sandbox, version, code):
    odoo_sandbox.reset(version=version)
    fault = execute_kw(odoo_sandbox, "pos.config", "create", [{"active": True}])
    assert fault.faultCode == code
    if code == 1:
        assert fault.faultString.rstrip().endswith("KeyError: 'name'")
    else:
        assert fault.faultString.startswith(
            "The operation cannot be completed: Missing required value for the field "
            "'Point of Sale' (name)."
        )


# 19.0's message for a NULL in a required column (odoo/orm/models.py
# _sql_error_to_message_generic behind odoo/service/model.py's prefix), as observed.
MISSING_NAME_19 = (
    "The operation cannot be completed: Missing required value for the field "
    "'Point of Sale' (name).\n"
    "Model: 'Point of Sale Configuration' (pos.config)\n"
    "- create/update: a mandatory field is not set\n"
    "- delete: another model requires the record being deleted, you can archive it instead\n"
)


def test_create_without_name_on_19_names_the_model_as_real_19_does(odoo_sandbox):
    odoo_sandbox.reset(version="19.0")
    response = json2(odoo_sandbox, "pos.config", "create", {"vals_list": [{"active": True}]})
    assert _error(response) == (422, "odoo.exceptions.ValidationError", MISSING_NAME_19)
    fault = execute_kw(odoo_sandbox, "pos.config", "create", [{"active": True}])
    assert (fault.faultCode, fault.faultString) == (2, MISSING_NAME_19)


def test_execute_kw_checks_the_key_against_the_uid_it_names(odoo_sandbox):
    """res.users check (17.0, 18.0) / _check_uid_passwd (19.0): uid and key must belong
    together; either wrong is AccessDenied, fault 3, and nothing runs."""
    s = odoo_sandbox
    assert execute_kw(s, "pos.config", "search", [[]]) == []
    for uid, key in ((2, "revoked-key-0123"), (7, s.api_key)):
        params = [s.db, uid, key, "pos.config", "create", [{"name": "Bar"}]]
        fault = xmlrpc_call(s, "object", "execute_kw", *params)[1]
        assert (fault.faultCode, fault.faultString) == (3, "Access Denied")
    assert s.pos_configs() == []


def test_create_write_read_and_deleted_records(odoo_sandbox):
    s = odoo_sandbox
    config_id = execute_kw(s, "pos.config", "create", [{"name": "Bar"}])
    assert isinstance(config_id, int)
    assert execute_kw(s, "pos.config", "create", [[{"name": "A"}, {"name": "B"}]]) == [2, 3]
    assert execute_kw(s, "pos.config", "write", [[config_id], {"active": False}]) is True
    assert execute_kw(s, "pos.config", "read", [[config_id], ["name", "active"]]) == [
        {"id": config_id, "name": "Bar", "active": False}
    ]
    assert execute_kw(s, "pos.config", "read", [[999999], ["name"]]) == []
    fault = execute_kw(s, "pos.config", "write", [[999999], {"name": "x"}])
    assert fault.faultCode == 2
    assert fault.faultString == (
        "Record does not exist or has been deleted.\n(Record: pos.config(999999,), User: 2)"
    )
    fault = execute_kw(s, "pos.config", "read", [[config_id], ["no_such_field"]])
    assert fault.faultCode == 1
    assert "ValueError: Invalid field 'no_such_field' on 'pos.config'" in fault.faultString


def test_archived_records_hide_from_searches_only(odoo_sandbox):
    s = odoo_sandbox
    live = s.create_pos_config("Shop")
    archived = s.create_pos_config("Bar", active=False)
    assert execute_kw(s, "pos.config", "search", [[]]) == [live]
    assert execute_kw(s, "pos.config", "search_count", [[]]) == 1
    assert execute_kw(s, "pos.config", "search", [[("active", "=", False)]]) == [archived]
    assert execute_kw(s, "pos.config", "search", [[("active", "in", [True, False])]]) == [
        live,
        archived,
    ]
    assert (
        execute_kw(
            s,
            "pos.config",
            "search_count",
            [[("id", "=", archived)]],
            {"context": {"active_test": False}},
        )
        == 1
    )
    assert execute_kw(s, "pos.config", "search_count", [[("id", "=", archived)]]) == 0
    assert execute_kw(s, "pos.config", "read", [[archived], ["active"]]) == [
        {"id": archived, "active": False}
    ]


def test_a_search_by_ids_answers_as_a_full_scan_does(odoo_sandbox):
    """The sandbox looks ids up directly (no cost growing with the table): same answers."""
    s = odoo_sandbox
    ids = [s.create_pos_config(f"R{i}", active=i != 1) for i in range(4)]
    s.delete_pos_config(ids[3])
    everything = {"context": {"active_test": False}}
    search = lambda domain, kw=None: execute_kw(s, "pos.config", "search", [domain], kw)  # noqa: E731
    assert search([("id", "in", [ids[3], ids[1], ids[0], 999])]) == [ids[0]]
    assert search([("id", "in", [ids[3], ids[1], ids[0]])], everything) == [ids[0], ids[1]]
    assert search([("id", "=", ids[1])], everything) == [ids[1]]
    assert search([("id", "=", ids[3])], everything) == []
    assert search([("id", "in", [])]) == []
    assert search([("id", "in", ids)], {"limit": 1, "order": "id"}) == [ids[0]]


def test_domains(odoo_sandbox):
    s = odoo_sandbox
    a, b, c = (s.create_pos_config(n) for n in ("Shop", "Bar", "Barbecue"))
    search = lambda domain: execute_kw(s, "pos.config", "search", [domain])  # noqa: E731
    assert search([("name", "ilike", "BAR")]) == [b, c]
    assert search([("name", "ilike", "bar"), ("id", "!=", b)]) == [c]
    assert search([("id", "not in", [a, b])]) == [c]
    assert search(["|", ("name", "=", "Shop"), ("name", "=", "Bar")]) == [a, b]
    assert search(["!", ("name", "=", "Shop")]) == [b, c]
    assert execute_kw(s, "pos.config", "search", [[]], {"limit": 1, "order": "id desc"}) == [c]
    fault = execute_kw(s, "pos.config", "search", [[("nope", "=", 1)]])
    assert fault.faultCode == 1 and "Invalid field pos.config.nope" in fault.faultString


def test_likes_are_postgresqls_as_odoo_sends_them(odoo_sandbox):
    """docs/odoo.md: `ilike` wraps the value in %...% unescaped, `=ilike` sends it as
    given, ILIKE lowercases character by character and neither casefolds nor normalises."""
    s = odoo_sandbox
    names = ["Bar 50%", "Bar 5000", "Bar_1", "BarX1", "Straße", "Cafe\u0301", "Main  Bar"]
    ids = dict(zip(names, (s.create_pos_config(n) for n in names), strict=True))
    search = lambda *leaf: [  # noqa: E731
        names[list(ids.values()).index(i)] for i in execute_kw(s, "pos.config", "search", [[leaf]])
    ]
    assert search("name", "ilike", "bar 50%") == ["Bar 50%", "Bar 5000"]  # % is a wildcard
    assert search("name", "=ilike", "bar 50\\%") == ["Bar 50%"]  # escaped by the caller
    assert search("name", "=ilike", "bar_1") == ["Bar_1", "BarX1"]
    assert search("name", "=ilike", "bar\\_1") == ["Bar_1"]
    assert search("name", "=ilike", "bar") == []  # anchored
    assert search("name", "=like", "bar%") == []  # LIKE keeps case
    assert search("name", "ilike", "STRASSE") == []  # lower(), not casefold
    assert search("name", "ilike", "STRASSE".lower().replace("ss", "ß")) == ["Straße"]
    assert search("name", "ilike", "Café") == []  # no normalisation: NFD stays NFD
    assert search("name", "ilike", "main bar") == []
    assert search("name", "not ilike", "bar") == ["Straße", "Cafe\u0301"]
    fault = execute_kw(s, "pos.config", "search", [[("name", "=ilike", "bar\\")]])
    assert "must not end with escape character" in fault.faultString


def test_load_creates_once_then_updates_and_records_the_external_id(odoo_sandbox):
    s = odoo_sandbox
    fields = ["id", "name", "active"]
    first = execute_kw(s, "pos.config", "load", [fields, [["regsync.register_a", "Bar", "1"]]])
    assert first == {"ids": [1], "messages": [], "nextrow": 0}
    again = execute_kw(s, "pos.config", "load", [fields, [["regsync.register_a", "Pub", "0"]]])
    assert again["ids"] == [1]
    assert s.pos_configs() == [{"id": 1, "name": "Pub", "active": False, "open_session": False}]
    rows = execute_kw(
        s,
        "ir.model.data",
        "search_read",
        [[("module", "=", "regsync"), ("name", "=", "register_a")], ["res_id", "model"]],
    )
    assert rows == [{"id": 1, "res_id": 1, "model": "pos.config"}]
    bad = execute_kw(s, "pos.config", "load", [fields, [["regsync.register_b", "", "1"]]])
    assert bad["ids"] is False
    assert bad["messages"][0]["type"] == "error"
    assert "Missing required value" in bad["messages"][0]["message"]
    assert len(s.pos_configs()) == 1  # the failed load rolled back
    fault = execute_kw(s, "pos.config", "load", [["id", "bogus"], [["regsync.x", "1"]]])
    assert fault.faultCode == 1 and fault.faultString.rstrip().endswith("KeyError: 'bogus'")


def test_a_restored_backup_brings_back_records_and_sequences_so_ids_come_again(odoo_sandbox):
    s = odoo_sandbox
    fields = ["id", "name"]
    kept = execute_kw(s, "pos.config", "load", [fields, [["regsync.register_a", "Bar"]]])["ids"]
    backup = s.backup()
    later = execute_kw(s, "pos.config", "load", [fields, [["regsync.register_b", "Pub"]]])["ids"]
    s.restore_backup(backup)
    assert [c["name"] for c in s.pos_configs()] == ["Bar"]
    assert [x["name"] for x in s.external_ids()] == ["register_a"]
    # The next record created gets the id the lost one had, as after Odoo's own restore.
    again = execute_kw(s, "pos.config", "load", [fields, [["regsync.register_c", "Kiosk"]]])
    assert (kept, again["ids"]) == ([1], later)


def test_a_failed_load_rolls_back_the_rows_it_had_already_written(odoo_sandbox):
    """The savepoint copies table indexes only: a write must never change a saved row."""
    s = odoo_sandbox
    fields = ["id", "name", "active"]
    execute_kw(s, "pos.config", "load", [fields, [["regsync.register_a", "Bar", "1"]]])
    before = s.mutations()
    # Row 0 updates register_a, row 1 is refused: the whole load goes back.
    rows = [["regsync.register_a", "Pub", "0"], ["regsync.register_b", "", "1"]]
    assert execute_kw(s, "pos.config", "load", [fields, rows])["ids"] is False
    assert s.pos_configs() == [{"id": 1, "name": "Bar", "active": True, "open_session": False}]
    assert [x["complete_name"] for x in s.external_ids()] == ["regsync.register_a"]
    assert s.mutations() == before
    # The external id still finds its record after the rollback.
    again = execute_kw(s, "pos.config", "load", [fields, [["regsync.register_a", "Café", "1"]]])
    assert again["ids"] == [1]
    timed = s.timed_mutations()
    assert [m[:4] for m in timed] == [(1, "create", "Bar", True), (1, "load", "Café", True)]
    assert timed[0][4] <= timed[1][4] <= time.time()


def test_unlink_is_refused_once_a_config_had_a_session(odoo_sandbox):
    s = odoo_sandbox
    used, unused = s.create_pos_config("Shop"), s.create_pos_config("Bar")
    session_id = execute_kw(s, "pos.session", "create", [{"config_id": used}])
    assert execute_kw(s, "pos.session", "read", [[session_id], ["state"]]) == [
        {"id": session_id, "state": "opening_control"}
    ]
    assert execute_kw(s, "pos.session", "write", [[session_id], {"state": "closed"}]) is True
    fault = execute_kw(s, "pos.config", "unlink", [[used]])
    assert fault.faultCode == 2 and "If possible, archive it instead." in fault.faultString
    assert execute_kw(s, "pos.config", "unlink", [[unused]]) is True


@pytest.mark.parametrize(("version", "refused"), [("17.0", False), ("18.0", False), ("19.0", True)])
def test_archiving_with_an_open_session(odoo_sandbox, version, refused):
    s = odoo_sandbox.reset(version=version)
    config_id = s.create_pos_config("Bar")
    execute_kw(s, "pos.session", "create", [{"config_id": config_id}])
    assert execute_kw(s, "pos.config", "write", [[config_id], {"name": "Pub"}]) is True
    result = execute_kw(s, "pos.config", "write", [[config_id], {"active": False}])
    if refused:
        assert result.faultCode == 2
        assert result.faultString == (
            "Unable to modify this PoS Configuration because you can't modify Active "
            "while a session is open."
        )
    else:
        assert result is True


def test_login_cooldown_is_real_and_resettable(odoo_sandbox):
    s = odoo_sandbox
    for _ in range(5):
        assert xmlrpc_call(s, "common", "authenticate", s.db, s.login, "bad", {})[1] is False
    assert xmlrpc_call(s, "common", "authenticate", s.db, s.login, s.api_key, {})[1] is False
    fault = execute_kw(s, "pos.config", "search", [[]])
    assert fault.faultString == "Too many login failures, please wait a bit before trying again."
    s.clear_login_failures()
    assert xmlrpc_call(s, "common", "authenticate", s.db, s.login, s.api_key, {})[1] == 2


def test_xmlrpc_on_19_logs_the_deprecation_warning(odoo_sandbox, caplog):
    odoo_sandbox.reset(version="19.0")
    with caplog.at_level(logging.WARNING, logger="odoo.addons.rpc.controllers.xmlrpc"):
        xmlrpc_call(odoo_sandbox, "common", "version")
    assert odoo_sandbox.deprecation_warnings() == 1
    assert any("deprecated in Odoo 19" in r.getMessage() for r in caplog.records)
    odoo_sandbox.reset(version="18.0")
    xmlrpc_call(odoo_sandbox, "common", "version")
    assert odoo_sandbox.deprecation_warnings() == 0


# --- JSON-2 -------------------------------------------------------------------------------


def test_version_endpoint_only_on_19(odoo_sandbox):
    odoo_sandbox.reset(version="19.0")
    response = requests.get(f"{odoo_sandbox.url}/web/version", timeout=5)
    assert response.json() == {"version_info": [19, 0, 0, "final", 0, ""], "version": "19.0"}
    odoo_sandbox.reset(version="18.0")
    assert requests.get(f"{odoo_sandbox.url}/web/version", timeout=5).status_code == 404
    response = requests.post(
        f"{odoo_sandbox.url}/json/2/pos.config/search", json={}, timeout=5, allow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/web/login")


@pytest.fixture
def odoo19(odoo_sandbox):
    return odoo_sandbox.reset(version="19.0")


def test_json2_happy_paths(odoo19):
    s = odoo19
    assert json2(s, "pos.config", "create", {"vals_list": [{"name": "Bar"}]}).json() == [1]
    assert json2(s, "pos.config", "write", {"ids": [1], "vals": {"name": "Pub"}}).json() is True
    assert json2(s, "pos.config", "read", {"ids": [1], "fields": ["name"]}).json() == [
        {"id": 1, "name": "Pub"}
    ]
    loaded = json2(
        s, "pos.config", "load", {"fields": ["id", "name"], "data": [["regsync.register_x", "Bar"]]}
    ).json()
    assert loaded == {"ids": [2], "messages": [], "nextrow": 0}
    assert json2(s, "pos.config", "search_count", {"domain": []}).json() == 2
    assert json2(s, "res.users", "context_get", key=s.api_key).json()["uid"] == 2
    for spelling in ("Bearer", "BEARER", "bearer"):
        response = json2(
            s,
            "pos.config",
            "search",
            {"domain": []},
            headers={"Authorization": f"{spelling} {s.api_key}"},
        )
        assert response.status_code == 200
    assert (
        json2(
            s, "pos.config", "search", {"domain": []}, headers={"X-Odoo-Database": s.db}
        ).status_code
        == 200
    )


def _error(response):
    body = response.json()
    assert set(body) == {"name", "message", "arguments", "context", "debug"}
    return response.status_code, body["name"], body["message"]


def test_json2_error_table(odoo19):
    s = odoo19
    s.create_pos_config("Bar")

    response = json2(s, "pos.config", "search", {"domain": []}, key="wrong")
    assert _error(response) == (401, "werkzeug.exceptions.Unauthorized", "Invalid apikey")
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    response = json2(s, "pos.config", "search", {}, headers={"Authorization": "Basic eDp5"})
    assert _error(response)[0] == 401
    assert _error(response)[2].startswith("User not authenticated, use an API Key")

    assert _error(json2(s, "pos.config", "write", {"ids": [999999], "vals": {"name": "x"}})) == (
        404,
        "odoo.exceptions.MissingError",
        "Record does not exist or has been deleted.\n(Record: pos.config(999999,), User: 2)",
    )
    status, name, message = _error(json2(s, "pos.config", "create", {"vals_list": [{}]}))
    assert (status, name) == (422, "odoo.exceptions.ValidationError")
    assert message.startswith("The operation cannot be completed: Missing required value")

    s.open_session(1)
    assert _error(json2(s, "pos.config", "write", {"ids": [1], "vals": {"active": False}})) == (
        422,
        "odoo.exceptions.UserError",
        "Unable to modify this PoS Configuration because you can't modify Active while a "
        "session is open.",
    )
    assert _error(json2(s, "pos.nonexistent", "search", {"domain": []})) == (
        404,
        "werkzeug.exceptions.NotFound",
        "the model 'pos.nonexistent' does not exist",
    )
    assert _error(json2(s, "pos.config", "frobnicate", {})) == (
        404,
        "werkzeug.exceptions.NotFound",
        "The method 'pos.config.frobnicate' does not exist",
    )
    assert _error(json2(s, "pos.config", "_check_company", {"ids": [1]})) == (
        403,
        "odoo.exceptions.AccessError",
        "Private methods (such as 'pos.config._check_company') cannot be called remotely.",
    )
    status, name, message = _error(json2(s, "pos.config", "search", raw=b"{not json"))
    assert (status, name) == (400, "werkzeug.exceptions.BadRequest")
    assert message.startswith("could not parse the body as json: ")
    assert _error(json2(s, "pos.config", "search", {}))[::2] == (
        422,
        "missing a required argument: 'domain'",
    )
    assert _error(json2(s, "pos.config", "create", {"ids": [1], "vals_list": []}))[::2] == (
        422,
        "cannot call pos.config.create with ids",
    )
    assert _error(json2(s, "pos.config", "read", {"ids": [1], "fields": ["no_such_field"]})) == (
        500,
        "builtins.ValueError",
        "Invalid field 'no_such_field' on 'pos.config'",
    )
    response = json2(s, "pos.config", "search", verb="GET")
    assert _error(response)[::2] == (404, "Did you mean POST /json/2/<model>/<method>?")

    response = json2(s, "pos.config", "search", {"domain": []}, headers={"X-Odoo-Database": "nodb"})
    assert response.status_code == 404
    assert "text/html" in response.headers["Content-Type"]
    assert "No database is selected" in response.text


def test_serialization_failure_shapes(odoo_sandbox):
    s = odoo_sandbox
    s.serialization_failure_next()
    fault = execute_kw(s, "pos.config", "search", [[]])
    assert fault.faultCode == 1
    assert "psycopg2.errors.SerializationFailure: could not serialize access" in fault.faultString
    s.reset(version="19.0")
    s.serialization_failure_next()
    status, name, _ = _error(json2(s, "pos.config", "search", {"domain": []}))
    assert (status, name) == (500, "psycopg2.errors.SerializationFailure")


@pytest.mark.parametrize(
    ("reason", "last_line"),
    [
        (
            "refused",
            'psycopg2.OperationalError: connection to server at "127.0.0.1", port 5432 failed: '
            "Connection refused",
        ),
        ("could_not_connect", "psycopg2.OperationalError: could not connect to server: "),
        ("closed", "psycopg2.OperationalError: server closed the connection unexpectedly"),
        ("pool_full", "psycopg2.pool.PoolError: The Connection Pool Is Full"),
        ("connection_closed", "psycopg2.InterfaceError: connection already closed"),
    ],
)
def test_database_down_shapes(odoo_sandbox, reason, last_line):
    s = odoo_sandbox
    s.database_down_next(reason)
    fault = execute_kw(s, "pos.config", "search", [[]])
    assert fault.faultCode == 1
    assert fault.faultString.startswith("Traceback (most recent call last):")
    assert '/odoo/sql_db.py", line ' in fault.faultString
    assert last_line in fault.faultString
    s.reset(version="19.0")
    s.database_down_next(reason)
    status, name, message = _error(json2(s, "pos.config", "search", {"domain": []}))
    assert status == 500
    assert f"{name}: {message}".startswith(last_line)


def test_database_down_applies_only_when_asked(odoo_sandbox):
    s = odoo_sandbox
    s.database_down_next("closed", method="pos.config.create")
    assert execute_kw(s, "pos.config", "create", [{"name": "Bar"}]).faultCode == 1
    assert s.pos_configs() == []
    s.database_down_next("closed", method="pos.config.create", apply=True)
    assert execute_kw(s, "pos.config", "create", [{"name": "Bar"}]).faultCode == 1
    assert [c["name"] for c in s.pos_configs()] == ["Bar"]


def test_database_down_refuses_an_unknown_reason(odoo_sandbox):
    from odoo_sandbox import SandboxControlError

    with pytest.raises(SandboxControlError, match="unknown reason"):
        odoo_sandbox.database_down_next("gremlins")


# --- HTTP behaviour and control ---------------------------------------------------------------


def test_keep_alive_content_length_and_no_nagle_stalls(odoo_sandbox):
    parts = urlsplit(odoo_sandbox.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    body = xmlrpc.client.dumps((), "version").encode()
    started = time.monotonic()
    for _ in range(50):
        conn.request("POST", "/xmlrpc/2/common", body, {"Content-Type": "text/xml"})
        response = conn.getresponse()
        assert response.getheader("Content-Length") == str(len(response.read()))
        assert response.getheader("Connection") != "close"
    elapsed = time.monotonic() - started
    conn.close()
    assert odoo_sandbox.connections() == 1
    assert elapsed < 1.0  # 50 calls; delayed-ACK stalls would cost ~40 ms each


def test_connection_close_mode_like_odoos_own_server(odoo_sandbox):
    odoo_sandbox.reset(keep_alive=False)
    response, _ = xmlrpc_call(odoo_sandbox, "common", "version")
    assert response.headers["Connection"] == "close"


def test_seed_demo_creates_shop_and_bar(odoo_sandbox):
    odoo_sandbox.reset(seed_demo=True)
    assert [c["name"] for c in odoo_sandbox.pos_configs()] == ["Shop", "Bar"]


def test_faults_are_counted_down_and_filtered_by_method(odoo_sandbox):
    s = odoo_sandbox
    s.fail_next(503, count=2, method="pos.config.write")
    assert execute_kw(s, "pos.config", "search", [[]]) == []
    for _ in range(2):
        with pytest.raises(xmlrpc.client.ProtocolError, match="503"):
            xmlrpc.client.ServerProxy(f"{s.url}/xmlrpc/2/object").execute_kw(
                s.db, 2, s.api_key, "pos.config", "write", [[1], {"name": "x"}]
            )
    fault = execute_kw(s, "pos.config", "write", [[1], {"name": "x"}])
    assert fault.faultCode == 2
    assert s.calls() == {"pos.config.search": 1, "pos.config.write": 3}
    assert s.state()["pending_faults"] == []


def test_the_ledger_says_which_call_met_which_fault(odoo_sandbox):
    s = odoo_sandbox
    s.fail_next(503, method="pos.config.write")
    page = "<html>Down for maintenance</html>"
    s.reply_body_next(page, content_type="text/html", method="pos.config.load")
    s.database_down_next(reason="pool_full")
    assert execute_kw(s, "pos.config", "search", [[]]) is not None  # meets database down
    execute_kw(s, "pos.config", "search", [[]])  # meets nothing
    with pytest.raises(xmlrpc.client.ProtocolError, match="503"):
        xmlrpc.client.ServerProxy(f"{s.url}/xmlrpc/2/object").execute_kw(
            s.db, 2, s.api_key, "pos.config", "write", [[1], {"name": "x"}]
        )
    load = xmlrpc.client.dumps((s.db, 2, s.api_key, "pos.config", "load", [[], []]), "execute_kw")
    response = requests.post(f"{s.url}/xmlrpc/2/object", data=load.encode(), timeout=5)
    assert response.text == page
    met = s.faults_met()
    assert [(m["n"], m["call"], m["key"]) for m in met] == [
        (0, 1, "pos.config.search"),
        (1, 3, "pos.config.write"),
        (2, 4, "pos.config.load"),
    ]
    assert [m["faults"] for m in met] == [
        [{"kind": "database_down", "reason": "pool_full", "apply": False}],
        [{"kind": "status", "status": 503}],
        [{"kind": "body", "status": 200, "content_type": "text/html", "apply": False}],
    ]
    assert page not in str(met)  # a reply body is never kept, however large
    assert s.faults_met(since=2) == met[2:]
    s.reset()
    assert s.faults_met() == []


def test_reset_wakes_a_call_parked_on_a_delay(odoo_sandbox):
    s = odoo_sandbox
    s.timeout_next(seconds=60)
    parts = urlsplit(s.url)
    # Parked for 60 s: a socket timeout (TimeoutError, not a ConnectionError) if reset did
    # not end it; the connection is closed by the reset instead, whatever the machine's load.
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("POST", "/xmlrpc/2/common", xmlrpc.client.dumps((), "version").encode())
    s.reset()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.getresponse()
    conn.close()


def test_trickle_with_headers_sends_the_status_line_a_byte_at_a_time(odoo_sandbox):
    s = odoo_sandbox
    s.trickle_next(interval=0.03, method="common.version", headers=True)
    parts = urlsplit(s.url)
    body = xmlrpc.client.dumps((), "version").encode()
    request = (
        f"POST /xmlrpc/2/common HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request + body)
        started = time.monotonic()
        received = b""
        while not received.endswith(b"\r\n"):
            received += sock.recv(64)
        elapsed = time.monotonic() - started
    assert received == b"HTTP/1.1 200 OK\r\n"
    # 17 bytes, the first after one interval: the server paced even the status line.
    assert elapsed >= 16 * 0.03
    s.reset()  # wakes the handler still trickling the rest


def test_unknown_control_action_is_an_error(odoo_sandbox):
    from odoo_sandbox import SandboxControlError

    with pytest.raises(SandboxControlError, match="unknown control action"):
        odoo_sandbox._call("frobnicate")


def test_attach_adopts_a_running_sandbox(odoo_sandbox):
    odoo_sandbox.reset(version="19.0", db="acme", login="sync@acme.test", api_key="k" * 40)
    handle = Sandbox.attach(odoo_sandbox.url)
    assert (handle.version, handle.db, handle.login, handle.api_key) == (
        "19.0",
        "acme",
        "sync@acme.test",
        "k" * 40,
    )


def test_runs_as_a_module_on_a_free_port():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "odoo_sandbox",
            "--port",
            "0",
            "--version",
            "19.0",
            "--seed-demo",
            "--db",
            "demo",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "SANDBOX_API_KEY": "key-from-the-environment-0123"},
    )
    try:
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        url = line.split("listening on ")[1].split()[0]
        sandbox = Sandbox.attach(url)
        assert (sandbox.version, sandbox.db) == ("19.0", "demo")
        # The key came through the environment: nothing in the command line shows it.
        assert sandbox.api_key == "key-from-the-environment-0123"
        assert not any("key-from" in arg for arg in process.args)
        assert [c["name"] for c in sandbox.pos_configs()] == ["Shop", "Bar"]
        with sandbox.client() as client:
            assert client.protocol_in_use == "json2"
            assert len(client.execute_kw("pos.config", "read", [[1, 2], ["name"]])) == 2
    finally:
        process.terminate()
        process.wait(timeout=5)
        process.stdout.close()


def test_a_taken_port_is_one_line_not_a_traceback():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "odoo_sandbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"odoo sandbox: cannot listen on 127.0.0.1:{port} (Address already in use); "
        "set SANDBOX_PORT (or --port) to a free port"
    ]


def test_make_runs_port_check_names_the_taken_port_and_the_way_out():
    from django.conf import settings

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "scripts/check_ports.py", "WEB_PORT=0", f"SANDBOX_PORT={port}"],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=settings.BASE_DIR,
        )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"make run: port {port} is already in use (another Odoo or web server?); "
        f"choose a free one, e.g. `SANDBOX_PORT={port + 1} make run`"
    )


# --- parking a call at a point, and what the sandbox counts -------------------------------


def _call_in_thread(sandbox, service, method, *params):
    """Send one XML-RPC call from a thread; returns (thread, box with 'value' or 'error')."""
    import threading

    box = {}

    def run():
        try:
            box["value"] = xmlrpc_call(sandbox, service, method, *params)[1]
        except requests.RequestException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def _load_params(sandbox, name):
    fields = ["id", "name", "active"]
    return (sandbox.db, 2, sandbox.api_key, "pos.config", "load", [fields, [["x.r1", name, "1"]]])


def test_a_call_parked_before_applying_is_visible_and_dropped_unapplied(odoo_sandbox, wait_until):
    s = odoo_sandbox
    s.park_next("before", method="pos.config.load")
    thread, box = _call_in_thread(s, "object", "execute_kw", *_load_params(s, "Bar"))
    [parked] = wait_until(s.parked, what="call parked")
    assert (parked["key"], parked["when"], parked["applied"]) == (
        "pos.config.load",
        "before",
        False,
    )
    assert s.pos_configs() == []  # held before Odoo applied anything
    assert s.release_parked("drop") == 1
    thread.join(timeout=5)
    assert isinstance(box.get("error"), requests.ConnectionError)  # never answered
    assert s.pos_configs() == [] and s.parked() == []


def test_a_call_parked_before_applying_goes_on_when_released(odoo_sandbox, wait_until):
    s = odoo_sandbox
    s.park_next("before", method="pos.config.load")
    thread, box = _call_in_thread(s, "object", "execute_kw", *_load_params(s, "Bar"))
    wait_until(s.parked, what="call parked")
    s.release_parked("continue")
    thread.join(timeout=5)
    assert box["value"]["ids"] == [1]
    assert [c["name"] for c in s.pos_configs()] == ["Bar"]


def test_a_call_parked_after_applying_holds_its_reply(odoo_sandbox, wait_until):
    s = odoo_sandbox
    s.park_next("after", method="pos.config.load")
    thread, box = _call_in_thread(s, "object", "execute_kw", *_load_params(s, "Bar"))
    [parked] = wait_until(s.parked, what="call parked")
    assert (parked["when"], parked["applied"]) == ("after", True)
    assert [c["name"] for c in s.pos_configs()] == ["Bar"]  # applied...
    assert thread.is_alive() and box == {}  # ...and its client still waits for the reply
    s.release_parked("continue")
    thread.join(timeout=5)
    assert box["value"]["ids"] == [1]


def test_a_parked_call_is_dropped_by_a_reset_or_when_its_time_runs_out(odoo_sandbox, wait_until):
    s = odoo_sandbox
    s.park_next("before", method="common.version", seconds=0.2)
    thread, box = _call_in_thread(s, "common", "version")
    thread.join(timeout=5)
    assert isinstance(box.get("error"), requests.ConnectionError)
    s.park_next("after", method="common.version")
    thread, box = _call_in_thread(s, "common", "version")
    wait_until(s.parked, what="call parked")
    s.reset()
    thread.join(timeout=5)
    assert isinstance(box.get("error"), requests.ConnectionError)
    assert s.parked() == []


def test_mutations_record_each_create_write_and_upsert_with_the_values_after(odoo_sandbox):
    s = odoo_sandbox
    execute_kw(s, "pos.config", "load", [["id", "name", "active"], [["x.r1", "Bar", "1"]]])
    execute_kw(s, "pos.config", "write", [[1], {"name": "Bar 2"}])
    execute_kw(s, "pos.config", "write", [[1], {"active": False}])
    execute_kw(s, "pos.config", "load", [["id", "name", "active"], [["x.r1", "Bar 3", "1"]]])
    execute_kw(s, "pos.config", "create", [{"name": "Shop"}])
    s.create_pos_config("Made in Odoo by a person")  # not an Odoo call: not counted
    assert s.mutations() == [
        (1, "create", "Bar", True),
        (1, "write", "Bar 2", True),
        (1, "write", "Bar 2", False),
        (1, "load", "Bar 3", True),
        (2, "create", "Shop", True),
    ]


def test_sessions_are_per_connection_and_overlaps_are_counted(odoo_sandbox, wait_until):
    s = odoo_sandbox
    parts = urlsplit(s.url)
    body = xmlrpc.client.dumps((), "version").encode()

    def call(conn):
        conn.request("POST", "/xmlrpc/2/common", body)
        conn.getresponse().read()

    first = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    second = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    call(first)
    call(first)
    call(second)  # after the first's last reply: one at a time so far
    assert s.max_concurrent_sessions() == 1
    s.park_next("before", method="common.version")
    first.request("POST", "/xmlrpc/2/common", body)  # parked: the first is mid-exchange
    wait_until(s.parked, what="call parked")
    call(second)
    s.release_parked("continue")
    first.getresponse().read()
    first.close()
    second.close()
    assert [x["calls"] for x in s.sessions()] == [3, 2]
    assert s.max_concurrent_sessions() == 2


# --- onboarding (issue 13): the integration user and external ids --------------------------


@pytest.mark.parametrize("version", ["17.0", "18.0", "19.0"])
def test_integration_user_may_neither_read_nor_create_model_data(odoo_sandbox, version):
    s = odoo_sandbox.reset(version=version)
    config = s.create_pos_config("Terrace")
    s.as_integration_user()
    assert "base.group_erp_manager" not in s.groups()
    read = execute_kw(s, "ir.model.data", "search_read", [[("model", "=", "pos.config")]])
    assert read.faultCode == 4
    assert read.faultString.startswith(
        "You are not allowed to access 'Model Data' (ir.model.data) records."
    )
    assert "\t- Administration/Access Rights\n" in read.faultString
    vals = {"module": "regsync", "name": "register_x", "model": "pos.config", "res_id": config}
    created = execute_kw(s, "ir.model.data", "create", [vals])
    assert created.faultCode == 4
    assert "not allowed to create 'Model Data' (ir.model.data)" in created.faultString
    assert s.external_ids() == []
    # ...while pos.config itself is still theirs to write
    assert execute_kw(s, "pos.config", "write", [[config], {"name": "Patio"}]) is True


def test_access_rights_may_create_model_data_once_per_name(odoo_sandbox):
    s = odoo_sandbox
    first, second = s.create_pos_config("Terrace"), s.create_pos_config("Bar")
    vals = {"module": "regsync", "name": "register_x", "model": "pos.config", "res_id": first}
    assert execute_kw(s, "ir.model.data", "create", [vals]) == 1
    again = execute_kw(s, "ir.model.data", "create", [{**vals, "res_id": second}])
    assert again.faultCode == 2
    assert 'unique constraint "ir_model_data_module_name_uniq_index"' in again.faultString
    assert [(x["complete_name"], x["res_id"]) for x in s.external_ids()] == [
        ("regsync.register_x", first)
    ]


def test_get_metadata_shows_every_external_id_to_the_integration_user(odoo_sandbox):
    s = odoo_sandbox
    linked = s.create_pos_config("Terrace", xmlid="regsync.register_a")
    plain = s.create_pos_config("Bar")
    s.as_integration_user()
    meta = execute_kw(s, "pos.config", "get_metadata", [[linked, plain, 999]])
    assert [(m["id"], m["xmlid"], m["xmlids"]) for m in meta] == [
        (linked, "regsync.register_a", [{"xmlid": "regsync.register_a", "noupdate": False}]),
        (plain, False, []),
    ]
    s.set_pos_manager(False)  # PoS Administrator implies PoS User, who may still read
    assert execute_kw(s, "pos.config", "get_metadata", [[plain]])[0]["id"] == plain


def test_load_with_id_and_dot_id_creates_a_second_record(odoo_sandbox):
    """`.id` counts only without `id`: the existing record is not linked, a new one is made."""
    s = odoo_sandbox
    existing = s.create_pos_config("Terrace")
    fields = ["id", ".id", "name"]
    result = execute_kw(
        s, "pos.config", "load", [fields, [["regsync.register_x", str(existing), "Terrace"]]]
    )
    assert result == {"ids": [existing + 1], "messages": [], "nextrow": 0}
    assert [c["name"] for c in s.pos_configs()] == ["Terrace", "Terrace"]
    assert [x["res_id"] for x in s.external_ids()] == [existing + 1]


def test_load_with_dot_id_alone_updates_and_attaches_nothing(odoo_sandbox):
    s = odoo_sandbox
    existing = s.create_pos_config("Terrace")
    archived = s.create_pos_config("Old", active=False)
    ok = execute_kw(s, "pos.config", "load", [[".id", "name"], [[str(existing), "Patio"]]])
    assert ok == {"ids": [existing], "messages": [], "nextrow": 0}
    assert s.pos_config(existing)["name"] == "Patio" and s.external_ids() == []
    # _convert_records looks the id up with a plain search: archived is "unknown"
    bad = execute_kw(s, "pos.config", "load", [[".id", "name"], [[str(archived), "New"]]])
    assert bad["ids"] is False
    assert bad["messages"] == [
        {
            "rows": {"from": 0, "to": 0},
            "record": 0,
            "type": "error",
            "field": ".id",
            "message": f"Unknown database identifier '{archived}'",
        }
    ]
    assert len(s.pos_configs()) == 2


def test_load_of_an_id_bound_to_another_record_writes_that_record(odoo_sandbox):
    s = odoo_sandbox
    bound = s.create_pos_config("Bar", xmlid="regsync.register_x")
    s.create_pos_config("Terrace")
    result = execute_kw(s, "pos.config", "load", [["id", "name"], [["regsync.register_x", "T"]]])
    assert result["ids"] == [bound]
    assert [c["name"] for c in s.pos_configs()] == ["T", "Terrace"]


# --- batching (issue 14) ------------------------------------------------------------------


def test_load_of_many_rows_is_all_or_nothing_with_one_message_per_bad_row(odoo_sandbox):
    s = odoo_sandbox
    rows = [[f"regsync.register_{i}", "" if i in (2, 5) else f"R{i}", "1"] for i in range(8)]
    result = execute_kw(s, "pos.config", "load", [["id", "name", "active"], rows])
    assert result["ids"] is False and result["nextrow"] == 0
    assert [(m["record"], m["rows"], m["type"]) for m in result["messages"]] == [
        (2, {"from": 2, "to": 2}, "error"),
        (5, {"from": 5, "to": 5}, "error"),
    ]
    assert all("Missing required value" in m["message"] for m in result["messages"])
    assert s.pos_configs() == [] and s.external_ids() == []
    good = execute_kw(s, "pos.config", "load", [["id", "name", "active"], rows[:2]])
    assert good["ids"] == [1, 2]  # ids in row order, nothing left over from the failure


def test_a_user_error_in_a_batch_is_repeated_on_its_first_row(odoo_sandbox):
    """19.0 refuses to archive a config with an open session: a UserError (not a
    database error), so load() puts the batch's error first, with row 0's info."""
    s = odoo_sandbox.reset(version="19.0")
    fields = ["id", "name", "active"]
    execute_kw(
        s, "pos.config", "load", [fields, [[f"regsync.r{i}", f"R{i}", "1"] for i in range(3)]]
    )
    s.open_session(3)
    rows = [[f"regsync.r{i}", f"R{i}", "0"] for i in range(3)]
    result = execute_kw(s, "pos.config", "load", [fields, rows])
    refusal = (
        "Unable to modify this PoS Configuration because you can't modify Active while a "
        "session is open."
    )
    assert result["ids"] is False
    assert [(m["record"], m["message"]) for m in result["messages"]] == [
        (0, refusal),
        (2, refusal),
    ]
    assert all(c["active"] for c in s.pos_configs())


def test_load_stops_naming_rows_after_ten_errors(odoo_sandbox):
    s = odoo_sandbox
    rows = [[f"regsync.r{i}", "", "1"] for i in range(15)]
    result = execute_kw(s, "pos.config", "load", [["id", "name", "active"], rows])
    assert [m.get("record") for m in result["messages"]] == [*range(10), None]
    assert result["messages"][-1]["type"] == "warning"
    assert result["messages"][-1]["message"].startswith("Found more than 10 errors")


def test_write_of_many_ids_is_one_call(odoo_sandbox):
    s = odoo_sandbox
    ids = [s.create_pos_config(f"R{i}") for i in range(5)]
    assert execute_kw(s, "pos.config", "write", [ids, {"active": False}]) is True
    assert s.call_count("pos.config.write") == 1
    assert not any(c["active"] for c in s.pos_configs())
    missing = execute_kw(s, "pos.config", "write", [[*ids, 999], {"active": True}])
    assert missing.faultCode == 2 and "pos.config(999,)" in missing.faultString
    assert not any(c["active"] for c in s.pos_configs())


def test_random_faults_fail_the_share_of_calls_asked_and_are_counted(odoo_sandbox):
    s = odoo_sandbox
    s.random_faults(0.25, [{"kind": "status", "status": 502}], seed=7)
    body = xmlrpc.client.dumps((), "version").encode()
    with requests.Session() as session:
        statuses = [
            session.post(f"{s.url}/xmlrpc/2/common", data=body, timeout=5).status_code
            for _ in range(400)
        ]
    failed = statuses.count(502)
    assert set(statuses) == {200, 502}
    assert 60 <= failed <= 140  # 100 expected; a binomial(400, 0.25) stays well inside
    assert s.counters()["random_faults_injected"] == {"status 502": failed}
    s.random_faults(0, [])
    assert xmlrpc_call(s, "common", "version")[0].status_code == 200
    assert s.counters()["random_faults_injected"] == {"status 502": failed}


def test_random_faults_refuse_an_unknown_kind_or_rate(odoo_sandbox):
    from odoo_sandbox.control import SandboxControlError

    with pytest.raises(SandboxControlError, match="unknown fault kind 'explode'"):
        odoo_sandbox.random_faults(0.01, [{"kind": "explode"}])
    with pytest.raises(SandboxControlError, match="rate must be between 0 and 1"):
        odoo_sandbox.random_faults(1.5, [{"kind": "drop_before"}])
    assert odoo_sandbox.counters()["random_faults_injected"] == {}


def test_counters_show_the_odoo_connections_open_now(odoo_sandbox_factory, wait_until):
    s = odoo_sandbox_factory()  # its own server: no keep-alive socket left by another test
    assert s.counters()["open_rpc_connections"] == 0
    conn = http.client.HTTPConnection(urlsplit(s.url).hostname, urlsplit(s.url).port, timeout=5)
    conn.request("POST", "/xmlrpc/2/common", xmlrpc.client.dumps((), "version").encode())
    assert conn.getresponse().read()
    assert s.counters()["open_rpc_connections"] == 1  # kept alive, control calls not counted
    conn.close()
    # the server notices the close when its read returns
    counters = wait_until(
        lambda: (c := s.counters())["open_rpc_connections"] == 0 and c, what="socket closed"
    )
    assert counters["rpc_connections"] == 1
    assert counters["calls"] == 1


def test_the_fast_path_for_ored_ilikes_answers_as_the_domain_does():
    from odoo_sandbox.models import domain_predicate, eval_domain

    fields = {"id": "ID", "name": "Name", "active": "Active"}
    records = [
        {"id": 1, "name": "Bar", "active": True},
        {"id": 2, "name": "  BAR terrace", "active": False},
        {"id": 3, "name": "Shop", "active": True},
        {"id": 4, "name": False, "active": True},
    ]
    domains = [
        ["|", ("name", "ilike", "bar"), ("name", "ilike", "SHOP")],
        ["|", "|", ("name", "ilike", "ter"), ("name", "ilike", "x"), ("name", "ilike", "op")],
        ["|", ("name", "ilike", "bar"), ("name", "=", "Shop")],  # not the fast path's shape
        ["|", ("name", "ilike", "bar"), ("id", "ilike", "3")],
    ]
    for domain in domains:
        matches = domain_predicate("pos.config", domain, fields)
        assert [matches(r) for r in records] == [
            eval_domain("pos.config", domain, r, fields) for r in records
        ], domain
    assert [domain_predicate("pos.config", domains[0], fields)(r) for r in records] == [
        True,
        True,
        True,
        False,
    ]


# --- the costs of a real Odoo (issue 24) ------------------------------------------------------


def _spent(sandbox, since: float) -> float:
    """The seconds charged since `since`, back at full scale (the tests run at 1/1000)."""
    return round((sandbox.cost_seconds() - since) * 1000, 4)


def test_real_costs_charge_what_each_call_costs_a_real_odoo_17(odoo_sandbox):
    from odoo_sandbox.costs import REAL

    s = odoo_sandbox.reset(costs="real", cost_scale=0.001)
    c = REAL[17]
    assert s.state()["costs"] == "real"
    mark = s.cost_seconds()
    assert xmlrpc_call(s, "common", "authenticate", s.db, s.login, s.api_key, {})[1] == 2
    assert _spent(s, mark) == c.authenticate  # the KDF, on every login

    load = ["id", "name", "active"], [["x.a", "A", "1"], ["x.b", "B", "1"]]
    mark = s.cost_seconds()
    execute_kw(s, "pos.config", "load", list(load))
    # Odoo's check of (uid, key) pays the KDF once, then is cached.
    assert _spent(s, mark) == round(c.authenticate + 2 * c.create_row, 4)
    mark = s.cost_seconds()
    execute_kw(s, "pos.config", "load", list(load))  # the external ids exist: two updates
    assert _spent(s, mark) == 2 * c.update_row  # 82 ms: 41 a row
    mark = s.cost_seconds()
    execute_kw(s, "pos.config", "write", [[1], {"name": "A2"}])
    execute_kw(s, "pos.config", "write", [[1, 2], {"active": False}])
    execute_kw(s, "pos.config", "search_read", [[]], {"fields": ["name"]})
    assert _spent(s, mark) == round(c.write + c.write + c.call, 4)

    s.rotate_key("a-new-key-0123456789")  # a new key is checked (and so hashed) again
    mark = s.cost_seconds()
    execute_kw(s, "pos.config", "search", [[]])
    assert _spent(s, mark) == round(c.authenticate + c.call, 4)


def test_real_costs_on_19_over_json2_have_no_login_to_pay(odoo_sandbox):
    from odoo_sandbox.costs import REAL

    s = odoo_sandbox.reset(version="19.0", costs="real", cost_scale=0.001)
    c = REAL[19]
    mark = s.cost_seconds()
    json2(s, "pos.config", "create", {"vals_list": [{"name": "A"}]})
    json2(s, "pos.config", "write", {"ids": [1], "vals": {"name": "A2"}})
    json2(s, "pos.config", "load", {"fields": [".id", "name"], "data": [["1", "A3"]]})
    assert _spent(s, mark) == round(c.create + c.write + c.update, 4)


def test_costs_are_off_unless_asked_and_an_unknown_profile_is_refused(odoo_sandbox):
    s = odoo_sandbox
    assert s.state()["costs"] == "none"
    xmlrpc_call(s, "common", "authenticate", s.db, s.login, s.api_key, {})
    assert s.cost_seconds() == 0
    with pytest.raises(SandboxControlError, match="unknown costs 'slow'"):
        s.reset(costs="slow")
    with pytest.raises(SandboxControlError, match="unknown costs 'slow'"):
        s.set_costs("slow")
    assert s.state()["costs"] == "none"
    s.set_costs("real", scale=0.001)
    xmlrpc_call(s, "common", "authenticate", s.db, s.login, s.api_key, {})
    assert s.cost_seconds() > 0


def test_sessions_follow_a_drains_request_id_across_connections(odoo_sandbox):
    """A drain's calls carry its correlation id in X-Request-ID: one session, whatever
    connection they came on; calls without it are a session per connection."""
    s = odoo_sandbox
    parts = urlsplit(s.url)
    body = xmlrpc.client.dumps((), "version").encode()

    def call(conn, drain=None):
        conn.request("POST", "/xmlrpc/2/common", body, {"X-Request-ID": drain} if drain else {})
        conn.getresponse().read()

    first = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    second = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    call(first, "drain-a")
    call(first, "drain-b")
    call(second, "drain-a")
    call(second)
    first.close()
    second.close()
    assert [x["calls"] for x in s.sessions()] == [2, 1, 1]
    assert s.connections() == 2


def test_a_kept_alive_connection_counts_again_after_a_reset(odoo_sandbox):
    s = odoo_sandbox
    parts = urlsplit(s.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    body = xmlrpc.client.dumps((), "version").encode()
    conn.request("POST", "/xmlrpc/2/common", body)
    conn.getresponse().read()
    s.reset()
    conn.request("POST", "/xmlrpc/2/common", body)
    conn.getresponse().read()
    conn.close()
    assert s.connections() == 1
    assert [x["calls"] for x in s.sessions()] == [1]
