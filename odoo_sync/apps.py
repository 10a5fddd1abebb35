from django.apps import AppConfig


class OdooSyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "odoo_sync"
