"""An Odoo failure in an operator's words: one sentence on what is wrong and what to do.

`explain(exc, tenant)` gives that sentence and the technical detail for
support (Odoo's own text, the key removed, Odoo's internal hosts hidden).
Test connection shows both, the detail one click away; a drain that pauses a
tenant, or finds its Odoo unreachable, keeps the sentence as the reason the
tenant page and the overview show (the detail goes to the log).
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from cafe.models import Tenant
from odoo_client.errors import (
    Cause,
    OdooAccessError,
    OdooAuthError,
    OdooCompanyNotAllowedError,
    OdooConfigError,
    OdooError,
    OdooTransientError,
    OdooUnknownDatabaseError,
    OdooUnreachableError,
    hide_internal_hosts,
    redact,
)


@dataclass(frozen=True)
class Explanation:
    text: str  # for the operator: what is wrong, then what to do
    detail: str  # for support: the error's class and Odoo's own text


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _unreachable(exc: OdooUnreachableError, tenant: Tenant) -> str:
    url = tenant.odoo_url
    host = urlsplit(url).hostname or url
    running = "check the URL and that Odoo is running"
    by_cause = {
        Cause.REFUSED: f"Nothing answered at {url}: {running}.",
        Cause.NAME_UNKNOWN: f"The name {host!r} is not known on the internet: check the URL.",
        Cause.CONNECT_TIMEOUT: (
            f"Odoo at {url} did not answer within {_seconds(settings.ODOO_CONNECT_TIMEOUT)}: "
            f"{running}."
        ),
        Cause.READ_TIMEOUT: (
            f"Odoo at {url} took longer than {_seconds(settings.ODOO_READ_TIMEOUT)} to reply: "
            "it may be overloaded or restarting; try again in a few minutes."
        ),
        Cause.TLS: (
            f"The secure connection to {url} failed (its certificate could not be verified): "
            "check the URL, or ask whoever runs your Odoo to fix its certificate."
        ),
        Cause.PLAIN_HTTP: (
            f"{url} answered in plain HTTP, not HTTPS: check the URL (its port), "
            "or ask whoever runs your Odoo for its https address."
        ),
        Cause.LOST: (
            f"The connection to Odoo at {url} was cut before it replied: Odoo may be "
            "restarting; try again in a few minutes."
        ),
        Cause.HTTP_STATUS: (
            f"Odoo at {url} is overloaded or restarting (HTTP {exc.http_status}): "
            "try again in a few minutes."
        ),
        Cause.ODOO_DATABASE: (
            f"Odoo at {url} answered, but cannot reach its own database right now: "
            "ask whoever runs your Odoo to check it; regsync tries again by itself."
        ),
        Cause.FOREIGN_PAGE: (
            f"{url} answered with a web page instead of Odoo (a maintenance page, or a proxy "
            "or firewall in front of Odoo): check the URL, or ask whoever runs your Odoo."
        ),
    }
    return by_cause.get(exc.cause, f"Could not reach Odoo at {url}: {running}.")


def _sentence(exc: OdooError, tenant: Tenant) -> str:
    if isinstance(exc, OdooUnknownDatabaseError):
        return (
            f"Odoo at {tenant.odoo_url} has no database named {tenant.odoo_db!r}: "
            "check the database name (Odoo shows it on its login page's database selector)."
        )
    if isinstance(exc, OdooCompanyNotAllowedError):
        known = ", ".join(f"{c['name']} ({c['id']})" for c in tenant.odoo_companies)
        return (
            f"Odoo does not let the login {tenant.odoo_login!r} use company "
            f"{tenant.odoo_company_id}: give the user that company in Odoo (Settings > Users > "
            "Allowed Companies), or choose one of its companies here"
            + (f" ({known})." if known else " (Test connection lists them).")
        )
    if isinstance(exc, OdooAuthError):
        return (
            f"Odoo refused the login {tenant.odoo_login!r} with this API key: check the login, "
            "or create a new API key in Odoo (Preferences > Account Security) and save it here."
        )
    if isinstance(exc, OdooUnreachableError):
        return _unreachable(exc, tenant)
    if isinstance(exc, OdooConfigError):
        return (
            f"{tenant.odoo_url} does not look like an Odoo server regsync can talk to: check "
            "the URL (only the address, such as https://yourcafe.odoo.com, with no path)."
        )
    if isinstance(exc, OdooAccessError):
        return (
            f"The Odoo user {tenant.odoo_login!r} may not manage Point of Sale: give it "
            "Point of Sale / Administrator rights in Odoo."
        )
    if isinstance(exc, OdooTransientError):
        return "Odoo is busy right now: try again in a minute."
    return "Odoo answered with an error regsync did not expect: send the detail to support."


def explain(exc: OdooError, tenant: Tenant) -> Explanation:
    """What `exc` means for this tenant, in an operator's words, and the detail for support."""
    detail = f"{type(exc).__name__}: {exc.message}"
    if exc.http_status and exc.http_status != 200:
        detail += f" (HTTP {exc.http_status})"
    detail = hide_internal_hosts(redact(detail, [tenant.odoo_api_key]))
    return Explanation(text=redact(_sentence(exc, tenant), [tenant.odoo_api_key]), detail=detail)
