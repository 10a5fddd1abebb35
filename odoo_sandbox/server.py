"""The sandbox's HTTP server: Odoo's XML-RPC, JSON-2 and /web/version, plus a control API.

Wire behaviour follows real Odoo (see docs/odoo.md). The control API lives
under `/__sandbox__/`, a path real Odoo does not have.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
import xmlrpc.client
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from defusedxml.xmlrpc import DefusedExpatParser

from . import costs
from . import models as m
from .state import ADMIN_UID, POS_MANAGER, SandboxState

log = logging.getLogger("odoo_sandbox")
rpc_log = logging.getLogger("odoo.addons.rpc.controllers.xmlrpc")

CONTROL_PREFIX = "/__sandbox__/"
MAX_REQUEST_BYTES = 16 * 1024 * 1024
RPC_DEPRECATION_NOTICE = (
    "%s: XML-RPC and JSON-RPC are deprecated in Odoo 19 and scheduled for removal "
    "in Odoo 20, use the JSON-2 API (/json/2) instead"
)

Reply = tuple[int, dict, bytes]


# --- encoders ---------------------------------------------------------------


def xml_dumps(params) -> bytes:
    """What odoo's rpc.dumps() writes for a result tuple or a Fault."""
    body = xmlrpc.client.Marshaller(allow_none=False, encoding="utf-8").dumps(params)
    return f'<?xml version="1.0"?>\n<methodResponse>\n{body}\n</methodResponse>\n'.encode()


def xml_loads(data: bytes):
    unmarshaller = xmlrpc.client.Unmarshaller()
    parser = DefusedExpatParser(unmarshaller, forbid_dtd=True)
    parser.feed(data)
    parser.close()
    return unmarshaller.close(), unmarshaller.getmethodname()


XML_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
HTML_HEADERS = {"Content-Type": "text/html; charset=utf-8"}


def xml_reply(params) -> Reply:
    return 200, XML_HEADERS, xml_dumps(params)


def xml_fault(exc: BaseException) -> Reply:
    """odoo.addons.base.controllers.rpc.xmlrpc_handle_exception_int."""
    if isinstance(exc, m.RedirectWarning):
        code, text = 2, str(exc)
    elif isinstance(exc, m.AccessError):
        code, text = 4, str(exc)
    elif isinstance(exc, m.AccessDenied):
        code, text = 3, str(exc)
    elif isinstance(exc, m.UserError):
        code, text = 2, str(exc)
    else:
        code, text = 1, m.odoo_traceback(exc)
    return xml_reply(xmlrpc.client.Fault(code, text))


def json_reply(value, status: int = 200, headers: dict | None = None) -> Reply:
    return status, {**JSON_HEADERS, **(headers or {})}, json.dumps(value).encode()


def serialize_exception(exc: BaseException, *, message=None, arguments=None) -> dict:
    """odoo.http.serialize_exception."""
    args = list(exc.args)
    return {
        "name": m.exception_name(exc),
        "message": (args[0] if args else "") if message is None else message,
        "arguments": args if arguments is None else arguments,
        "context": {},
        "debug": m.odoo_traceback(exc, "addons/rpc/controllers/json2.py"),
    }


def json2_error(exc: BaseException) -> Reply:
    """Json2RpcDispatcher.handle_error."""
    if isinstance(exc, m.UserError):
        return json_reply(serialize_exception(exc), exc.http_status)
    if isinstance(exc, m.HTTPError):
        body = serialize_exception(
            exc, message=exc.description, arguments=[exc.description, exc.code]
        )
        headers = {"WWW-Authenticate": "Bearer"} if exc.code == 401 else None
        return json_reply(body, exc.code, headers)
    return json_reply(serialize_exception(exc), 500)


def html_page(status: int, text: str) -> Reply:
    title = HTTPStatus(status).phrase
    body = (
        f"<!doctype html>\n<html lang=en>\n<title>{status} {title}</title>\n"
        f"<h1>{title}</h1>\n<p>{text}</p>\n"
    )
    return status, HTML_HEADERS, body.encode()


