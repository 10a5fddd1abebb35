"""The Odoo clients a worker process keeps between drains: one per tenant connection, bounded.

A drain takes its tenant's client and gives it back when it closes, so the
tenant's next drain in this process reuses its kept-alive connection (no new
TCP or TLS handshake) and its uid (no login). Clients are keyed by tenant and
connection revision: after an edit of the connection the old client is never
handed out again, and it is closed at the tenant's next drain. At most
`ODOO_CLIENT_POOL_SIZE` clients are kept, the least recently used closed
first, and none idle longer than `ODOO_CLIENT_IDLE_SECONDS` (less than the
keep-alive timeout of the usual proxies, so that a kept connection is not one
the server is closing just then; one idle longer is closed at the next take
or give-back). Thread-safe: a client taken is one drain's alone until it is
given back, so two drains never share one.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable

from django.conf import settings

from cafe.models import Tenant
from odoo_client.client import OdooClient


def _fingerprint(tenant: Tenant) -> str:
    """What a client was made from, as a digest: a kept client must match it (settings too)."""
    made_from = (
        tenant.odoo_url,
        tenant.odoo_db,
        tenant.odoo_login,
        tenant.odoo_api_key,
        tenant.odoo_protocol,
        settings.ODOO_CONNECT_TIMEOUT,
        settings.ODOO_READ_TIMEOUT,
        settings.ODOO_ALLOW_PRIVATE_URLS,
    )
    return hashlib.sha256(repr(made_from).encode()).hexdigest()


class ClientPool:
    """Idle clients by (tenant id, connection revision), least recently given back first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # key -> (client, fingerprint, given back at)
        self._idle: OrderedDict[tuple[int, int], tuple[OdooClient, str, float]] = OrderedDict()
        # What each client handed out was made for: (key, fingerprint).
        self._lent: weakref.WeakKeyDictionary[OdooClient, tuple] = weakref.WeakKeyDictionary()

    def take(self, tenant: Tenant, make: Callable[[], OdooClient]) -> OdooClient:
        """The tenant's kept client for its current connection, or a new one from `make`."""
        key = (tenant.pk, tenant.odoo_connection_revision)
        fingerprint = _fingerprint(tenant)
        now = time.monotonic()
        with self._lock:
            # A client of an earlier revision of this tenant's connection is never used again.
            mine = {k: self._idle.pop(k) for k in list(self._idle) if k[0] == tenant.pk}
            idle_too_long = self._sweep(now)
        _close(idle_too_long)
        kept = None
        if key in mine:
            client, made_from, since = mine.pop(key)
            if made_from == fingerprint and now - since < settings.ODOO_CLIENT_IDLE_SECONDS:
                kept = client
            else:
                mine[key] = (client, made_from, since)
        _close([client for client, _, _ in mine.values()])
        client = kept or make()
        with self._lock:
            self._lent[client] = (key, fingerprint)
        return client

    def give_back(self, tenant: Tenant, client: OdooClient) -> None:
        """Keep `client` for the tenant's next drain in this process, or close it (no room)."""
        key = (tenant.pk, tenant.odoo_connection_revision)
        with self._lock:
            made_for = self._lent.pop(client, None)
            if made_for is None or made_for[0] != key:
                closing = [client]  # not one of ours, or made for another connection
            else:
                replaced = self._idle.pop(key, None)
                self._idle[key] = (client, made_for[1], time.monotonic())
                closing = [replaced[0]] if replaced else []
                closing += self._sweep(time.monotonic())
                while len(self._idle) > max(settings.ODOO_CLIENT_POOL_SIZE, 0):
                    closing.append(self._idle.popitem(last=False)[1][0])
        _close(closing)

    def _sweep(self, now: float) -> list[OdooClient]:
        """Take out the clients idle too long (the oldest given back come first); under the lock."""
        swept = []
        while self._idle:
            _client, _made_from, since = next(iter(self._idle.values()))
            if now - since < settings.ODOO_CLIENT_IDLE_SECONDS:
                break
            swept.append(self._idle.popitem(last=False)[1][0])
        return swept

    def clear(self) -> None:
        """Close every kept client (tests, shutdown)."""
        with self._lock:
            clients = [client for client, _, _ in self._idle.values()]
            self._idle.clear()
        _close(clients)

    def forget(self) -> None:
        """Drop every kept client unclosed: a forked child must neither use its parent's
        sockets nor close them under the parent's feet."""
        self._lock = threading.Lock()
        self._idle = OrderedDict()
        self._lent = weakref.WeakKeyDictionary()

    def __len__(self) -> int:
        with self._lock:
            return len(self._idle)


def _close(clients: list[OdooClient]) -> None:
    for client in clients:
        client.close()


pool = ClientPool()
os.register_at_fork(after_in_child=pool.forget)
