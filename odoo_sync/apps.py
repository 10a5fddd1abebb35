"""The sync app: queues, drains, tasks and history of pushing registers to each tenant's Odoo."""

from django.apps import AppConfig


class OdooSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "odoo_sync"
    verbose_name = "Odoo sync"

    def ready(self) -> None:
        from odoo_sync.tasks import push_soon
        from registers.signals import registers_queued

        # An edit that queues a register pushes on commit; the tick is the net.
        registers_queued.connect(push_soon, dispatch_uid="odoo_sync.push_soon")
