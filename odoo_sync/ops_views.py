"""Endpoints for machines: health checks for a load balancer or systemd, and Prometheus metrics.

Not behind the admin login. Health answers say "ok" or why not in one line of
JSON, never a tenant's name or a secret. /metrics needs METRICS_TOKEN as a
bearer token; without that setting it does not exist (404).
"""

import hmac
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import Http404, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from odoo_sync import housekeeping
from odoo_sync.metrics import SyncCollector

# The beat tick is stale after this many periods (SYNC_TICK_SECONDS) without one.
BEAT_STALE_PERIODS = 2
# A worker answers the heartbeat that each tick sends (and beats at every drain); it may
# wait behind a drain, so it gets the overview's margin.
WORKER_STALE_PERIODS = housekeeping.ALIVE_TICK_PERIODS


def _answer(ok: bool, **fields) -> JsonResponse:
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", **fields}, status=200 if ok else 503
    )


def _database_down() -> JsonResponse | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return _answer(False, reason="database unreachable")
    return None


@never_cache
@require_safe
def healthz(request):
    """The web process: it answers, and the database does."""
    return _database_down() or _answer(True)


def _heartbeat(name: str, periods: int, what: str) -> JsonResponse:
    down = _database_down()
    if down:
        return down
    try:
        age = housekeeping.beat_age(name, now=timezone.now())
    except DatabaseError:
        return _answer(False, reason="database unreachable")
    limit = timedelta(seconds=settings.SYNC_TICK_SECONDS * periods)
    if age is None:
        return _answer(False, reason=f"no {what} recorded yet")
    age_s = round(age.total_seconds(), 1)
    if age > limit:
        return _answer(
            False, reason=f"last {what} {age_s:g} s ago (limit {limit.total_seconds():g} s)"
        )
    return _answer(True, age_seconds=age_s)


@never_cache
@require_safe
def healthz_beat(request):
    """Celery beat: the tick ran within the last two periods."""
    return _heartbeat("tick", BEAT_STALE_PERIODS, "tick")


@never_cache
@require_safe
def healthz_worker(request):
    """The workers: one answered a heartbeat recently."""
    return _heartbeat("worker", WORKER_STALE_PERIODS, "worker heartbeat")


@never_cache
@require_safe
def metrics(request):
    """Prometheus text format, computed from the database at each scrape."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = "Bearer"
        return response
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SyncCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
