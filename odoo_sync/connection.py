"""The admin's "Test connection": log in to a tenant's Odoo and say what happened, never the key."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from cafe.models import Tenant
from cafe.services import clean_odoo_url
from odoo_client.companies import UserCompanies
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
    companies: tuple = ()  # the login's companies, [{"id", "name"}], its default first


@dataclass(frozen=True)
class CompanyCheck:
    """What Odoo says of a connection's companies, and whether the company chosen will do."""

    companies: list[dict]  # {"id", "name"}: the login's companies, its default first
    name: str  # the chosen company's name; with none chosen, the login's default company's
    error: str = ""  # why the choice will not do ("" when it will)

    def as_edit(self) -> dict:
        """For cafe.services: what the admin keeps of it."""
        return {"name": self.name, "list": self.companies}


def _listed(found: UserCompanies) -> list[dict]:
    ordered = sorted(found.companies, key=lambda c: c.id != found.default_id)
    return [{"id": c.id, "name": c.name} for c in ordered]


def _names(companies: list[dict]) -> str:
    return ", ".join(f"{c['name']} ({c['id']})" for c in companies)


def judge_company(found: UserCompanies, company_id: int | None, *, new: bool) -> CompanyCheck:
    """Whether `company_id` will do for a connection whose login has `found`'s companies.

    A company the login may not use will not. With none chosen, a login with several
    companies will not do for a new tenant (it would sync into whichever is the login's
    default and read every company's configs); a tenant saved before companies were known
    keeps its default company, and is told which that is.
    """
    companies = _listed(found)
    if company_id is not None:
        chosen = found.get(company_id)
        if chosen is None:
            return CompanyCheck(
                companies,
                "",
                f"The Odoo login may not use company {company_id}; its companies: "
                f"{_names(companies)}.",
            )
        return CompanyCheck(companies, chosen.name)
    default = found.default
    name = default.name if default else ""
    if found.several and new:
        return CompanyCheck(
            companies,
            name,
            f"This Odoo login may use several companies ({_names(companies)}): choose this "
            "cafe's company, so that its registers go there and it sees only its own.",
        )
    return CompanyCheck(companies, name)


def check_company(tenant: Tenant, company_id: int | None, *, new: bool) -> CompanyCheck | None:
    """Ask the tenant's Odoo (its connection as about to be saved) which companies its login
    may use, and judge `company_id` (`judge_company`). None when Odoo could not be asked
    (incomplete, unreachable, refused): nothing is known, so nothing is refused for it."""
    if _missing_parts(tenant):
        return None
    try:
        with client_for(tenant) as client:
            found = client.list_companies()
    except OdooError:
        return None  # Test connection says why; the save is not the place
    return judge_company(found, company_id, new=new)


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
            found = client.list_companies()
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
    check = judge_company(found, tenant.odoo_company_id, new=False)
    tenant_health.record_companies(
        tenant.pk,
        connection_revision=tenant.odoo_connection_revision,
        name=check.name,
        companies=check.companies,
    )
    message = f"Connected: Odoo {version} over {label}, login {tenant.odoo_login!r} accepted."
    return ConnectionReport(
        ok=not check.error,  # a company the login may not use: every call would be refused
        server_version=str(version),
        protocol=protocol,
        message=f"{message} {_company_sentence(tenant, found, check)}",
        companies=tuple(check.companies),
    )


def _company_sentence(tenant: Tenant, found: UserCompanies, check: CompanyCheck) -> str:
    """Which company the tenant's registers go to, and what to do if that is not right."""
    if tenant.odoo_company_id is not None:
        return check.error or f"Company: {check.name} ({tenant.odoo_company_id})."
    if found.several:
        return (
            f"No company chosen: registers go to {check.name}, the login's default company, "
            f"and every company's configs are seen. Its companies: {_names(check.companies)}; "
            "choose this cafe's in the connection form."
        )
    return f"Company: {check.name}."


test_odoo_connection.__test__ = False  # a name pytest would otherwise collect where imported
