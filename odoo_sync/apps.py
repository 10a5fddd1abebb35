"""The sync app: Odoo client, sandbox, queues, drains, tasks and history."""

from django.apps import AppConfig


class OdooSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "odoo_sync"
    verbose_name = "Odoo sync"
