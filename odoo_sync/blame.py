"""Whose a failure is: a row's (it costs that row an attempt) or the tenant's (no row pays).

The rule (DESIGN properties 6, 8, 15 and 16), asked of every failed row in the order
the drain records them:

- Odoo's own verdict on the row (validation, a record deleted in Odoo) is the
  row's: charged at once.
- A failure that says nothing about the row is the tenant's: the row is given
  back uncharged and the tenant backs off. That is an `OdooOutageError` (Odoo
  lost its database, a proxy's page), or the connection failing before any row
  of this drain went through. A rejected key pauses the tenant, also uncharged.
- A call shared by several rows (one `load` or `write` for many) that fails
  without naming a row is none of theirs: the drain sends each row alone
  (`shared_failure_is_split`), so that its own call answers; what it cannot
  split (the name lookup of a batch's creates), or a connection failing with
  no row gone through yet, is the tenant's. It never charges one row for all.
- The connection failing on a row's own call after another row went through
  is that row's, and ends the drain.
- A call not sent because the drain's time ran out (`OdooNotSentError`) is
  nobody's: the row is given back uncharged and is due again.
- A transient fault or an access error may be either: it is held until the
  next row tells. A row going through or a different failure makes the held
  ones the rows' own; SYNC_SAME_FAILURE_LIMIT alike in a row, or two alike
  with no row gone through by the drain's end, are the tenant's.
"""

from dataclasses import dataclass
from enum import StrEnum

from odoo_client.errors import (
    OdooAccessError,
    OdooAuthError,
    OdooError,
    OdooMissingRecordError,
    OdooMovedCompanyError,
    OdooNotSentError,
    OdooOutageError,
    OdooTransientError,
    OdooUnreachableError,
    OdooValidationError,
)
from odoo_sync import claims
from registers.models import ErrorKind


class Whose(StrEnum):
    ROW = "row"  # Odoo's verdict on the row: charged now
    HELD = "held"  # the row's or the tenant's: the next row tells (`Held`)
    ROW_ENDS_DRAIN = "row_ends_drain"  # the row's own call lost the connection: charged, drain ends
    TENANT = "tenant"  # says nothing about the row: uncharged, the tenant backs off
    PAUSE = "pause"  # the key was rejected: uncharged, the tenant is paused
    NOT_SENT = "not_sent"  # out of time, never sent: given back uncharged, due again


def whose(exc: OdooError, *, went_through: bool, shared: bool = False) -> Whose:
    """Whose this row's failure is, given whether a row of this drain went through.

    `shared`: the failure is of a call shared with other rows that named none of them.
    """
    if isinstance(exc, OdooNotSentError):
        return Whose.NOT_SENT
    if isinstance(exc, OdooAuthError):
        return Whose.PAUSE
    if shared:
        return Whose.TENANT
    if isinstance(exc, OdooUnreachableError):
        if isinstance(exc, OdooOutageError) or not went_through:
            return Whose.TENANT
        return Whose.ROW_ENDS_DRAIN
    if deferrable(exc):
        return Whose.HELD
    return Whose.ROW


def shared_failure_is_split(exc: OdooError, *, went_through: bool) -> bool:
    """A call shared by several rows failed without naming one: send each row alone?

    Yes for a refusal (a conflict, a rights error, a load that named no row),
    and for the connection failing once a row of this drain went through (Odoo
    works, so each row's own call tells). No when nothing went through yet (an
    outage: the tenant's), for an outage's reply, a rejected key, or no time.
    """
    if isinstance(exc, OdooNotSentError | OdooAuthError | OdooOutageError):
        return False
    if isinstance(exc, OdooUnreachableError):
        return went_through
    return True


def stops_sending(exc: OdooError) -> bool:
    """After this failure the batch sends nothing more (the connection, the key, no time left).

    Whoever it is charged to, the drain stops at it (or, out of its claims' lease
    only, claims anew): the batch's calls not made yet are given back unsent.
    """
    return isinstance(exc, OdooNotSentError | OdooAuthError | OdooUnreachableError)


def deferrable(exc: OdooError) -> bool:
    """A failure that may be the row's or the tenant's: a run of them decides which."""
    if isinstance(exc, OdooUnreachableError):
        return False
    return isinstance(exc, OdooTransientError | OdooAccessError)


def error_kind(exc: OdooError) -> str:
    """The kind a charged failure is recorded with (the admin filters by it)."""
    if getattr(exc, "candidates", None) is not None:  # several configs match the name
        return ErrorKind.AMBIGUOUS
    if isinstance(exc, OdooTransientError):
        return ErrorKind.TRANSIENT
    if isinstance(exc, OdooMovedCompanyError):
        return ErrorKind.MOVED_COMPANY
    if isinstance(exc, OdooMissingRecordError):
        return ErrorKind.MISSING
    if isinstance(exc, OdooValidationError):
        return ErrorKind.VALIDATION
    if isinstance(exc, OdooAccessError):
        return ErrorKind.ACCESS
    return ErrorKind.PERMANENT


def describe(exc: OdooError, claim: claims.Claim) -> str:
    """The error a charged row shows: Odoo's words, and what to do where that helps."""
    text = f"{type(exc).__name__}: {exc.message}"
    if isinstance(exc, OdooMovedCompanyError):
        text = exc.message  # where it is now, and what to do
    elif isinstance(exc, OdooMissingRecordError):
        text = (
            f"pos.config {claim.odoo_pos_config_id} was deleted in Odoo, so this register "
            "cannot be updated there. Archive registers in Odoo instead of deleting them; "
            "'Retry sync now' creates it in Odoo again. Odoo said: " + exc.message
        )
    elif isinstance(exc, OdooUnreachableError) and exc.outcome_unknown:
        text += " (the call may have reached Odoo; the next attempt reconciles)"
    return text


@dataclass(frozen=True)
class Failure:
    claim: claims.Claim
    error: OdooError
    duration_ms: int


class Held:
    """Failures of one kind on rows in a row, not charged yet: the next row tells whose they are."""

    def __init__(self, limit: int):
        self.limit = limit  # SYNC_SAME_FAILURE_LIMIT
        self.failures: list[Failure] = []

    def __bool__(self) -> bool:
        return bool(self.failures)

    def claims(self) -> list[claims.Claim]:
        return [f.claim for f in self.failures]

    def hold(self, failure: Failure) -> list[Failure]:
        """Hold one more; returns the failures it proves the rows' own (a run of another kind)."""
        proven = []
        if self.failures and type(self.failures[0].error) is not type(failure.error):
            proven = self.take()
        self.failures.append(failure)
        return proven

    def is_the_tenants(self, *, drain_over: bool = False, went_through: bool = False) -> bool:
        """The run held is the tenant's: long enough, or (at the drain's end) every row tried."""
        if drain_over:
            return len(self.failures) >= 2 and not went_through
        return len(self.failures) >= self.limit

    def take(self) -> list[Failure]:
        """Everything held, no longer held (to be charged, or given back)."""
        taken, self.failures = self.failures, []
        return taken

    def tenant_error(self) -> str:
        """What the tenant's outage says when the run held is the tenant's."""
        exc, rows = self.failures[-1].error, len(self.failures)
        if isinstance(exc, OdooAccessError):
            return (
                f"Odoo refused access on {rows} registers in a row (the integration user "
                f"may have lost its Point of Sale rights): {exc.message}"
            )
        return f"The same failure on {rows} registers in a row: {type(exc).__name__}: {exc.message}"
