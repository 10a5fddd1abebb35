"""A tenant's health as its drains see it: reachable, backing off after an outage, or paused.

Written only against the connection revision a drain logged in with, so a
late answer to old credentials cannot pause or back off a freshly fixed tenant.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cafe.models import Tenant
from odoo_sync import alerts
from odoo_sync.due import backoff_for
from odoo_sync.models import TenantIncident

log = logging.getLogger("odoo_sync")


def _same_connection(tenant_id: int, connection_revision: int):
    """The tenant row, only while its connection is the one a drain logged in with."""
    return Tenant.objects.filter(pk=tenant_id, odoo_connection_revision=connection_revision)


def record_tenant_reachable(
    tenant_id: int,
    *,
    connection_revision: int,
    uid: int,
    server_version: str | None = None,
    protocol: str | None = None,
) -> None:
    """Odoo answered this connection: remember when, the uid it answered for, and (after a
    login) the version and the protocol that logged in (None: leave them as they are).

    The uid is stored with the connection's revision: later drains of the same
    connection call with it instead of logging in (Tenant.known_odoo_uid). An
    outage is not ended here: an Odoo that accepts logins but fails every row
    is still down for this tenant (see `record_tenant_healthy`).
    """
    learned = {"odoo_server_version": server_version, "odoo_detected_protocol": protocol}
    _same_connection(tenant_id, connection_revision).update(
        odoo_last_contact_at=timezone.now(),
        odoo_uid=uid,
        odoo_uid_revision=connection_revision,
        **{name: value for name, value in learned.items() if value is not None},
    )


def record_companies(
    tenant_id: int, *, connection_revision: int, name: str, companies: list[dict]
) -> None:
    """What Odoo said of the login's companies: the tenant's company's name (or the default
    company's, with none chosen) and the list, for the admin; only for the same connection."""
    _same_connection(tenant_id, connection_revision).update(
        odoo_company_name=name[:200], odoo_companies=companies
    )


# "Last contact" is kept to the minute: a drain within a minute of the last one
# recorded writes nothing (a warm drain's one call should not cost an UPDATE too).
CONTACT_PRECISION = timedelta(minutes=1)


def record_tenant_contact(tenant: Tenant, *, connection_revision: int, uid: int) -> None:
    """Odoo took work from a drain that did not log in: its uid, and the time of contact.

    `tenant` is the row as the drain read it; nothing is written when it holds
    this uid already and a contact less than CONTACT_PRECISION ago.
    """
    recent = tenant.odoo_last_contact_at and (
        timezone.now() - tenant.odoo_last_contact_at < CONTACT_PRECISION
    )
    if recent and tenant.known_odoo_uid == uid:
        return
    record_tenant_reachable(tenant.pk, connection_revision=connection_revision, uid=uid)


# A tenant backing off after an outage: the one rule, as a query and for a row in hand.
IN_OUTAGE = (
    Q(odoo_unreachable_since__isnull=False)
    | Q(odoo_outage_failures__gt=0)
    | Q(odoo_next_attempt_at__isnull=False)
)


def in_outage(tenant: Tenant) -> bool:
    """`IN_OUTAGE` for a tenant already read (a drain's, at its start)."""
    return bool(
        tenant.odoo_unreachable_since or tenant.odoo_outage_failures or tenant.odoo_next_attempt_at
    )


def record_tenant_healthy(tenant_id: int, *, connection_revision: int) -> None:
    """Odoo did the work a drain asked of it: end any outage backoff of the tenant."""
    with transaction.atomic():
        ended = (
            _same_connection(tenant_id, connection_revision)
            .filter(IN_OUTAGE)
            .update(
                odoo_unreachable_since=None,
                odoo_outage_failures=0,
                odoo_next_attempt_at=None,
                odoo_last_error="",
            )
        )
        if ended:
            _end_incidents(tenant_id, TenantIncident.Kind.UNREACHABLE, "Odoo took work again")