PROXY_PAGES = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def proxy_error(status: int) -> Reply:
    """An nginx-style error page, as a reverse proxy in front of Odoo sends."""
    phrase = PROXY_PAGES.get(status) or HTTPStatus(status).phrase
    body = (
        f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    headers = {**HTML_HEADERS, "Server": "nginx"}
    if status in (429, 503):
        headers["Retry-After"] = "1"
    return status, headers, body.encode()


# --- Odoo services ----------------------------------------------------------


class Services:
    """Odoo's `common` and `object` services and JSON-2, over one locked state."""

    def __init__(self, state: SandboxState, source: str):
        self.state = state
        self.source = source

    def check_db(self, db) -> None:
        if db != self.state.db:
            raise m.OperationalError(
                'connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: '
                f'FATAL:  database "{db}" does not exist\n'
            )

    # common
    def common(self, method: str, params: tuple):
        if method == "version":
            st = self.state
            return {
                "server_version": st.server_version,
                "server_version_info": st.server_version_info,
                "server_serie": st.server_version.split("+")[0],
                "protocol_version": 1,
            }
        if method == "authenticate":
            db, login, password, _env = params
            return self.authenticate(db, login, password)
        if method == "login":
            db, login, password = params
            return self.authenticate(db, login, password)
        raise Exception(f"Method not found: {method}")

    def authenticate(self, db, login, password):
        self.check_db(db)
        st = self.state
        if st.cooldown_active(self.source):
            return False  # exp_authenticate turns AccessDenied into False
        ok = login == st.login and password == st.api_key
        st.record_login(self.source, ok)
        return ADMIN_UID if ok else False

    def check(self, uid, password) -> None:
        """res.users check (17.0, 18.0) / _check_uid_passwd (19.0), before any model call.

        A wrong key or a uid that is not the key's user is AccessDenied: fault 3
        "Access Denied" (docs/odoo.md). A success is cached, as Odoo's ormcache does.
        """
        st = self.state
        if st.cooldown_active(self.source):
            raise m.AccessDenied("Too many login failures, please wait a bit before trying again.")
        ok = uid == ADMIN_UID and password == st.api_key
        st.record_login(self.source, ok)
        if not ok:
            raise m.AccessDenied()
        st.checked_keys.add((uid, password))

    # object
    def object(self, method: str, params: tuple):
        if method == "execute_kw":
            db, uid, password, model, name, args, *rest = params
            kwargs = dict(rest[0]) if rest else {}
        elif method == "execute":
            db, uid, password, model, name, *args = params
            kwargs = {}
        else:
            raise Exception(f"Method not found: {method}")
        self.check_db(db)
        self.check(uid, password)
        return self.call_kw(int(uid), model, name, list(args), kwargs)

    def call_kw(self, uid: int, model_name: str, method: str, args: list, kwargs: dict):
        context = kwargs.pop("context", None) or {}
        env = m.Env(self.state, uid, context)
        try:
            model = env[model_name]
        except KeyError:
            raise m.UserError(f"Object {model_name} doesn't exist") from None
        func = m.get_public_method(model, method)
        if m.is_api_model(func):
            m.bind(func, args, kwargs)
            result = func(*args, **kwargs)
            if isinstance(result, m.Created):
                return result[0] if result.single else list(result)
            return result
        ids, args = args[0], args[1:]
        ids = [ids] if isinstance(ids, int) else list(ids)
        m.bind(func, [ids, *args], kwargs)
        return func(ids, *args, **kwargs)

    # JSON-2
    def json2(self, model_name: str, method: str, headers, body: bytes):
        st = self.state
        db_header = headers.get("X-Odoo-Database")
        if db_header is not None and db_header != st.db:
            raise DatabaseNotSelected()
        auth = headers.get("Authorization") or ""
        match = re.match(r"^bearer\s+(.+)$", auth, re.IGNORECASE)
        if not match:
            raise m.Unauthorized(
                "User not authenticated, use an API Key with a Bearer Authorization header."
            )
        if match.group(1).strip() != st.api_key:
            raise m.Unauthorized("Invalid apikey")
        params = {}
        if body:
            try:
                params = json.loads(body)
            except ValueError as exc:
                raise m.BadRequest(f"could not parse the body as json: {exc.args[0]}") from exc
            if not isinstance(params, dict):
                raise m.BadRequest("could not parse the body, expecting a json object")
        ids = params.pop("ids", None) or []
        context = params.pop("context", None) or {}
        env = m.Env(st, ADMIN_UID, context)
        try:
            model = env[model_name]
        except KeyError:
            raise m.NotFound(f"the model {model_name!r} does not exist") from None
        try:
            func = m.get_public_method(model, method)
        except AttributeError as exc:
            raise m.NotFound(exc.args[0]) from exc
        api_model = m.is_api_model(func)
        if api_model and ids:
            raise m.UnprocessableEntity(f"cannot call {model_name}.{method} with ids")
        positional = [] if api_model else [list(ids)]
        try:
            m.bind(func, positional, params)
        except TypeError as exc:
            raise m.UnprocessableEntity(exc.args[0]) from exc
        result = func(*positional, **params)
        return list(result) if isinstance(result, m.Created) else result


class DatabaseNotSelected(Exception):
    pass


# --- HTTP -------------------------------------------------------------------


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Werkzeug/3.0.1"
    sys_version = "Python/3.12.3"
    timeout = 120  # idle keep-alive connections are closed after this
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._served_rpc = False
        self._counted_generation: int | None = None
        self._session: list | None = None
        with self.state.lock:
            self.state.connections += 1
            self._connection_number = self.state.connections

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self._served_rpc:
                with self.state.lock:
                    self.state.open_rpc_connections -= 1

    @property
    def state(self) -> SandboxState:
        return self.server.state

    def log_message(self, format: str, *args) -> None:
        if self.server.verbose:
            log.info("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    # plumbing
    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self._send(*html_page(413, "Request Entity Too Large"))
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: dict, body: bytes) -> None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        self._replying()
        if not self.state.keep_alive:
            self.close_connection = True
        head = {
            "Server": f"{self.server_version} {self.sys_version}",
            "Date": self.date_time_string(),
            **headers,
            "Content-Length": str(len(body)),
        }
        if self.close_connection:
            head["Connection"] = "close"
        lines = [f"HTTP/1.1 {status} {phrase}"] + [f"{k}: {v}" for k, v in head.items()]
        # One send per reply: headers and body written apart stall on Nagle.
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _head(self, status: int, headers: dict) -> bytes:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        head = {"Server": f"{self.server_version} {self.sys_version}", **headers}
        lines = [f"HTTP/1.1 {status} {phrase}"] + [f"{k}: {v}" for k, v in head.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send_chunked(self, status: int, headers: dict, body: bytes) -> None:
        """A reply with no Content-Length (chunked), as some proxies send."""
        self._replying()
        self.close_connection = True
        out = self._head(status, {**headers, "Transfer-Encoding": "chunked"})
        for start in range(0, len(body), 8192):
            piece = body[start : start + 8192]
            out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        try:
            self.wfile.write(out + b"0\r\n\r\n")
        except OSError:
            pass  # the client gave up reading, as it should past its bound

    def _send_slowly(
        self, status: int, headers: dict, body: bytes, *, interval, wake, head_too: bool = False
    ) -> None:
        """The body a byte at a time (`head_too`: the status line and headers as well).

        Each read is quick, the reply is not: only a bound on the whole exchange ends it.
        """
        self._replying()
        self.close_connection = True
        head = self._head(
            status, {**headers, "Content-Length": str(len(body)), "Connection": "close"}
        )
        slow = head + body if head_too else body
        try:
            if not head_too:
                self.wfile.write(head)
                self.wfile.flush()
            for byte in slow:
                if wake.wait(interval):
                    return  # reset: this call belongs to a past test
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        except OSError:
            pass  # the client hung up

    def _drop(self) -> None:
        """Close without a reply, as a crashed worker or a cut link does."""
        self._replying()
        self.close_connection = True

    def _replying(self) -> None:
        """The session's last moment inside an exchange: taken before the reply leaves."""
        if self._session is not None:
            with self.state.lock:
                self._session[1] = time.monotonic()

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        body = self._body()
        if body is None:
            return
        if path.startswith(CONTROL_PREFIX):
            self._control(method, path[len(CONTROL_PREFIX) :], body)
        elif path.startswith("/xmlrpc/2/") and method == "POST":
            self._xmlrpc(path[len("/xmlrpc/2/") :], body)
        elif path == "/web/version":
            self._serve("web.version", self._web_version, lambda exc: html_page(500, str(exc)))
        elif path == "/json/2" or path.startswith("/json/2/"):
            self._json2(method, path, body)
        else:
            self._send(*html_page(404, "The requested URL was not found on the server."))

    def _serve(
        self,
        key: str,
        run: Callable[[], Reply],
        fault_reply: Callable,
        cost: Callable[[], float] | None = None,
    ) -> None:
        """Apply latency, injected faults and the call's cost around one Odoo call, then reply.

        `cost` says what the call costs a real Odoo; it is waited out before the
        call is applied when the sandbox runs with `costs="real"`.
        """
        st = self.state
        received = time.monotonic()  # the request is read: its client is inside a session
        drain = self.headers.get("X-Request-ID")
        with st.lock:
            st.requests += 1
            call = st.requests
            st.calls[key] += 1
            generation = st.generation
            wake = st.wake_event
            if not self._served_rpc:
                self._served_rpc = True
                st.open_rpc_connections += 1
            if self._counted_generation != generation:
                self._counted_generation = generation
                st.rpc_connections += 1
            session_key = ("drain", drain) if drain else ("connection", self._connection_number)
            self._session = st.session_for(session_key, received)
        delay = st.latency_for(key)
        if delay and wake.wait(delay):
            return self._drop()  # reset while waiting: this call belongs to a past test
        faults = st.take_faults(key, call)
        park = faults.get("park")
        park_when = park.params.get("when", "before") if park else None
        park_seconds = float(park.params.get("seconds", 60.0)) if park else 0.0
        if park_when == "before" and st.park(key, "before", park_seconds) != "continue":
            return self._drop()  # released without applying: Odoo never saw it

        def apply() -> Reply | None:
            with st.lock:
                if st.generation != generation:
                    return None
                return run()

        if "status" in faults:
            return self._send(*proxy_error(int(faults["status"].params.get("status", 502))))
        if "timeout" in faults:
            rule = faults["timeout"]
            if rule.params.get("apply"):
                apply()
            wake.wait(float(rule.params.get("seconds", 30.0)))
            return self._drop()
        if "drop_before" in faults:
            return self._drop()
        if "serialization" in faults:
            return self._send(
                *fault_reply(
                    m.SerializationFailure("could not serialize access due to concurrent update")
                )
            )
        if "database_down" in faults:
            rule = faults["database_down"]
            if rule.params.get("apply"):
                apply()  # lost after the commit, e.g. while signalling registry changes
            reason = str(rule.params.get("reason", "refused"))
            return self._send(*fault_reply(m.database_lost(reason)))
        if "body" in faults:
            rule = faults["body"]
            if rule.params.get("apply"):
                apply()
            content_type = rule.params.get("content_type", "text/xml; charset=utf-8")
            body = str(rule.params.get("body", "")).encode() * int(rule.params.get("repeat", 1))
            if rule.params.get("chunked"):
                return self._send_chunked(
                    int(rule.params.get("status", 200)), {"Content-Type": content_type}, body
                )
            return self._send(
                int(rule.params.get("status", 200)), {"Content-Type": content_type}, body
            )
        if "trickle" in faults:
            reply = apply() if self._spend(cost, wake) else None
            if reply is None:
                return self._drop()
            rule = faults["trickle"]
            interval = float(rule.params.get("interval", 0.5))
            return self._send_slowly(
                *reply, interval=interval, wake=wake, head_too=bool(rule.params.get("headers"))
            )
        if not self._spend(cost, wake):
            return self._drop()  # reset while waiting: this call belongs to a past test
        reply = apply()
        if reply is None or "drop_after" in faults:
            return self._drop()
        if park_when == "after" and st.park(key, "after", park_seconds) != "continue":
            return self._drop()  # applied, and the reply never leaves
        try:
            return self._send(*reply)
        except OSError:
            # Its client died while the call was parked: nobody to answer.
            self.close_connection = True

    def _spend(self, cost: Callable[[], float] | None, wake: threading.Event) -> bool:
        """Wait what the call costs a real Odoo (nothing unless costs="real").

        False when a reset came meanwhile. Calls wait side by side, never under the lock.
        """
        st = self.state
        with st.lock:
            if st.costs is None or cost is None:
                return True
            try:
                seconds = cost() * st.cost_scale
            except (LookupError, TypeError, ValueError, AttributeError):
                seconds = st.costs.call * st.cost_scale  # a malformed call: Odoo refuses it fast
            st.cost_seconds += seconds
        return not (seconds > 0 and wake.wait(seconds))

    # endpoints
    def _xmlrpc(self, service: str, body: bytes) -> None:
        try:
            params, method = xml_loads(body)
        except Exception as exc:  # noqa: BLE001 - Odoo answers any bad request with fault 1
            error = exc
            self._serve(f"{service}.?", lambda: xml_fault(error), xml_fault)
            return
        if service == "object" and method in ("execute_kw", "execute") and len(params) >= 5:
            key = f"{params[3]}.{params[4]}"
        else:
            key = f"{service}.{method}"
        services = Services(self.state, self.client_address[0])

        def run() -> Reply:
            if self.state.major >= 19:
                self.state.deprecation_warnings += 1
                rpc_log.warning(RPC_DEPRECATION_NOTICE, "odoo.addons.rpc.controllers.xmlrpc")
            try:
                if service == "common":
                    result = services.common(method, params)
                elif service == "object":
                    result = services.object(method, params)
                elif service == "db" and method == "list":
                    result = [self.state.db]
                elif service == "db" and method == "server_version":
                    result = self.state.server_version
                else:
                    raise KeyError(service)
                return xml_reply((result,))
            except Exception as exc:  # noqa: BLE001 - as Odoo's xmlrpc_2, every error is a fault
                return xml_fault(exc)

        def cost() -> float:
            return costs.xmlrpc_call(self.state.costs, self.state, service, method, params)

        self._serve(key, run, xml_fault, cost)

    def _web_version(self) -> Reply:
        st = self.state
        if st.major < 19:
            return html_page(404, "The requested URL was not found on the server.")
        return json_reply({"version_info": st.server_version_info, "version": st.server_version})

    def _json2(self, method: str, path: str, body: bytes) -> None:
        st = self.state
        parts = path.split("/")[3:]
        if st.major < 19:
            # no such route before 19: /json/<path> is a website page needing a login
            self._send(303, {**HTML_HEADERS, "Location": "/web/login?redirect=" + path}, b"")
            return
        if method != "POST" or len(parts) != 2 or not all(parts):
            self._send(*json2_error(m.NotFound("Did you mean POST /json/2/<model>/<method>?")))
            return
        model_name, name = parts
        services = Services(st, self.client_address[0])

        def run() -> Reply:
            try:
                return json_reply(services.json2(model_name, name, self.headers, body))
            except DatabaseNotSelected:
                return html_page(
                    404,
                    "No database is selected: the X-Odoo-Database header names no database "
                    "on this server.",
                )
            except Exception as exc:  # noqa: BLE001 - as Json2RpcDispatcher.handle_error
                return json2_error(exc)

        def cost() -> float:
            return costs.json2_call(st.costs, st, model_name, name, body)

        self._serve(f"{model_name}.{name}", run, json2_error, cost)

    def _control(self, method: str, action: str, body: bytes) -> None:
        try:
            params = json.loads(body) if body else {}
            result = control(self.state, action, params)
        except Exception as exc:  # noqa: BLE001 - reported to the test that asked
            self._send(*json_reply({"error": f"{type(exc).__name__}: {exc}"}, 400))
            return
        self.close_connection = True  # control calls must not skew connection counts
        self._send(*json_reply(result))


def control(st: SandboxState, action: str, p: dict):
    """The control API: one function per action, JSON in, JSON out."""
    if action == "state":
        return st.summary()
    if action == "reset":
        st.reset(**p)
        return st.summary()
    if action == "latency":
        with st.lock:
            if not p.get("seconds"):
                st.latency.clear()
            else:
                st.latency.append((float(p["seconds"]), p.get("method")))
        return {"ok": True}
    if action == "fault":
        p = dict(p)
        if p.get("kind") == "database_down":
            m.database_lost(str(p.get("reason", "refused")))  # refuse an unknown reason now
        st.add_fault(p.pop("kind"), p.pop("count", 1), p.pop("method", None), **p)
        return {"ok": True}
    if action == "parked":
        with st.lock:
            return {"parked": [c.as_dict() for c in st.parked.values()]}
    if action == "release_parked":
        return {"released": st.release_parked(str(p.get("decision")), p.get("id"))}
    if action == "mutations":
        with st.lock:
            return {
                "mutations": [list(m) for m in st.mutations],
                "applied_at": list(st.mutation_times),
            }
    if action == "faults_met":
        since = int(p.get("since") or 0)
        with st.lock:
            return {"faults_met": st.faults_met[since:], "total": len(st.faults_met)}
    if action == "sessions":
        with st.lock:
            sessions = [list(s) for s in st.sessions]
        return {"sessions": sessions, "max_concurrent": st.max_concurrent_sessions()}
    if action == "random_faults":
        st.set_random_faults(p.get("rate", 0), p.get("specs") or [], p.get("seed"))
        return {"ok": True}
    if action == "counters":
        return st.counters()
    if action == "clear_faults":
        with st.lock:
            st.faults.clear()
            st.latency.clear()
            st.random_fault_rate = 0.0
        return {"ok": True}
    if action == "rotate_key":
        return {"api_key": st.rotate_key(p.get("api_key"))}
    if action == "set_rights":
        with st.lock:
            if bool(p.get("pos_manager", True)):
                st.groups.add(POS_MANAGER)
            else:
                st.groups.discard(POS_MANAGER)
        return {"ok": True}
    if action == "set_groups":
        groups = p.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise ValueError("groups must be a list of group external ids")
        with st.lock:
            st.groups = set(groups)
        return {"groups": sorted(st.groups)}
    if action == "configure":
        with st.lock:
            if "keep_alive" in p:
                st.keep_alive = bool(p["keep_alive"])
            if "costs" in p:
                st.set_costs(str(p["costs"]), p.get("cost_scale", 1.0))
        return {"ok": True}
    if action == "create_pos_config":
        record_id = st.create_pos_config(
            p["name"], bool(p.get("active", True)), p.get("xmlid"), p.get("company_id")
        )
        return {"id": record_id}
    if action == "delete_pos_config":
        return {"deleted": st.delete_pos_config(int(p["id"]))}
    if action == "edit_pos_config":
        values = {k: p[k] for k in ("name", "active", "company_id") if k in p}
        return {"edited": st.edit_pos_config(int(p["id"]), **values)}
    if action == "create_company":
        return {"id": st.create_company(str(p["name"]), accounting=bool(p.get("accounting")))}
    if action == "set_company_active":
        st.set_company_active(int(p["id"]), bool(p["active"]))
        return {"ok": True}
    if action == "set_user_companies":
        return st.set_user_companies(p["company_ids"], p.get("default"))
    if action == "backup":
        return {"backup": st.backup()}
    if action == "restore_backup":
        st.restore_backup(int(p["backup"]))
        return {"ok": True}
    if action == "open_session":
        try:
            return {"id": st.open_session(int(p["config_id"]))}
        except m.UserError as exc:
            raise ValueError(str(exc)) from None
    if action == "close_session":
        return {"closed": st.close_sessions(int(p["config_id"]))}
    if action == "clear_login_failures":
        with st.lock:
            st.login_failures.clear()
        return {"ok": True}
    raise ValueError(f"unknown control action {action!r}")


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, state: SandboxState, *, verbose: bool = False):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.state = state
        self.verbose = verbose
        super().__init__(address, SandboxHandler)


class SandboxServer:
    """A sandbox Odoo on a port: `start()` serves in a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False, **options):
        self.state = SandboxState(**options)
        self.httpd = SandboxHTTPServer((host, port), self.state, verbose=verbose)
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"odoo-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.state.wake_event.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
