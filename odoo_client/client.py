"""`OdooClient`: one tenant's Odoo over XML-RPC (16-19) or JSON-2 (19+), with typed errors.

Standalone (no Django): the sync engine passes the tenant's connection and the
timeouts from settings. One client is one `requests.Session`, so its calls reuse
one connection, across drains when the caller keeps the client (odoo_sync.sessions).
A client is used by one thread at a time.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import ssl
import threading
import time
import weakref
import xmlrpc.client
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit
from xml.parsers.expat import ExpatError

import requests
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
from defusedxml import DefusedXmlException
from defusedxml.xmlrpc import DefusedExpatParser
from requests.adapters import HTTPAdapter

from .companies import Company, UserCompanies, check_company_id, in_company
from .errors import (
    Cause,
    OdooAccessError,
    OdooAuthError,
    OdooBatchError,
    OdooConfigError,
    OdooError,
    OdooExternalIdTakenError,
    OdooMissingRecordError,
    OdooMovedCompanyError,
    OdooNotOursError,
    OdooNotSentError,
    OdooPermanentError,
    OdooTransientError,
    OdooUnreachableError,
    OdooValidationError,
    error_from_fault,
    error_from_foreign_reply,
    error_from_json2,
    is_odoo_json_error,
    is_open_session_refusal,
    is_transient_text,
    looks_like_html,
    redact,
    unreachable_for_status,
)
from .names import name_key, name_pattern
from .urlcheck import is_ip_literal, not_public_message, why_not_public

PROTOCOLS = ("auto", "xmlrpc", "json2")


REGSYNC_MODULE = "regsync"  # the module part of every external id regsync writes
_POS_FIELDS = ["id", "name", "active"]
_REPEAT_KEYS = {"rows", "record", "type", "message"}
USER_AGENT = "regsync-odoo-client/1.0"
_READ_CHUNK = 16 * 1024

# JSON-2 takes named arguments only: how execute_kw's positional args map to them.
JSON2_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "create": ("vals_list",),
    "write": ("ids", "vals"),
    "read": ("ids", "fields"),
    "unlink": ("ids",),
    "search": ("domain", "offset", "limit", "order"),
    "search_read": ("domain", "fields", "offset", "limit", "order"),
    "search_count": ("domain", "limit"),
    "load": ("fields", "data"),
    "name_search": ("name", "domain", "operator", "limit"),
    "fields_get": ("allfields", "attributes"),
    "context_get": (),
}


def _moved_error(
    moved: dict[int, int], company_id: int | None, said: str, **kw
) -> OdooMovedCompanyError:
    """`OdooMovedCompanyError` for records in another company (`moved`: id -> company)."""
    listed = ", ".join(f"pos.config {i} is in company {c}" for i, c in sorted(moved.items()))
    error = OdooMovedCompanyError(
        f"Moved to another company in Odoo: {listed}, not this tenant's company {company_id}; "
        "regsync neither writes it there nor makes it again. Move it back in Odoo, or decide "
        f"on the register's page. Odoo said: {said}",
        **kw,
    )
    error.missing_ids = tuple(moved)
    error.companies = moved
    return error


def _load_cell(value) -> str:
    """A value as `load()` reads it from a spreadsheet cell (a boolean is "1" or "0")."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def parse_xmlrpc_response(data: bytes) -> Any:
    """Decode an XML-RPC reply without DTDs, entity expansion or external references.

    Raises `xmlrpc.client.Fault` for a fault, defusedxml's errors for hostile XML,
    `ExpatError` / `xmlrpc.client.ResponseError` for anything that is not XML-RPC.
    """
    unmarshaller = xmlrpc.client.Unmarshaller()
    parser = DefusedExpatParser(
        unmarshaller, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    parser.feed(data)
    parser.close()
    result = unmarshaller.close()
    if len(result) != 1:
        raise xmlrpc.client.ResponseError(f"expected one value, got {len(result)}")
    return result[0]


def normalise_version(raw: dict) -> dict:
    """`{"server_version": "17.0", "major": 17, "raw": raw}` from either protocol's answer."""
    info = raw.get("server_version_info") or raw.get("version_info") or []
    server_version = str(raw.get("server_version") or raw.get("version") or "")
    first = info[0] if info else server_version
    match = re.search(r"(\d+)", str(first))
    if not match:
        raise OdooConfigError(f"Cannot read the Odoo version from {raw!r}")
    return {"server_version": server_version, "major": int(match.group(1)), "raw": raw}


def _chain(exc: BaseException):
    """`exc` and every exception it wraps (reason, cause, context, args), each once."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        err = stack.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        stack.extend([getattr(err, "reason", None), err.__cause__, err.__context__])
        stack.extend(a for a in err.args if isinstance(a, BaseException))


def _connection_failed_before_send(exc: requests.exceptions.ConnectionError) -> bool:
    """True when no byte of the request can have reached Odoo (refused, DNS, connect)."""
    for err in _chain(exc):
        if isinstance(
            err, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
        ):
            return True
        if isinstance(err, urllib3.exceptions.ProtocolError):
            return False
    return False


# OpenSSL's reasons when the "TLS" reply starts with "HTTP/": the server speaks plain HTTP.
_PLAIN_HTTP_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"}
)


def _answered_plain_http(exc: BaseException) -> bool:
    """True when the TLS handshake failed because the server answered in plain HTTP."""
    return any(
        isinstance(err, ssl.SSLError) and getattr(err, "reason", None) in _PLAIN_HTTP_REASONS
        for err in _chain(exc)
    )


def _root_cause(exc: BaseException) -> str:
    """The socket's or TLS's own error, without urllib3's pool wrapper around it.

    The wrapper says "Max retries exceeded", which is untrue here: the client
    never retries (urllib3 is given no retries).
    """
    for err in _chain(exc):
        wrapper = isinstance(
            err, requests.exceptions.RequestException | urllib3.exceptions.HTTPError
        )
        if isinstance(err, OSError) and not wrapper:
            return str(err)
    return str(exc)


def _name_did_not_resolve(exc: BaseException) -> bool:
    """True when the host name could not be resolved (DNS)."""
    return any(
        isinstance(err, socket.gaierror | urllib3.exceptions.NameResolutionError)
        for err in _chain(exc)
    )


class _Exchange:
    """One HTTP exchange and its deadline.

    Socket timeouts bound each read, not their sum: a server sending a byte
    now and then (status line and headers included) would hold a call for as
    long as it likes. A watchdog calls `expire()` at the deadline, which shuts
    down every socket the exchange uses, so whatever read or write is blocked
    on it returns at once. Each socket is followed through a duplicate of its
    descriptor: shutdown acts on the connection behind any of them, that
    works while TLS is wrapping (and detaching) the raw socket, and the number
    cannot be reused by another socket before `finish()` closes it.
    """

    def __init__(self, *, allow_private_addresses: bool = True) -> None:
        self.allow_private_addresses = allow_private_addresses
        self._lock = threading.Lock()
        self._done = False
        self._expired = False
        self._watches: list[socket.socket] = []
        self.connections: list[urllib3.connection.HTTPConnection] = []

    def admit(self, conn: urllib3.connection.HTTPConnection, sock: socket.socket) -> None:
        """A new connection: refuse a non-public peer (before any byte), then watch it."""
        if not self.allow_private_addresses:
            _check_peer_is_public(conn.host, sock)
        self.watch(conn, sock)

    def watch(self, conn: urllib3.connection.HTTPConnection, sock: socket.socket) -> None:
        with self._lock:
            if self._done or any(known is conn for known in self.connections):
                return
            self.connections.append(conn)
            watch = socket.fromfd(sock.fileno(), sock.family, sock.type)
            self._watches.append(watch)
            if self._expired:  # connected after the deadline (a slow DNS answer)
                _shut(watch)

    def expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._expired = True
            for watch in self._watches:
                _shut(watch)

    def finish(self) -> bool:
        """End the exchange (idempotent); True when the deadline passed before it ended."""
        with self._lock:
            if not self._done:
                self._done = True
                for watch in self._watches:
                    watch.close()
                self._watches.clear()
            return self._expired


class _Watchdog:
    """One thread per client that expires the exchange in progress at its deadline.

    Started with the client's first call and joined by `stop()` (the client's
    `close()`, or its garbage collection): a thread per call would cost more
    to start and join than a fast Odoo call takes.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: tuple[float, _Exchange] | None = None
        self._waiting_until: float | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None

    def arm(self, exchange: _Exchange, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self._cond:
            if self._stopped:
                raise RuntimeError("this OdooClient is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="odoo-call-deadline", daemon=True
                )
                self._thread.start()
            self._armed = (deadline, exchange)
            # A thread already waiting until an earlier moment re-reads it then.
            if self._waiting_until is None or self._waiting_until > deadline:
                self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._armed = None

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._armed = None
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                if self._armed is None:
                    self._waiting_until = None
                    self._cond.wait()
                    continue
                deadline, exchange = self._armed
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    self._waiting_until = deadline
                    self._cond.wait(remaining)
                    continue
                self._armed = None
                exchange.expire()


def _check_peer_is_public(host: str, sock: socket.socket) -> None:
    """Refuse a connected socket whose peer is not a public address (`OdooConfigError`).

    The URL's host was checked when it was saved, but a name can resolve
    elsewhere later (DNS rebinding to 127.0.0.1, 10.x, 169.254.169.254): the
    address judged is the one this connection actually reached.
    """
    peer = str(sock.getpeername()[0])
    why = why_not_public(peer)
    if why:
        ip = ipaddress.ip_address(peer.split("%", 1)[0])
        literal = is_ip_literal(host)
        raise OdooConfigError(not_public_message(host, ip, why, resolved=not literal, now=True))


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the peer


# The exchange in progress in this thread (a client is used by one thread at a time).
_EXCHANGE: ContextVar[_Exchange | None] = ContextVar("odoo_exchange", default=None)


class _WatchedConnection:
    """Hands every socket of an exchange to it: when it is made (for the peer check,
    before TLS or the request sends a byte), and when it is reused."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        exchange = _EXCHANGE.get()
        if exchange is not None:
            try:
                exchange.admit(self, sock)
            except BaseException:
                sock.close()
                raise
        return sock

    def request(self, *args, **kwargs) -> None:
        exchange = _EXCHANGE.get()
        if exchange is not None and self.sock is not None:  # a kept-alive connection
            exchange.watch(self, self.sock)
        return super().request(*args, **kwargs)


class _HTTPConnection(_WatchedConnection, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_WatchedConnection, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    """requests' adapter, with connections that report their sockets to the exchange."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class OdooClient:
    """A connection to one tenant's Odoo.

    No call is ever retried here (DESIGN property 5): a timeout or a dropped
    connection after the request left raises `OdooUnreachableError` with
    `outcome_unknown=True`, and the caller's next attempt reconciles. The one
    call sent twice is one Odoo refused before running it (`execute_kw`).
    """

    def __init__(
        self,
        url: str,
        db: str,
        login: str,
        api_key: str,
        *,
        protocol: str = "auto",
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        max_response_bytes: int = 10 * 1024 * 1024,
        allow_private_addresses: bool = True,
        uid: int | None = None,
        company_id: int | None = None,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
        parts = urlsplit((url or "").strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OdooConfigError(f"Not an http(s) URL: {url!r}")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        self.url = url.strip().rstrip("/")
        self.db = db
        # The Odoo company (res.company id) every model call runs in; None: Odoo's
        # default, the user's companies (docs/odoo.md, several companies in one database).
        self.company_id = check_company_id(company_id)
        self.login = login
        self._api_key = api_key
        self._requested_protocol = protocol
        self._protocol: str | None = None if protocol == "auto" else protocol
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_response_bytes = max_response_bytes
        # False: every new connection must reach a public address (the Django
        # side passes settings.ODOO_ALLOW_PRIVATE_URLS).
        self.allow_private_addresses = allow_private_addresses
        self.calls = 0
        # A `time.monotonic()` moment no exchange may outlast (None: no bound). An
        # exchange that could not end by then (connect + read timeout) is not
        # started: `OdooNotSentError`. A drain sets it to its time budget.
        self.end_by: float | None = None
        # A uid an earlier login of these credentials returned: calls use it
        # without logging in (see `execute_kw` for a key revoked since).
        self._uid: int | None = uid
        self._version: dict | None = None
        # Sent as X-Request-ID with every request (a drain's correlation id), so
        # Odoo's or its proxy's log lines can be matched with regsync's.
        self.request_id: str | None = None

        self._watchdog = _Watchdog()
        # An unclosed client must not leave its watchdog thread behind either.
        self._finalizer = weakref.finalize(self, self._watchdog.stop)
        self._session = requests.Session()
        # No .netrc, no proxy variables: what is sent goes where the URL says.
        self._session.trust_env = False
        adapter = _Adapter(max_retries=0, pool_connections=1, pool_maxsize=2)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})

    def __repr__(self) -> str:
        return (
            f"<OdooClient url={self.url!r} db={self.db!r} login={self.login!r} "
            f"protocol={self._protocol or self._requested_protocol!r} company_id={self.company_id!r}>"
        )

    # --- lifecycle -------------------------------------------------------------
    def close(self) -> None:
        self._session.close()
        self._finalizer()  # stops and joins the watchdog thread, once

    def __enter__(self) -> OdooClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------
    def _secrets(self) -> Iterable[str]:
        return (self._api_key,)

    def _clean(self, text: str) -> str:
        return redact(text, self._secrets())

    def _request(
        self, method: str, path: str, *, data: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, Any, bytes]:
        """One HTTP exchange: `(status, headers, body)`, the body read with a size bound.

        The whole exchange (connect, send, status line, headers, body) ends
        within connect + read timeout: the client's watchdog thread shuts its
        socket down then. It is not started unless it can end by `end_by`.
        """
        longest = self.connect_timeout + self.read_timeout
        if self.end_by is not None and time.monotonic() + longest > self.end_by:
            raise OdooNotSentError(
                f"Not sent: a call may take {longest:g} s and the time budget ends sooner"
            )
        self.calls += 1
        if self.request_id:
            headers = {**(headers or {}), "X-Request-ID": self.request_id}
        exchange = _Exchange(allow_private_addresses=self.allow_private_addresses)
        self._watchdog.arm(exchange, longest)
        token = _EXCHANGE.set(exchange)
        try:
            return self._exchange(method, path, data, headers, exchange)
        finally:
            _EXCHANGE.reset(token)
            self._watchdog.disarm()
            expired = exchange.finish()
            if expired:
                # Shut down under the pool's feet: it must never be handed out again.
                for conn in exchange.connections:
                    conn.close()

    def _deadline_passed(self) -> OdooUnreachableError:
        return OdooUnreachableError(
            f"Odoo's reply did not complete within {self.connect_timeout + self.read_timeout:g} s",
            outcome_unknown=True,
            cause=Cause.READ_TIMEOUT,
        )

    def _exchange(
        self, method: str, path: str, data: bytes | None, headers: dict | None, exchange: _Exchange
    ) -> tuple[int, Any, bytes]:
        try:
            response = self._session.request(
                method,
                self.url + path,
                data=data,
                headers=headers,
                timeout=(self.connect_timeout, self.read_timeout),
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            if exchange.finish():
                raise self._deadline_passed() from None
            raise self._transport_error(exc) from None
        try:
            body = self._read_bounded(response)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if exchange.finish():
                raise self._deadline_passed() from None
            raise OdooUnreachableError(
                f"Connection to Odoo lost while reading its reply: {self._clean(str(exc))}",
                outcome_unknown=True,
                cause=Cause.LOST,
            ) from None
        finally:
            response.close()
        if exchange.finish():
            # A body "ending" at the shutdown may be cut short, as may the headers.
            raise self._deadline_passed()
        return response.status_code, response.headers, body

    def _transport_error(self, exc: requests.exceptions.RequestException) -> OdooError:
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return OdooUnreachableError(
                f"Timed out connecting to Odoo after {self.connect_timeout:g} s",
                outcome_unknown=False,
                cause=Cause.CONNECT_TIMEOUT,
            )
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return OdooUnreachableError(
                f"Odoo did not answer within {self.read_timeout:g} s",
                outcome_unknown=True,
                cause=Cause.READ_TIMEOUT,
            )
        if isinstance(exc, requests.exceptions.SSLError):
            if _answered_plain_http(exc):
                return OdooUnreachableError(
                    "The server answered in plain HTTP, not HTTPS: "
                    f"{self._clean(_root_cause(exc))}",
                    outcome_unknown=False,
                    cause=Cause.PLAIN_HTTP,
                )
            return OdooUnreachableError(
                f"TLS error talking to Odoo: {self._clean(_root_cause(exc))}",
                outcome_unknown=False,
                cause=Cause.TLS,
            )
        if isinstance(exc, requests.exceptions.ConnectionError):
            before = _connection_failed_before_send(exc)
            what = "Cannot connect to Odoo" if before else "Connection to Odoo lost"
            if not before:
                cause = Cause.LOST
            elif _name_did_not_resolve(exc):
                cause = Cause.NAME_UNKNOWN
            else:
                cause = Cause.REFUSED
            return OdooUnreachableError(
                f"{what}: {self._clean(_root_cause(exc))}", outcome_unknown=not before, cause=cause
            )
        return OdooConfigError(f"Bad request to Odoo: {self._clean(str(exc))}")

    def _read_bounded(self, response: requests.Response) -> bytes:
        """The body, refused past `max_response_bytes` (the exchange's deadline bounds its time)."""
        limit = self.max_response_bytes
        too_big = OdooConfigError(f"Odoo's reply is larger than {limit} bytes: refusing to read it")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise too_big
        chunks, size = [], 0
        while True:
            chunk = response.raw.read1(_READ_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)

    def _foreign(self, status: int, headers, body: bytes, protocol: str) -> OdooError:
        """The error for a reply that carries no Odoo answer or Odoo error (see errors.py)."""
        return error_from_foreign_reply(
            status,
            body,
            protocol=protocol,
            content_type=headers.get("Content-Type") or "",
            location=headers.get("Location") or "",
            url=self.url,
            db=self.db,
            secrets=self._secrets(),
        )

    def _xmlrpc(self, service: str, method: str, params: list) -> Any:
        payload = xmlrpc.client.dumps(tuple(params), method, encoding="utf-8", allow_none=False)
        status, headers, body = self._request(
            "POST",
            f"/xmlrpc/2/{service}",
            data=payload.encode("utf-8"),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        if status != 200:
            # Odoo's XML-RPC says everything, faults included, with a 200: any
            # other status comes from a proxy, a firewall or the wrong server.
            raise self._foreign(status, headers, body, "XML-RPC")
        if looks_like_html(headers.get("Content-Type") or "", body):
            # A maintenance or proxy page: its <!DOCTYPE html> is not hostile XML,
            # and it is never parsed as XML at all.
            raise self._foreign(status, headers, body, "XML-RPC")
        try:
            return parse_xmlrpc_response(body)
        except xmlrpc.client.Fault as fault:
            raise error_from_fault(fault.faultCode, self._clean(str(fault.faultString))) from None
        except DefusedXmlException as exc:
            raise OdooConfigError(
                f"Odoo's reply contains forbidden XML ({type(exc).__name__}): refused"
            ) from None
        except (ExpatError, xmlrpc.client.ResponseError, ValueError, TypeError, IndexError):
            raise self._foreign(status, headers, body, "XML-RPC") from None

    def _json2(self, model: str, method: str, payload: dict) -> Any:
        headers = {
            "Authorization": f"bearer {self._api_key}",
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
        }
        if self.db:
            headers["X-Odoo-Database"] = self.db
        status, response_headers, body = self._request(
            "POST", f"/json/2/{model}/{method}", data=json.dumps(payload).encode(), headers=headers
        )
        is_json = "json" in (response_headers.get("Content-Type") or "")
        decoded = None
        if is_json:
            try:
                decoded = json.loads(body)
            except ValueError:
                decoded = None
        if status == 200:
            if not is_json or (decoded is None and body.strip() != b"null"):
                raise self._foreign(status, response_headers, body, "JSON-2")
            return decoded
        if 300 <= status < 400 or not is_odoo_json_error(decoded):
            raise self._foreign(status, response_headers, body, "JSON-2")
        cleaned = {k: self._clean(v) if isinstance(v, str) else v for k, v in decoded.items()}
        raise error_from_json2(status, cleaned)

    # --- version and protocol ------------------------------------------------------
    def version(self) -> dict:
        """Odoo's version, normalised: `{"server_version", "major", "raw"}` (cached)."""
        if self._version is None:
            raw = None
            if self._requested_protocol != "xmlrpc":
                raw = self._web_version()
            if raw is None:
                raw = self._xmlrpc("common", "version", [])
                if not isinstance(raw, dict):
                    raise OdooConfigError(f"Unexpected answer to version(): {raw!r}")
            self._version = normalise_version(raw)
        return self._version

    def _web_version(self) -> dict | None:
        """`GET /web/version` (19+, no auth); None when the server has no such route."""
        status, _headers, body = self._request("GET", "/web/version")
        if status == 429 or status >= 500:
            raise unreachable_for_status(status, body, secrets=self._secrets())
        if status != 200:
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict) or "version_info" not in data:
            return None
        return data

    @property
    def protocol_in_use(self) -> str:
        """`xmlrpc` or `json2`; "auto" asks the server's version once (json2 on 19+)."""
        if self._protocol is None:
            self._protocol = "json2" if self.version()["major"] >= 19 else "xmlrpc"
        return self._protocol

    # --- authentication --------------------------------------------------------------
    @property
    def uid(self) -> int | None:
        """The uid calls are made with: given, or from this client's login; None before."""
        return self._uid

    def authenticate(self) -> int:
        """The uid: the one given or logged in with, else log in once; `OdooAuthError` when rejected.

        On JSON-2 there is no login: the uid is the key owner's (`context_get`).
        """
        if self._uid is not None:
            return self._uid
        if self.protocol_in_use == "json2":
            try:
                uid = self._json2_uid()
            except OdooAuthError as exc:
                if self._requested_protocol != "auto" or exc.http_status != 401:
                    raise
                # A password (not an API key) works over XML-RPC but never as a bearer.
                try:
                    fallback = self._xmlrpc_authenticate(quiet=True)
                except OdooError:
                    fallback = None
                if fallback is None:
                    raise exc from None
                uid = fallback
                self._protocol = "xmlrpc"
        else:
            uid = self._xmlrpc_authenticate()
        self._uid = uid
        return uid

    def _json2_uid(self) -> int:
        # context_get is callable by any user, cheap, and answers the key owner's uid.
        context = self._json2("res.users", "context_get", {})
        uid = context.get("uid") if isinstance(context, dict) else None
        if not isinstance(uid, int) or isinstance(uid, bool):
            raise OdooConfigError(f"Unexpected answer to res.users.context_get: {context!r}")
        return uid

    def _xmlrpc_authenticate(self, *, quiet: bool = False) -> int | None:
        uid = self._xmlrpc("common", "authenticate", [self.db, self.login, self._api_key, {}])
        if isinstance(uid, int) and not isinstance(uid, bool) and uid > 0:
            return uid
        if quiet:
            return None
        raise OdooAuthError(
            f"Odoo rejected the login {self.login!r} or its API key on database {self.db!r} "
            "(or logins are in cooldown after repeated failures)",
            fault_code=None,
            http_status=200,
        )

    # --- calls -----------------------------------------------------------------------
    def execute_kw(self, model: str, method: str, args: list, kwargs: dict | None = None) -> Any:
        """Call `model.method(*args, **kwargs)` as Odoo's execute_kw does, on either protocol.

        With a `company_id`, the call runs in that company (`companies.in_company`:
        the context's `allowed_company_ids`, and the company in a new pos.config's
        values); a company the user may not use is `OdooCompanyNotAllowedError`.

        Over XML-RPC Odoo checks (uid, key) before it runs anything and answers
        "Access Denied" (fault 3) for a wrong key and a uid that is not the
        key's user alike. So a denied call logs in once to tell them apart: a
        rejected login raises the call's `OdooAuthError` (Odoo's words: "Access
        Denied", or its login cooldown), an accepted one sends the call again,
        once, with the uid it returned (the first was not applied).
        """
        args = list(args)
        kwargs = dict(kwargs or {})
        if self.company_id is not None:
            args, kwargs = in_company(self.company_id, model, method, args, kwargs)
        return self._execute_kw(model, method, args, kwargs)

    def _execute_kw(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        """`execute_kw` as given: in no company of this client's choosing."""
        uid = self.authenticate()
        if self.protocol_in_use == "json2":
            return self._execute_json2(model, method, args, kwargs)
        try:
            return self._execute_xmlrpc(uid, model, method, args, kwargs)
        except OdooAuthError as denied:
            if denied.fault_code != 3:
                raise  # a database that does not exist: no login can help
            self._uid = None
            if (uid := self._xmlrpc_authenticate(quiet=True)) is None:
                raise
            self._uid = uid
        return self._execute_xmlrpc(uid, model, method, args, kwargs)

    def _execute_xmlrpc(self, uid: int, model: str, method: str, args: list, kwargs: dict) -> Any:
        params: list = [self.db, uid, self._api_key, model, method, args]
        if kwargs:
            params.append(kwargs)
        return self._xmlrpc("object", "execute_kw", params)

    def _execute_json2(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        names = JSON2_ARGUMENTS.get(method)
        if names is None:
            # Unknown method: a leading list of ints is the record ids, the rest must be named.
            if args and isinstance(args[0], list) and all(isinstance(i, int) for i in args[0]):
                names = ("ids",)
            else:
                names = ()
        if len(args) > len(names):
            raise TypeError(
                f"JSON-2 needs named arguments for {model}.{method}: pass them in kwargs"
            )
        payload = dict(zip(names, args, strict=False)) | kwargs
        single_create = method == "create" and isinstance(payload.get("vals_list"), dict)
        if single_create:
            payload["vals_list"] = [payload["vals_list"]]
        result = self._json2(model, method, payload)
        if single_create and isinstance(result, list) and result:
            return result[0]  # XML-RPC returns an int for one dict: same here
        return result

    # --- companies (issue 25) --------------------------------------------------------------
    def list_companies(self) -> UserCompanies:
        """The companies the user may use, by name, and its default company.

        Read without this client's company (so it answers even when that company
        is not the user's): `res.users.read([uid], ['company_id', 'company_ids'])`,
        then `res.company.read(company_ids, ['name'])`, which the company record
        rule lets through for exactly those companies (docs/odoo.md). Two calls.
        """
        uid = self.authenticate()
        users = self._execute_kw("res.users", "read", [[uid], ["company_id", "company_ids"]], {})
        if not isinstance(users, list) or len(users) != 1 or not isinstance(users[0], dict):
            raise OdooConfigError(f"Unexpected answer to res.users.read: {users!r}")
        user = users[0]
        default = user.get("company_id")
        default_id = default[0] if isinstance(default, list | tuple) and default else default
        company_ids = user.get("company_ids")
        if not isinstance(default_id, int) or not isinstance(company_ids, list):
            raise OdooConfigError(f"Unexpected answer to res.users.read: {users!r}")
        names: dict[int, str] = {}
        if company_ids:
            rows = self._execute_kw("res.company", "read", [company_ids, ["name"]], {})
            names = {int(r["id"]): str(r.get("name") or "") for r in rows or []}
        return UserCompanies(
            default_id=default_id,
            companies=tuple(Company(int(c), names.get(int(c), "")) for c in company_ids),
        )

    def pos_config_companies(self, ids: list[int]) -> dict[int, int]:
        """The company each of these pos.config is in, across every company the user may use.

        Read without this client's company, so Odoo's record rule lets through
        the user's companies (`env.companies` without `allowed_company_ids`): a
        config moved to another of them is found there (`{id: company_id}`); one
        deleted, or moved to a company the user may not use, is absent. One
        `search_read` per 1000 ids, archived configs included.
        """
        return {
            row["id"]: row["company_id"]
            for row in self._read_anywhere(ids, [])
            if row["company_id"] is not None
        }

    def pos_configs_anywhere(self, ids: list[int], module: str = REGSYNC_MODULE) -> list[dict]:
        """These pos.config as every company the user may use sees them (`pos_config_companies`):
        `id`, `name`, `active`, `company_id` and the `external_ids` of `module` each carries.
        A `search_read` and a `get_metadata` per 1000 ids; a deleted config is absent."""
        found = self._read_anywhere(ids, ["name", "active"])
        carried = self.regsync_external_ids([r["id"] for r in found], module) if found else {}
        for r in found:
            r["active"] = bool(r["active"])
            r["external_ids"] = carried.get(r["id"], [])
        return found

    def _read_anywhere(self, ids: list[int], fields: list[str]) -> list[dict]:
        """`fields` and `company_id` (an id, or None) of these pos.config, archived ones too,
        read without this client's company: one `search_read` per 1000 ids."""
        found = []
        wanted = [int(i) for i in ids]
        for start in range(0, len(wanted), 1000):
            rows = self._execute_kw(
                "pos.config",
                "search_read",
                [[("id", "in", wanted[start : start + 1000])]],
                {"fields": [*fields, "company_id"], "context": {"active_test": False}},
            )
            for row in rows or []:
                company = row.get("company_id")
                found.append(
                    {
                        **{name: row.get(name) for name in fields},
                        "id": int(row["id"]),
                        "company_id": int(company[0])
                        if isinstance(company, list | tuple) and company
                        else None,
                    }
                )
        return found

    # --- pos.config helpers ---------------------------------------------------------------
    def upsert_pos_config(
        self, *, external_id: tuple[str, str], name: str, active: bool = True
    ) -> int:
        """Create or update the `pos.config` behind `external_id`; return its id.

        Uses Odoo's `load()` with an external id: the record and its
        `ir.model.data` row are written in one Odoo transaction, and the same
        call again updates that record. So a create whose reply was lost
        (timeout, dropped connection, worker killed) can simply be sent again:
        it never creates a second pos.config, and if the record was deleted in
        Odoo meanwhile it is recreated. `load()` reports errors in its answer
        instead of faulting; they are raised here.
        """
        module, xml_name = external_id
        result = self.execute_kw(
            "pos.config",
            "load",
            [["id", "name", "active"], [[f"{module}.{xml_name}", name, "1" if active else "0"]]],
        )
        if not isinstance(result, dict):
            raise OdooConfigError(f"Unexpected answer to pos.config.load: {result!r}")
        errors = [
            self._clean(str(msg.get("message", "")))
            for msg in result.get("messages") or []
            if isinstance(msg, dict) and msg.get("type") == "error"
        ]
        ids = result.get("ids")
        if errors or not ids:
            text = "\n".join(errors) or "pos.config.load returned no id"
            if is_open_session_refusal(text) or is_transient_text(text):
                raise OdooTransientError(text, fault_code="load")
            raise OdooValidationError(text, fault_code="load")
        return int(ids[0])

    def write_pos_config(self, odoo_id: int, vals: dict) -> None:
        """Write `vals` on one pos.config; `OdooMissingRecordError` if it was deleted in Odoo."""
        if not vals:
            return
        try:
            self.execute_kw("pos.config", "write", [[odoo_id], vals])
        except OdooPermanentError as exc:
            self._raise_if_moved(exc, [odoo_id])
            # MissingError shares fault 2 (JSON-2: 404) with other refusals and its
            # text is translated: only a count that ignores `active` proves it.
            if exc.fault_code == 2 or exc.http_status in (404, 422):
                if not self._pos_config_exists(odoo_id):
                    raise OdooMissingRecordError(
                        exc.message, fault_code=exc.fault_code, http_status=exc.http_status
                    ) from exc
            raise

    def _moved(self, ids: list[int]) -> dict[int, int]:
        """Those of `ids` that are in another company than the client's (none without one)."""
        if self.company_id is None or not ids:
            return {}
        return {
            i: company
            for i, company in self.pos_config_companies(ids).items()
            if company != self.company_id
        }

    def _raise_if_moved(self, exc: OdooPermanentError, ids: list[int]) -> None:
        """A refusal of records the client's company does not see (Odoo's record rule: an
        access error, or "missing") is `OdooMovedCompanyError` when they are in another one."""
        if self.company_id is None or not isinstance(
            exc, OdooAccessError | OdooValidationError | OdooMissingRecordError
        ):
            return
        moved = self._moved(ids)
        if moved:
            raise _moved_error(
                moved,
                self.company_id,
                exc.message,
                fault_code=exc.fault_code,
                http_status=exc.http_status,
            ) from exc

    def _pos_config_exists(self, odoo_id: int) -> bool:
        count = self.execute_kw(
            "pos.config",
            "search_count",
            [[("id", "=", odoo_id)]],
            {"context": {"active_test": False}},
        )
        return bool(count)

    # --- many pos.config at once (issue 14) and onboarding (issue 13) ---------------------
    def upsert_pos_configs(self, rows: list[tuple[tuple[str, str] | str, str, bool]]) -> list[int]:
        """`upsert_pos_config` for many rows in one `load()`; the ids in row order.

        `rows`: `(external_id, name, active)`, the external id as `(module, name)`
        or `"module.name"`. Odoo applies all of them or none (one savepoint); on
        a refusal `OdooBatchError` says which rows Odoo named and why, and the
        others must be sent again. An external id twice in one batch is refused
        here: Odoo would create two records and bind the id to the last.
        """
        if not rows:
            return []
        data, seen = [], set()
        for external_id, name, active in rows:
            xid = external_id if isinstance(external_id, str) else ".".join(external_id)
            if xid in seen:
                raise ValueError(f"external id {xid!r} appears twice in one batch")
            seen.add(xid)
            data.append([xid, name, _load_cell(active)])
        return self._load_rows(["id", "name", "active"], data)

    def _load_rows(self, fields: list[str], data: list[list[str]], **kwargs) -> list[int]:
        """`pos.config.load(fields, data)` of many rows: the ids in row order, or
        `OdooBatchError` (Odoo's messages per row) when Odoo refused the batch."""
        result = self.execute_kw("pos.config", "load", [fields, data], kwargs or None)
        if not isinstance(result, dict):
            raise OdooConfigError(f"Unexpected answer to pos.config.load: {result!r}")
        messages = [m for m in result.get("messages") or [] if isinstance(m, dict)]
        ids = result.get("ids")
        if any(m.get("type") == "error" for m in messages) or not ids:
            raise self._batch_error(messages, len(data))
        if not isinstance(ids, list) or len(ids) != len(data):
            raise OdooConfigError(f"pos.config.load answered {len(ids)} ids for {len(data)} rows")
        return [int(i) for i in ids]

    def update_pos_configs(self, updates: list[tuple[int, dict]]) -> None:
        """Write different values on many pos.config in one `load()` by database id.

        `updates`: `(odoo_id, vals)`, every `vals` with the same keys (`name`,
        `active`). One call instead of one `write` per record: `load` with a
        `.id` column writes each row's record (`_load_records_write`), all or
        nothing, and creates no external id (docs/odoo.md). `active_test` is off
        so that archived records are found. On a refusal `OdooBatchError` names
        the rows as `upsert_pos_configs` does; a record deleted in Odoo is Odoo's
        "Unknown database identifier" on its row, confirmed by one search and
        listed in `missing_rows`.
        """
        if not updates:
            return
        keys = sorted(updates[0][1])
        if not keys or any(sorted(vals) != keys for _, vals in updates):
            raise ValueError("every update of one load must set the same fields")
        ids = [int(odoo_id) for odoo_id, _ in updates]
        if len(set(ids)) != len(ids):
            raise ValueError("a pos.config appears twice in one batch")
        data = [
            [str(odoo_id), *(_load_cell(vals[key]) for key in keys)]
            for odoo_id, (_, vals) in zip(ids, updates, strict=True)
        ]
        answered = self._load_by_id([".id", *keys], data, ids)
        if answered != ids:
            raise OdooConfigError(f"pos.config.load answered ids {answered!r} for {ids!r}")

    def write_own_pos_configs(
        self, rows: list[tuple[int, tuple[str, str] | str, str, bool]]
    ) -> list[int]:
        """Write name and active on many pos.config that regsync made, by their external ids.

        `rows`: `(odoo_id, external_id, name, active)`. One `load` with an `id`
        column (the external id) and a `.id` column (the id regsync holds):
        Odoo checks that each `.id` exists (a record deleted in Odoo is its
        "Unknown database identifier", listed in `missing_rows` as by
        `update_pos_configs`) and then writes the record the external id names
        (docs/odoo.md "Writing only what is ours"). So a write never lands on
        a record that is not the register's, even where the id regsync holds
        was handed to another record (Odoo restored from a backup): the
        answer's id for that row is then the register's record, which may
        differ from `odoo_id`, or a new one when the restore lost it. Only for
        configs regsync created: their external id was made with the record.
        """
        if not rows:
            return []
        ids = [int(odoo_id) for odoo_id, _, _, _ in rows]
        if len(set(ids)) != len(ids):
            raise ValueError("a pos.config appears twice in one batch")
        data = [
            [
                external_id if isinstance(external_id, str) else ".".join(external_id),
                str(odoo_id),
                name,
                _load_cell(active),
            ]
            for odoo_id, (_, external_id, name, active) in zip(ids, rows, strict=True)
        ]
        xids = [row[0] for row in data]
        return self._load_by_id(["id", ".id", "name", "active"], data, ids, xids)

    def write_own_pos_config(
        self, odoo_id: int, external_id: tuple[str, str] | str, name: str, active: bool
    ) -> int:
        """`write_own_pos_configs` of one row: the register's record id, or Odoo's refusal as
        `OdooMissingRecordError` (the id regsync holds is gone), `OdooTransientError` or
        `OdooValidationError`."""
        try:
            [answered] = self.write_own_pos_configs([(odoo_id, external_id, name, active)])
        except OdooBatchError as exc:
            text = exc.failed_rows.get(0) or exc.message
            if 0 in exc.not_ours_rows:
                raise OdooNotOursError(
                    f"pos.config {odoo_id} is in another company and carries another "
                    "register's external id (Odoo restored from a backup?): not written; "
                    f"the register is created again. Odoo said: {text}",
                    fault_code="load",
                ) from exc
            if 0 in exc.moved_rows:
                moved = {odoo_id: exc.moved_rows[0]}
                raise _moved_error(moved, self.company_id, text, fault_code="load") from exc
            if 0 in exc.missing_rows:
                raise OdooMissingRecordError(text, fault_code="load") from exc
            if 0 in exc.transient_rows:
                raise OdooTransientError(text, fault_code="load") from exc
            raise OdooValidationError(text, fault_code="load") from exc
        return answered

    def _load_by_id(
        self,
        fields: list[str],
        data: list[list[str]],
        ids: list[int],
        own_xids: list[str] | None = None,
    ) -> list[int]:
        """`_load_rows` of rows naming records by `.id` (archived ones found): a refusal's rows
        whose record is gone from Odoo (one `search` confirms it) are in `missing_rows`; with
        a company, those in another of the user's companies are in `moved_rows`, or, given
        each row's own external id (`own_xids`), in `not_ours_rows` when they carry another."""
        try:
            return self._load_rows(fields, data, context={"active_test": False})
        except OdooBatchError as error:
            unknown = {
                m["record"]
                for m in error.messages
                if m.get("type") == "error"
                and m.get("field") == ".id"
                and isinstance(m.get("record"), int)
                and 0 <= m["record"] < len(ids)
            }
            if unknown:
                present = set(
                    self.execute_kw(
                        "pos.config",
                        "search",
                        [[("id", "in", [ids[i] for i in sorted(unknown)])]],
                        {"context": {"active_test": False}},
                    )
                )
                gone = [i for i in unknown if ids[i] not in present]
                moved = self._moved([ids[i] for i in gone])
                elsewhere = [i for i in gone if ids[i] in moved]
                if own_xids is not None and elsewhere:
                    # In another company and carrying another register's external id: not
                    # this row's config moved, but an id handed out again (a restore).
                    carried = self.regsync_external_ids([ids[i] for i in elsewhere])
                    error.not_ours_rows = frozenset(
                        i
                        for i in elsewhere
                        if any(x != own_xids[i] for x in carried.get(ids[i], []))
                    )
                error.moved_rows = {
                    i: moved[ids[i]] for i in elsewhere if i not in error.not_ours_rows
                }
                error.missing_rows = frozenset(i for i in gone if ids[i] not in moved)
            raise

    def _batch_error(self, messages: list[dict], row_count: int) -> OdooBatchError:
        """Odoo's per-row messages, the batch-level repeat on the first row told apart."""
        named = [
            m for m in messages if m.get("type") == "error" and isinstance(m.get("record"), int)
        ]
        errors = [(m["record"], self._clean(str(m.get("message", "")))) for m in named]
        uncertain: set[int] = set()
        # load()'s repeat of the batch's UserError is `dict(first row's info, type,
        # message)`: record 0, first, and no other key (a database error's has `field`).
        if len(errors) > 1 and errors[0][0] == 0 and set(named[0]) <= _REPEAT_KEYS:
            first_text = errors[0][1]
            later = errors[1:]
            if any(row == 0 for row, _ in later):
                errors = later  # the repeat; row 0's own message follows
            elif any(text == first_text for _, text in later):
                uncertain.add(0)  # the repeat, or row 0 failing the same way
                errors = later
        failed: dict[int, str] = {}
        for row, text in errors:
            if 0 <= row < row_count and row not in failed:
                failed[row] = text
        transient = {
            row
            for row, text in failed.items()
            if is_open_session_refusal(text) or is_transient_text(text)
        }
        incomplete = any(m.get("type") == "warning" and "record" not in m for m in messages)
        if failed:
            shown = "; ".join(f"row {row}: {text}" for row, text in sorted(failed.items())[:5])
            more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
            text = f"Odoo refused {len(failed)} of {row_count} rows, nothing was written: {shown}{more}"
        else:
            text = "pos.config.load returned no ids and named no row"
        return OdooBatchError(
            text,
            failed_rows=failed,
            uncertain_rows=frozenset(uncertain - failed.keys()),
            transient_rows=frozenset(transient),
            incomplete=incomplete,
            messages=messages,
        )

    def write_pos_configs(self, ids: list[int], vals: dict) -> None:
        """Write the same `vals` on many pos.config in one call (all or nothing).

        `OdooMissingRecordError` (its `missing_ids` confirmed by a search that
        includes archived records) if some were deleted in Odoo.
        """
        ids = [int(i) for i in ids]
        if not ids or not vals:
            return
        try:
            self.execute_kw("pos.config", "write", [ids, vals])
        except OdooPermanentError as exc:
            self._raise_if_moved(exc, ids)
            if exc.fault_code == 2 or exc.http_status in (404, 422):
                present = set(
                    self.execute_kw(
                        "pos.config",
                        "search",
                        [[("id", "in", ids)]],
                        {"context": {"active_test": False}},
                    )
                )
                missing = tuple(i for i in ids if i not in present)
                if missing:
                    error = OdooMissingRecordError(
                        exc.message, fault_code=exc.fault_code, http_status=exc.http_status
                    )
                    error.missing_ids = missing
                    raise error from exc
            raise

    def regsync_external_ids(
        self, ids: list[int], module: str = REGSYNC_MODULE
    ) -> dict[int, list[str]]:
        """Each record's external ids of `module`, via `get_metadata`.

        The integration user may not read `ir.model.data` (base's ACL gives it
        to Access Rights only, 17.0+); `get_metadata` reads it as sudo for
        anyone who may read the records themselves.
        """
        found: dict[int, list[str]] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            # Read across every company the user may use (no `allowed_company_ids`): a
            # config moved to another company has its external ids too, and the record
            # rule would refuse the whole read otherwise.
            for meta in self._execute_kw("pos.config", "get_metadata", [chunk], {}) or []:
                xmlids = [str(x.get("xmlid") or "") for x in meta.get("xmlids") or []]
                found[int(meta["id"])] = [x for x in xmlids if x.startswith(module + ".")]
        return found

    def _pos_config_rows(self, records: list[dict], module: str) -> list[dict]:
        linked = self.regsync_external_ids([int(r["id"]) for r in records], module)
        return [
            {
                "id": int(r["id"]),
                "name": r["name"],
                "active": bool(r["active"]),
                "external_id": (linked.get(int(r["id"])) or [None])[0],
                "external_ids": linked.get(int(r["id"]), []),
            }
            for r in records
        ]

    def find_pos_configs_by_name(
        self, names: list[str], *, module: str = REGSYNC_MODULE
    ) -> dict[str, list[dict]]:
        """Every pos.config (archived too) whose name `name_key` calls equal to one of `names`.

        `{name: [{"id", "name", "active", "external_id", "external_ids"}, ...]}`,
        every asked name present (an empty list when Odoo has none), records by
        id. `external_id` is the record's first external id of `module`
        (`"regsync.register_<hex>"`) or None. Two calls for the whole list:
        `search_read` (one `=ilike` per name with `name_pattern`, which matches
        more, narrowed here to equal names) with `active_test: False`, then
        `get_metadata` for the equal ones.
        """
        wanted = list(dict.fromkeys(str(n) for n in names))
        found: dict[str, list[dict]] = {name: [] for name in wanted}
        keys = {name_key(name) for name in wanted} - {""}
        if not keys:
            return found
        terms = [("name", "=ilike", p) for p in sorted({name_pattern(k) for k in keys})]
        domain = ["|"] * (len(terms) - 1) + terms
        records = self.execute_kw(
            "pos.config",
            "search_read",
            [domain],
            {"fields": _POS_FIELDS, "order": "id", "context": {"active_test": False}},
        )
        by_key: dict[str, list[dict]] = {}
        for row in self._pos_config_rows(
            [r for r in records if name_key(str(r.get("name") or "")) in keys], module
        ):
            by_key.setdefault(name_key(row["name"]), []).append(row)
        for name in wanted:
            found[name] = by_key.get(name_key(name), [])
        return found

    def read_all_pos_configs(
        self, *, page_size: int = 500, module: str = REGSYNC_MODULE
    ) -> list[dict]:
        """Every pos.config, archived too, by id, as `find_pos_configs_by_name` describes them.

        Pages of `page_size` by id (`id > last`, not offsets, so a record created
        or deleted meanwhile cannot shift a page): two calls per page.
        """
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        rows: list[dict] = []
        last = 0
        while True:
            page = self.execute_kw(
                "pos.config",
                "search_read",
                [[("id", ">", last)]],
                {
                    "fields": _POS_FIELDS,
                    "order": "id",
                    "limit": page_size,
                    "context": {"active_test": False},
                },
            )
            if not page:
                return rows
            rows.extend(self._pos_config_rows(page, module))
            last = max(int(r["id"]) for r in page)
            if len(page) < page_size:
                return rows

    def link_pos_config(self, odoo_id: int, external_id: tuple[str, str] | str) -> None:
        """Attach `external_id` to the existing pos.config `odoo_id`, creating nothing else.

        Only `ir.model.data.create` does that (see docs/odoo.md: `load` ignores
        `.id` when `id` is given and would create a second record). It needs
        Administration / Access Rights (base.group_erp_manager): with Point of
        Sale / Administrator alone Odoo answers `OdooAccessError`. Idempotent:
        an id already attached to that record is success. `OdooValidationError`
        when the external id belongs to another record, or the record already
        has another external id of the same module.
        """
        module, _, name = (
            external_id if isinstance(external_id, str) else ".".join(external_id)
        ).partition(".")
        xid = f"{module}.{name}"
        metadata = self.execute_kw("pos.config", "get_metadata", [[int(odoo_id)]])
        if not metadata:
            raise OdooMissingRecordError(f"pos.config {odoo_id} does not exist in Odoo")
        attached = [str(x.get("xmlid")) for x in metadata[0].get("xmlids") or []]
        if xid in attached:
            return
        others = [x for x in attached if x.startswith(module + ".")]
        if others:
            raise OdooNotOursError(
                f"pos.config {odoo_id} is already linked to {others[0]}, not {xid}"
            )
        vals = {"module": module, "name": name, "model": "pos.config", "res_id": int(odoo_id)}
        try:
            self.execute_kw("ir.model.data", "create", [vals])
        except OdooAccessError as exc:
            raise OdooAccessError(
                "Linking an existing Point of Sale to regsync creates an external identifier "
                "(ir.model.data), which Odoo allows only to users with Administration / "
                f"Access Rights. Odoo said: {exc.message}",
                fault_code=exc.fault_code,
                http_status=exc.http_status,
            ) from exc
        except OdooValidationError as exc:
            if "ir_model_data_module_name_uniq_index" in exc.message:
                raise OdooExternalIdTakenError(
                    f"The external id {xid} already belongs to another record in Odoo",
                    fault_code=exc.fault_code,
                    http_status=exc.http_status,
                ) from exc
            raise
