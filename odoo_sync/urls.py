"""The sync's machine endpoints (health, metrics), included at the site's root by config.urls."""

from django.urls import path

from odoo_sync import ops_views

urlpatterns = [
    path("healthz", ops_views.healthz, name="healthz"),
    path("healthz/beat", ops_views.healthz_beat, name="healthz-beat"),
    path("healthz/worker", ops_views.healthz_worker, name="healthz-worker"),
    path("metrics", ops_views.metrics, name="metrics"),
]
