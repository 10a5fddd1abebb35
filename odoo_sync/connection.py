"""The admin's "Test connection": log in to a tenant's Odoo and say what happened, never the key."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from cafe.models import Tenant
from cafe.services import clean_odoo_url
from odoo_client.errors import OdooError
from odoo_sync import tenant_health
from odoo_sync.drain import client_for
from odoo_sync.explain import explain

PROTOCOL_LABELS = {"xmlrpc": "XML-RPC", "json2": "JSON-2"}


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    server_version: str = ""
    protocol: str = ""
    message: str = ""  # for the operator: what happened, and what to do
    detail: str = ""  # for support: the error as Odoo gave it (no key, no internal hosts)


def _missing_parts(tenant: Tenant) -> list[str]:
    parts = {
        "URL": tenant.odoo_url,
        "database": tenant.odoo_db,
        "login": tenant.odoo_login,
        "API key": tenant.odoo_api_key,
    }
    return [label for label, value in parts.items() if not value]


def test_odoo_connection(tenant: Tenant) -> ConnectionReport:
    """Authenticate against the tenant's Odoo; report its version or, in words, why it failed.

    It neither pauses nor un-pauses the tenant (editing the connection does
    that); a success records the version and ends the wait of a tenant backing
    off after an outage. The API key is removed from every message.
    """
    missing = _missing_parts(tenant)
    if missing:
        return ConnectionReport(
            ok=False, message="The Odoo connection is incomplete: no " + ", no ".join(missing) + "."
        )
    try:
        clean_odoo_url(tenant.odoo_url)
    except ValidationError as exc:
        reason = " ".join(exc.message_dict.get("odoo_url", exc.messages))
        return ConnectionReport(ok=False, message=reason)

    try:
        with client_for(tenant) as client:
            uid = client.authenticate()
            version = client.version()["server_version"]
            protocol = client.protocol_in_use
    except OdooError as exc:
        explanation = explain(exc, tenant)
        return ConnectionReport(ok=False, message=explanation.text, detail=explanation.detail)
    tenant_health.record_tenant_reachable(
        tenant.pk,
        connection_revision=tenant.odoo_connection_revision,
        uid=uid,
        server_version=str(version),
        protocol=protocol if tenant.odoo_protocol == "auto" else "",
    )
    # Odoo answers again: a tenant backing off after an outage (or after every
    # row was refused access) tries at the next tick instead of waiting out
    # its backoff. Whether the outage is over is for that drain to show.
    tenant_health.try_tenant_now(tenant.pk, connection_revision=tenant.odoo_connection_revision)
    label = PROTOCOL_LABELS.get(protocol, protocol)
    return ConnectionReport(
        ok=True,
        server_version=str(version),
        protocol=protocol,
        message=f"Connected: Odoo {version} over {label}, login {tenant.odoo_login!r} accepted.",
    )


test_odoo_connection.__test__ = False  # a name pytest would otherwise collect where imported
