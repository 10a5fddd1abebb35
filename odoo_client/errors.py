"""The Odoo error tree, and the rules that turn Odoo's faults and statuses into it.

Callers act on the class, never on the text: `OdooAuthError` pauses a tenant,
`OdooTransientError` (and its connection-level child `OdooUnreachableError`)
retries with backoff, `OdooPermanentError` dead-letters the row at once.
`OdooOutageError` is the tenant's outage: a reply that says nothing about the row.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

MAX_MESSAGE_CHARS = 2000
REDACTED = "[redacted]"

# Fault 1 tracebacks and JSON-2 500/409 bodies that a later attempt can get past.
_TRANSIENT_MARKERS = (
    "SerializationFailure",
    "could not serialize access",
    "could not obtain lock",
    "LockNotAvailable",
    "deadlock detected",
    "DeadlockDetected",
    "ConcurrencyError",
)
_MISSING_DB_RE = re.compile(r'database "[^"]*" does not exist')
# 19.0 refuses to archive a pos.config while a session is open; the cashier
# closing the session clears it, so it is retried rather than dead-lettered.
_OPEN_SESSION_RE = re.compile(r"can't modify [^.]*\bActive\b[^.]* while a session is open")
_MISSING_RECORD_MARKERS = (
    "Record does not exist or has been deleted",
    "One of the documents you are trying to access has been deleted",
)
_UNKNOWN_MODEL_RE = re.compile(r"^Object \S+ doesn't exist")
# odoo/api.py (17.0, 18.0) / odoo/orm/environments.py (19.0) `Environment.companies`:
# `allowed_company_ids` names a company the user may not use (docs/odoo.md).
_UNAUTHORIZED_COMPANIES = "Access to unauthorized or invalid companies"
# Odoo lost its own database: a psycopg connection error on one line of a fault 1
# traceback (or a JSON-2 500 `name: message`). The class must be named with the
# marker so a row's own error that merely quotes such words is not mistaken for it.
_DATABASE_LOST_RE = re.compile(
    r"\b(?:OperationalError|InterfaceError|PoolError)\b[^\n]*?(?:"
    r"connection to server (?:at|on socket) [^\n]*failed"
    r"|could not connect to server"
    r"|server closed the connection unexpectedly"
    r"|terminating connection due to administrator command"
    r"|no connection to the server"
    r"|connection already closed"
    r"|the connection is closed"
    r"|the database system is (?:starting up|shutting down|in recovery mode|not yet accepting)"
    r"|too many clients already"
    r"|remaining connection slots are reserved"
    r"|password authentication failed for user"
    r"|SSL SYSCALL error"
    r"|SSL connection has been closed unexpectedly"
    r"|The Connection Pool Is Full"
    r")"
)
_TITLE_RE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
TITLE_MAX_CHARS = 120
_TITLE_SCAN_BYTES = 64 * 1024


class OdooError(Exception):
    """Anything that went wrong talking to one tenant's Odoo.

    `message` is Odoo's own text (trimmed, credentials removed), `fault_code`
    the XML-RPC fault code or JSON-2 error name, `http_status` the HTTP status.
    """

    def __init__(
        self,
        message: str,
        *,
        fault_code: int | str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.message = trim_message(str(message))
        self.fault_code = fault_code
        self.http_status = http_status
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        # Keyword-only attributes survive pickling (Celery result backends, logs).
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls, message, state):
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class OdooConfigError(OdooError):
    """The URL, version or reply is not an Odoo we can talk to."""


class OdooAuthError(OdooError):
    """Login or key rejected, or the database does not exist: pause the tenant."""


class OdooUnknownDatabaseError(OdooAuthError):
    """That Odoo has no database of the name given (a pause too: only an edit fixes it)."""


class OdooCompanyNotAllowedError(OdooAuthError):
    """The call named a company the Odoo user may not use (or that does not exist, or is
    archived): Odoo's "Access to unauthorized or invalid companies." Nothing ran; only
    an edit of the connection, or the company given to the user in Odoo, fixes it."""


class OdooTransientError(OdooError):
    """A conflict or temporary refusal that a later attempt can get past."""


class Cause:
    """Why an Odoo could not be reached, for words an operator understands (`OdooUnreachableError.cause`)."""

    REFUSED = "refused"  # nothing listens there, or the connection was reset
    NAME_UNKNOWN = "name_unknown"  # the host name does not resolve
    CONNECT_TIMEOUT = "connect_timeout"
    READ_TIMEOUT = "read_timeout"  # connected, but no answer in time
    TLS = "tls"  # the certificate or TLS handshake failed
    PLAIN_HTTP = "plain_http"  # an https URL, but the server answered in plain HTTP
    LOST = "lost"  # the connection dropped mid-exchange
    HTTP_STATUS = "http_status"  # a 5xx or 429 from Odoo or its proxy
    ODOO_DATABASE = "odoo_database"  # Odoo answered, but cannot reach its own database
    FOREIGN_PAGE = "foreign_page"  # a web page (maintenance, proxy, WAF), not Odoo's API
    UNKNOWN = ""


class OdooUnreachableError(OdooTransientError):
    """The connection failed; `outcome_unknown` says whether the call may have landed."""

    def __init__(
        self,
        message: str,
        *,
        outcome_unknown: bool,
        cause: str = Cause.UNKNOWN,
        fault_code: int | str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, fault_code=fault_code, http_status=http_status)
        self.outcome_unknown = outcome_unknown
        self.cause = cause


class OdooOutageError(OdooUnreachableError):
    """The reply says nothing about the row: the tenant's outage, never the row's failure.

    Odoo cannot reach its own database, the reply is not XML-RPC/JSON-2 at all
    (a maintenance or captive-proxy HTML page, even with status 200), or a
    401/403 from something in front of Odoo that is not Odoo's API (a WAF).
    The row is given back uncharged and the tenant backs off, as when Odoo
    is unreachable.
    """


class OdooNotSentError(OdooError):
    """The call was never sent: it could not end by the caller's time budget (`OdooClient.end_by`).

    Nothing reached Odoo. It says nothing about the row nor the tenant: the
    caller gives the work back, uncharged, for a later attempt.
    """


class OdooPermanentError(OdooError):
    """Retrying cannot help until someone acts."""


class OdooValidationError(OdooPermanentError):
    """UserError, ValidationError or RedirectWarning: Odoo refused the values."""


class OdooAccessError(OdooPermanentError):
    """The integration user lacks rights on the model or record."""


class OdooMissingRecordError(OdooPermanentError):
    """The record was deleted in Odoo (confirmed, not guessed from the text).

    `missing_ids`: the ids confirmed gone, when a call named several.
    """

    missing_ids: tuple[int, ...] = ()


class OdooMovedCompanyError(OdooMissingRecordError):
    """The record is not in the client's company: it was moved to another company in Odoo
    (confirmed by reading its company across the user's companies). Not deleted: never
    created again by regsync; someone moves it back, or decides.

    `companies`: record id -> the company it is in now.
    """

    companies: dict = {}


class OdooExternalIdTakenError(OdooValidationError):
    """The external id to attach already belongs to another record in Odoo."""


class OdooNotOursError(OdooValidationError):
    """The record carries another owner's external id (another register's): it is not the
    caller's to write, whatever id the caller holds (a stale link: Odoo restored from a
    backup). Nothing was written."""


class OdooBatchError(OdooValidationError):
    """`load()` of many rows refused the whole batch: nothing was written.

    Odoo answers `ids: False` with one message per bad row; every other row
    was rolled back with them and must be sent again (without the bad ones).

    - `failed_rows`: row index -> Odoo's message, for rows Odoo named.
    - `uncertain_rows`: rows that may or may not have failed. Odoo 17/18 repeat
      the batch's first error on the batch's first row (`global_error_message`
      in `load`), which cannot be told from that row failing with the same text.
    - `transient_rows`: the failed rows whose refusal clears by itself (19.0's
      open-session archive refusal, lock conflicts): retry them, do not dead-letter.
    - `incomplete`: Odoo stopped trying rows after 10 errors (and one in ten):
      rows after the last one named were not tried at all.
    - `moved_rows`: rows of such a load whose record is in another company than the
      client's (row -> that company): moved in Odoo, not deleted.
    - `missing_rows`: rows of a load by database id (`.id`) whose record is
      gone, confirmed by a search that includes archived records.
    - `messages`: Odoo's messages as received.
    """

    def __init__(
        self,
        message: str,
        *,
        failed_rows: dict[int, str],
        uncertain_rows: frozenset[int] = frozenset(),
        transient_rows: frozenset[int] = frozenset(),
        incomplete: bool = False,
        missing_rows: frozenset[int] = frozenset(),
        moved_rows: dict[int, int] | None = None,
        messages: list | None = None,
        fault_code: int | str | None = "load",
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, fault_code=fault_code, http_status=http_status)
        self.failed_rows = dict(failed_rows)
        self.uncertain_rows = frozenset(uncertain_rows)
        self.transient_rows = frozenset(transient_rows)
        self.incomplete = incomplete
        self.missing_rows = frozenset(missing_rows)
        self.moved_rows = dict(moved_rows or {})
        # Rows whose `.id` names another company's record carrying another register's
        # external id (odoo_client.client: `write_own_pos_configs`).
        self.not_ours_rows: frozenset[int] = frozenset()
        self.messages = list(messages or [])


def trim_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Trim to `limit` characters; a traceback keeps its tail, where the error is."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if text.startswith("Traceback"):
        return "..." + text[-(limit - 3) :]
    return text[: limit - 3] + "..."


def redact(text: str, secrets: Iterable[str]) -> str:
    """Remove every secret (longer than 3 characters) from `text`."""
    for secret in secrets:
        if secret and len(secret) > 3:
            text = text.replace(secret, REDACTED)
    return text


# Where Odoo's own PostgreSQL lives, as psycopg names it in an error Odoo passes on:
# an internal host an operator must never be shown.
_INTERNAL_DB_SERVER_RE = re.compile(
    r'(connection to server (?:at|on socket)) "[^"]*"(?: \([^)]*\))?(?:, port \d+)?'
)


def hide_internal_hosts(text: str) -> str:
    """`text` without the address of Odoo's own database server (psycopg's connection errors)."""
    return _INTERNAL_DB_SERVER_RE.sub(r"\1 <Odoo's database server>", text)


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def is_transient_text(text: str) -> bool:
    return any(marker in text for marker in _TRANSIENT_MARKERS)


def is_database_lost(text: str) -> bool:
    """True when Odoo's text says Odoo itself cannot reach (or lost) its PostgreSQL."""
    return bool(_DATABASE_LOST_RE.search(text))


