"""The Odoo error tree, and the rules that turn Odoo's faults and statuses into it.

Callers act on the class, never on the text: `OdooAuthError` pauses a tenant,
`OdooTransientError` (and its connection-level child `OdooUnreachableError`)
retries with backoff, `OdooPermanentError` dead-letters the row at once.
`OdooOutageError` is the tenant's outage: a reply that says nothing about the row.
"""

from __future__ import annotations

import re
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


class OdooTransientError(OdooError):
    """A conflict or temporary refusal that a later attempt can get past."""


class OdooUnreachableError(OdooTransientError):
    """The connection failed; `outcome_unknown` says whether the call may have landed."""

    def __init__(
        self,
        message: str,
        *,
        outcome_unknown: bool,
        fault_code: int | str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, fault_code=fault_code, http_status=http_status)
        self.outcome_unknown = outcome_unknown


class OdooOutageError(OdooUnreachableError):
    """The reply says nothing about the row: the tenant's outage, never the row's failure.

    Odoo cannot reach its own database, the reply is not XML-RPC/JSON-2 at all
    (a maintenance or captive-proxy HTML page, even with status 200), or a
    401/403 from something in front of Odoo that is not Odoo's API (a WAF).
    The row is given back uncharged and the tenant backs off, as when Odoo
    is unreachable.
    """


class OdooPermanentError(OdooError):
    """Retrying cannot help until someone acts."""


class OdooValidationError(OdooPermanentError):
    """UserError, ValidationError or RedirectWarning: Odoo refused the values."""


class OdooAccessError(OdooPermanentError):
    """The integration user lacks rights on the model or record."""


class OdooMissingRecordError(OdooPermanentError):
    """The record was deleted in Odoo (confirmed, not guessed from the text)."""


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


def error_from_fault(fault_code: int | str, fault_string: str) -> OdooError:
    """Classify an XML-RPC fault from `/xmlrpc/2/` (integer codes, see docs/odoo.md)."""
    text = fault_string or ""
    kw = {"fault_code": fault_code, "http_status": 200}
    if fault_code == 1:
        # First: a wrong database name also reads as a failed connection.
        if _MISSING_DB_RE.search(text):
            return OdooAuthError(last_line(text), **kw)
        if is_database_lost(text):
            # Odoo can lose its database after committing the call (it opens
            # another cursor to signal registry changes), so it may have landed.
            return OdooOutageError(text, outcome_unknown=True, **kw)
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
        return OdooAccessError(text, **kw)
    return OdooPermanentError(text or str(fault_code), **kw)


def error_from_json2(status: int, body: dict | None, raw_text: str = "") -> OdooError:
    """Classify a JSON-2 error reply (`status` >= 400, `body` the decoded JSON or None)."""
    if body is not None:
        name = str(body.get("name") or "")
        message = str(body.get("message") or "") or raw_text
    else:
        name, message = "", raw_text
    kw = {"fault_code": name or None, "http_status": status}
    short = name.rsplit(".", 1)[-1]

    if status in (502, 503, 504, 429) or (status >= 500 and body is None):
        return unreachable_for_status(status, message)
    if body is not None and is_database_lost(f"{name}: {message}"):
        return OdooOutageError(message or name, outcome_unknown=True, **kw)
    if status == 401:
        return OdooAuthError(message or "Unauthorized", **kw)
    if status == 404 and body is None and "No database is selected" in raw_text:
        return OdooAuthError(message, **kw)
    if status == 409 or is_transient_text(name) or is_transient_text(message):
        return OdooTransientError(message, **kw)
    if status == 403:
        if short == "AccessDenied":
            return OdooAuthError(message, **kw)
        return OdooAccessError(message, **kw)
    if status == 422 and short in ("UserError", "ValidationError", "RedirectWarning"):
        if is_open_session_refusal(message):
            return OdooTransientError(message, **kw)
        return OdooValidationError(message, **kw)
    if status == 404 and body is None:
        return OdooConfigError(
            f"HTTP 404 from the JSON-2 endpoint (not an Odoo 19+ server?): {message}", **kw
        )
    return OdooPermanentError(message or f"HTTP {status}", **kw)


def unreachable_for_status(status: int, text: str = "") -> OdooUnreachableError:
    """A non-Odoo HTTP error status (proxy or server overloaded)."""
    # 503 and 429 are refusals before the call ran; a 502/504 gateway may have
    # forwarded it and given up waiting, so the call may have landed.
    outcome_unknown = status not in (503, 429)
    detail = last_line(text)[:200] if text and "<" not in text[:1] else ""
    message = f"HTTP {status} from Odoo" + (f": {detail}" if detail else "")
    return OdooUnreachableError(message, outcome_unknown=outcome_unknown, http_status=status)