def _open_incident(tenant_id: int, kind: str, reason: str, *, since) -> None:
    """Start an incident of this kind, or keep the open one (its reason becomes the latest)."""
    updated = TenantIncident.objects.filter(
        tenant_id=tenant_id, kind=kind, ended_at__isnull=True
    ).update(reason=reason[:2000])
    if not updated:
        TenantIncident.objects.create(
            tenant_id=tenant_id, kind=kind, reason=reason[:2000], started_at=since
        )


def _end_incidents(tenant_id: int, kind: str, ended_by: str) -> None:
    TenantIncident.objects.filter(tenant_id=tenant_id, kind=kind, ended_at__isnull=True).update(
        ended_at=timezone.now(), ended_by=ended_by[:200]
    )


def end_incidents_that_are_over(tenant: Tenant, *, ended_by: str) -> None:
    """Close the open incidents the tenant's row no longer shows (after a connection edit)."""
    if tenant.odoo_paused_at is None:
        _end_incidents(tenant.pk, TenantIncident.Kind.PAUSED, ended_by)
    if tenant.odoo_unreachable_since is None:
        _end_incidents(tenant.pk, TenantIncident.Kind.UNREACHABLE, ended_by)


def record_tenant_unreachable(
    tenant_id: int, *, connection_revision: int, error: str
) -> datetime | None:
    """Odoo could not be reached at login: the tenant backs off, its rows keep their attempts.

    The schedule's last step repeats for as long as the outage lasts; a tenant
    is never dead-lettered. Returns the next attempt time, or None when the
    connection was edited meanwhile (the edit already cleared the backoff).
    """
    now = timezone.now()
    with transaction.atomic():
        tenant = _same_connection(tenant_id, connection_revision).select_for_update().first()
        if tenant is None:
            return None
        tenant.odoo_outage_failures += 1
        tenant.odoo_unreachable_since = tenant.odoo_unreachable_since or now
        tenant.odoo_next_attempt_at = now + backoff_for(
            tenant.odoo_outage_failures, settings.SYNC_TENANT_BACKOFF_MINUTES
        )
        tenant.odoo_last_error = error[:2000]
        tenant.save(
            update_fields=[
                "odoo_outage_failures",
                "odoo_unreachable_since",
                "odoo_next_attempt_at",
                "odoo_last_error",
            ]
        )
        _open_incident(
            tenant_id, TenantIncident.Kind.UNREACHABLE, error, since=tenant.odoo_unreachable_since
        )
        if tenant.odoo_last_contact_at is None and tenant.odoo_outage_failures == 1:
            # An outage heals by itself; a tenant that never reached its Odoo is likely
            # mistyped, and its cafe has never synced: tell the operators.
            alerts.raise_alert(
                tenant_id,
                subject=f"{tenant.name} has never reached its Odoo",
                body=f"No register of {tenant.name} has reached its Odoo yet: its "
                f"connection has not worked once.\n\n{error}",
            )
    return tenant.odoo_next_attempt_at


def try_tenant_now(tenant_id: int, *, connection_revision: int) -> bool:
    """End a tenant's outage wait: its next drain may run at once (the outage stays shown)."""
    return bool(
        _same_connection(tenant_id, connection_revision)
        .filter(odoo_next_attempt_at__isnull=False)
        .update(odoo_next_attempt_at=None)
    )


def pause_tenant(tenant_id: int, *, connection_revision: int, reason: str) -> bool:
    """Odoo rejected the credentials: send nothing more until the connection is edited.

    False when the connection was edited after the drain logged in with it:
    the rejection was of the old credentials, so nothing is paused.
    """
    now = timezone.now()
    with transaction.atomic():
        paused = _same_connection(tenant_id, connection_revision).update(
            odoo_paused_at=now, odoo_paused_reason=reason[:2000]
        )
        if paused:
            _open_incident(tenant_id, TenantIncident.Kind.PAUSED, reason, since=now)
            name = Tenant.objects.filter(pk=tenant_id).values_list("name", flat=True).first()
            alerts.raise_alert(
                tenant_id,
                subject=f"{name} is paused: Odoo refused its connection",
                body=f"Nothing is sent to the Odoo of {name} until its connection is fixed.\n\n"
                f"{reason}",
            )
    return paused == 1