def is_open_session_refusal(text: str) -> bool:
    return bool(_OPEN_SESSION_RE.search(text))


def looks_like_missing_record(text: str) -> bool:
    return any(marker in text for marker in _MISSING_RECORD_MARKERS)


def is_odoo_json_error(body: object) -> bool:
    """True for Odoo's JSON-2 error shape: `{"name": "module.Class", "message": "..."}`."""
    if not isinstance(body, dict):
        return False
    name, message = body.get("name"), body.get("message")
    return (
        isinstance(name, str)
        and bool(re.fullmatch(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", name))
        and isinstance(message, str)
    )


def display_text(text: str, limit: int, *, secrets: Iterable[str] = ()) -> str:
    """`text` made safe to show in one line: control characters removed, whitespace
    collapsed, secrets redacted, at most `limit` characters."""
    spaced = " ".join(text.split())  # newlines and tabs become spaces first
    kept = "".join(c for c in spaced if unicodedata.category(c) not in ("Cc", "Cf"))
    kept = redact(" ".join(kept.split()), secrets)
    return kept if len(kept) <= limit else kept[: limit - 3] + "..."


def page_title(body: bytes | str, *, secrets: Iterable[str] = ()) -> str:
    """The `<title>` of an HTML page, made safe to show (see `display_text`), or ""."""
    raw = body.encode("utf-8", errors="replace") if isinstance(body, str) else body
    match = _TITLE_RE.search(raw[:_TITLE_SCAN_BYTES])
    if not match:
        return ""
    title = html.unescape(match.group(1).decode("utf-8", errors="replace"))
    return display_text(title, TITLE_MAX_CHARS, secrets=secrets)


def looks_like_html(content_type: str, body: bytes) -> bool:
    """An HTML page (by its Content-Type or its first tag), never a protocol reply."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    return "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html"))


def _reply_kind(content_type: str, body: bytes) -> str:
    content_type = content_type.lower()
    head = body.lstrip()[:64].lower()
    if not head:
        return "an empty reply"
    if looks_like_html(content_type, body):
        return "an HTML page"
    if "json" in content_type:
        return "a JSON reply"
    if "xml" in content_type or head.startswith(b"<?xml"):
        return "an XML document"
    if content_type.startswith("text/"):
        return "a text reply"
    return "a reply"


def describe_reply(
    status: int,
    body: bytes | str,
    *,
    protocol: str,
    content_type: str = "",
    secrets: Iterable[str] = (),
) -> str:
    """What came back instead of `protocol`, in our words plus at most the page's title.

    Never the body itself: a proxy's page can hold anything (addresses, tokens,
    markup) and this text ends up in the admin and the logs.
    """
    raw = body.encode("utf-8", errors="replace") if isinstance(body, str) else body
    kind = _reply_kind(content_type, raw)
    title = page_title(raw, secrets=secrets)
    text = f"Odoo's server answered with {kind} (HTTP {status}), not {protocol}"
    return text + (f': "{title}"' if title else "")


def error_from_fault(fault_code: int | str, fault_string: str) -> OdooError:
    """Classify an XML-RPC fault from `/xmlrpc/2/` (integer codes, see docs/odoo.md)."""
    text = fault_string or ""
    kw = {"fault_code": fault_code, "http_status": 200}
    if fault_code == 1:
        # First: a wrong database name also reads as a failed connection.
        if _MISSING_DB_RE.search(text):
            return OdooUnknownDatabaseError(last_line(text), **kw)
        if is_database_lost(text):
            # Odoo can lose its database after committing the call (it opens
            # another cursor to signal registry changes), so it may have landed.
            return OdooOutageError(text, outcome_unknown=True, cause=Cause.ODOO_DATABASE, **kw)
        if is_transient_text(text):
            return OdooTransientError(text, **kw)
        if last_line(text) == "KeyError: 'name'":
            # 17.0/18.0 pos.config create() without a name (19.0 says ValidationError)
            return OdooValidationError(text, **kw)
        return OdooPermanentError(text, **kw)
    if fault_code == 2:
        if is_open_session_refusal(text):
            return OdooTransientError(text, **kw)
        # MissingError shares code 2; only a search_count can confirm it.
        if looks_like_missing_record(text) or _UNKNOWN_MODEL_RE.search(text):
            return OdooPermanentError(text, **kw)
        return OdooValidationError(text, **kw)
    if fault_code == 3:
        return OdooAuthError(text or "Access Denied", **kw)
    if fault_code == 4:
        if _UNAUTHORIZED_COMPANIES in text:
            return OdooCompanyNotAllowedError(text, **kw)
        return OdooAccessError(text, **kw)
    return OdooPermanentError(text or str(fault_code), **kw)


def error_from_foreign_reply(
    status: int,
    body: bytes | str,
    *,
    protocol: str,
    content_type: str = "",
    location: str = "",
    url: str = "",
    db: str = "",
    secrets: Iterable[str] = (),
) -> OdooError:
    """A reply with no Odoo answer or Odoo error in it (`protocol`: "XML-RPC" or "JSON-2").

    A redirect or a 404 is a wrong URL (Test connection says so); JSON-2's 404
    "No database is selected" page is Odoo's own, for a wrong database name.
    Everything else says nothing about the row: a 5xx/429 is Odoo or its proxy
    unreachable, and any other page (a maintenance or captive-proxy page even
    with status 200, a WAF's 401/403) is the tenant's outage.
    """
    raw = body.encode("utf-8", errors="replace") if isinstance(body, str) else body
    if status == 429 or status >= 500:
        return unreachable_for_status(status, raw, secrets=secrets)
    if 300 <= status < 400:
        hint = " and the Odoo version (JSON-2 needs 19+)" if protocol == "JSON-2" else ""
        shown = display_text(location, 200, secrets=secrets)
        return OdooConfigError(
            f"{protocol} request redirected (HTTP {status}) to {shown!r}: "
            f"check the URL (https, no path){hint}",
            http_status=status,
        )
    if status == 404:
        if protocol == "JSON-2" and b"No database is selected" in raw:
            return OdooUnknownDatabaseError(
                f"No database is selected: this Odoo has no database {db!r} "
                "(HTTP 404 to the X-Odoo-Database header)",
                http_status=status,
            )
        where = f" at {url}" if url else ""
        return OdooConfigError(
            f"No {protocol} endpoint{where} (HTTP 404): is this an Odoo server?",
            http_status=status,
        )
    # A success status over a page we cannot read: whatever is behind it may
    # have run the call. A 4xx page is a refusal before the call reached Odoo.
    return OdooOutageError(
        describe_reply(status, raw, protocol=protocol, content_type=content_type, secrets=secrets),
        outcome_unknown=status < 400,
        cause=Cause.FOREIGN_PAGE,
        http_status=status,
    )


def error_from_json2(status: int, body: dict | None, raw_text: str = "") -> OdooError:
    """Classify a JSON-2 error reply (`status` >= 400, `body` the decoded JSON or None).

    Only a body in Odoo's error shape (`is_odoo_json_error`) is Odoo's verdict;
    anything else is classified from the status alone, and of `raw_text` (the
    body as text) at most the page's title is kept.
    """
    if not is_odoo_json_error(body):
        return error_from_foreign_reply(status, raw_text, protocol="JSON-2")
    name = str(body["name"])
    message = str(body["message"])
    kw = {"fault_code": name, "http_status": status}
    short = name.rsplit(".", 1)[-1]

    if status in (502, 503, 504, 429):
        return unreachable_for_status(status, message=message)
    if _MISSING_DB_RE.search(message):
        return OdooUnknownDatabaseError(last_line(message), **kw)
    if is_database_lost(f"{name}: {message}"):
        return OdooOutageError(
            message or name, outcome_unknown=True, cause=Cause.ODOO_DATABASE, **kw
        )
    if status == 401:
        return OdooAuthError(message or "Unauthorized", **kw)
    if status == 409 or is_transient_text(name) or is_transient_text(message):
        return OdooTransientError(message, **kw)
    if status == 403:
        if short == "AccessDenied":
            return OdooAuthError(message, **kw)
        if _UNAUTHORIZED_COMPANIES in message:
            return OdooCompanyNotAllowedError(message, **kw)
        return OdooAccessError(message, **kw)
    if status == 422 and short in ("UserError", "ValidationError", "RedirectWarning"):
        if is_open_session_refusal(message):
            return OdooTransientError(message, **kw)
        return OdooValidationError(message, **kw)
    return OdooPermanentError(message or f"HTTP {status}", **kw)


def unreachable_for_status(
    status: int,
    body: bytes | str = b"",
    *,
    message: str = "",
    secrets: Iterable[str] = (),
) -> OdooUnreachableError:
    """A 5xx/429: Odoo or the proxy in front of it is down or overloaded.

    `message` is Odoo's own error text (JSON-2) and is kept; of `body`, a page
    from a proxy, at most its title is.
    """
    # 503 and 429 are refusals before the call ran; a 502/504 gateway may have
    # forwarded it and given up waiting, so the call may have landed.
    outcome_unknown = status not in (503, 429)
    if message:
        detail = display_text(last_line(message), 200, secrets=secrets)
    else:
        title = page_title(body, secrets=secrets)
        detail = f'"{title}"' if title else ""
    text = f"HTTP {status} from Odoo" + (f": {detail}" if detail else "")
    return OdooUnreachableError(
        text, outcome_unknown=outcome_unknown, cause=Cause.HTTP_STATUS, http_status=status
    )
