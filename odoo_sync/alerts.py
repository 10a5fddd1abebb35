"""Mail to the operators when a tenant pauses or a register dead-letters, one per tenant per hour.

Raised where it happens (`tenant_health.pause_tenant`, `outcomes.mark_failed`),
sent by a task once that transaction commits, so a slow mail server never
holds a drain or a row lock. Alerts beyond the limit are dropped: the admin
shows everything; the mail is only the nudge to look.
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from cafe.models import Tenant
from odoo_sync.models import OperatorAlert

log = logging.getLogger("odoo_sync")


def raise_alert(tenant_id: int, *, subject: str, body: str) -> None:
    """Queue a mail to the operators once the current transaction commits (if alerts are on)."""
    if not settings.OPERATOR_ALERTS:
        return
    transaction.on_commit(
        lambda: send_operator_alert.apply_async(args=[tenant_id, subject, body], ignore_result=True)
    )


def operator_addresses() -> list[str]:
    users = get_user_model().objects.filter(is_active=True, is_superuser=True).exclude(email="")
    addresses = list(users.values_list("email", flat=True))
    addresses += [address for _, address in settings.ADMINS]
    return sorted(set(addresses))


@shared_task(name="odoo_sync.send_operator_alert", ignore_result=True)
def send_operator_alert(tenant_id: int, subject: str, body: str) -> bool:
    """Send unless this tenant had an alert within the interval; True when a mail went out."""
    recipients = operator_addresses()
    if not recipients:
        return False
    since = timezone.now() - timedelta(minutes=settings.OPERATOR_ALERT_INTERVAL_MINUTES)
    with transaction.atomic():
        # The tenant's row lock makes the check-and-record one step across workers.
        tenant = Tenant.objects.select_for_update().filter(pk=tenant_id).first()
        if tenant is None:
            return False
        if OperatorAlert.objects.filter(tenant_id=tenant_id, sent_at__gte=since).exists():
            log.info(
                "odoo_sync alert for tenant=%s not sent (one this hour): %s", tenant.slug, subject
            )
            return False
        OperatorAlert.objects.create(tenant=tenant, subject=subject[:300], sent_at=timezone.now())
    link = ""
    if settings.REGSYNC_BASE_URL:
        link = (
            "\n\n"
            + settings.REGSYNC_BASE_URL.rstrip("/")
            + reverse("admin:cafe_tenant_change", args=[tenant_id])
        )
    send_mail(
        f"[regsync] {subject}",
        body + link + "\n\n(At most one mail per tenant per hour; the admin shows everything.)",
        settings.DEFAULT_FROM_EMAIL,
        recipients,
        fail_silently=False,
    )
    return True
