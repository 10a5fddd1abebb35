"""The per-tenant drain lock: at most one drain of a tenant runs at a time (DESIGN property 1).

Redis (SET NX PX with a token, released and extended only by its holder) when
REDIS_URL is set; otherwise a lease on the tenant row, so the embedded default
needs no server. Both expire by themselves if the holder dies.

And the onboarding lock of one Odoo (`odoo_lock`): tenants sharing an Odoo
(`Tenant.odoo_database`) look up, link and record existing configs one drain at
a time, so two of them never take the same config (odoo_sync.linking).
"""

import hashlib
import uuid
from datetime import timedelta
from functools import lru_cache

import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from cafe.models import Tenant
from odoo_sync.models import OdooLock

# Delete / extend the key only if it still holds our token.
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
_EXTEND = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)


@lru_cache(maxsize=1)
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


class RedisTenantLock:
    def __init__(self, tenant_id: int, *, ttl_seconds: int, url: str, key: str = ""):
        self.key = key or f"regsync:drain-lock:{tenant_id}"
        self.token = uuid.uuid4().hex
        self.ttl_ms = int(ttl_seconds * 1000)
        self.client = _redis(url)

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def extend(self) -> bool:
        return bool(self.client.eval(_EXTEND, 1, self.key, self.token, self.ttl_ms))

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, self.token)


class DbTenantLock:
    def __init__(self, tenant_id: int, *, ttl_seconds: int):
        self.tenant_id = tenant_id
        self.token = uuid.uuid4()
        self.ttl = timedelta(seconds=ttl_seconds)

    def acquire(self) -> bool:
        now = timezone.now()
        free = Q(drain_locked_until__isnull=True) | Q(drain_locked_until__lt=now)
        taken = Tenant.objects.filter(free, pk=self.tenant_id).update(
            drain_lock_token=self.token, drain_locked_until=now + self.ttl
        )
        return taken == 1

    def extend(self) -> bool:
        mine = Tenant.objects.filter(pk=self.tenant_id, drain_lock_token=self.token)
        return mine.update(drain_locked_until=timezone.now() + self.ttl) == 1

    def release(self) -> None:
        Tenant.objects.filter(pk=self.tenant_id, drain_lock_token=self.token).update(
            drain_lock_token=None, drain_locked_until=None
        )


def tenant_lock(tenant_id: int, *, backend: str | None = None):
    backend = backend or settings.SYNC_LOCK_BACKEND
    ttl = settings.SYNC_CLAIM_SECONDS
    if backend == "redis":
        return RedisTenantLock(tenant_id, ttl_seconds=ttl, url=settings.REDIS_URL)
    return DbTenantLock(tenant_id, ttl_seconds=ttl)


class DbOdooLock:
    """`odoo_lock` on the embedded default: a lease on an OdooLock row, made on first use."""

    def __init__(self, key: str, *, ttl_seconds: int):
        self.key = key
        self.token = uuid.uuid4()
        self.ttl = timedelta(seconds=ttl_seconds)

    def acquire(self) -> bool:
        try:
            with transaction.atomic():
                OdooLock.objects.get_or_create(key=self.key)
        except IntegrityError:
            pass  # made by a drain of another tenant just now
        now = timezone.now()
        free = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
        taken = OdooLock.objects.filter(free, key=self.key).update(
            token=self.token, locked_until=now + self.ttl
        )
        return taken == 1

    def release(self) -> None:
        OdooLock.objects.filter(key=self.key, token=self.token).update(
            token=None, locked_until=None
        )


def odoo_lock(tenant: Tenant, *, backend: str | None = None):
    """The onboarding lock of the Odoo database `tenant` points at (`odoo_database`)."""
    backend = backend or settings.SYNC_LOCK_BACKEND
    ttl = settings.SYNC_CLAIM_SECONDS
    key = hashlib.sha256(repr(tenant.odoo_database).encode()).hexdigest()[:40]
    if backend == "redis":
        return RedisTenantLock(
            tenant.pk, ttl_seconds=ttl, url=settings.REDIS_URL, key=f"regsync:odoo-lock:{key}"
        )
    return DbOdooLock(key, ttl_seconds=ttl)
